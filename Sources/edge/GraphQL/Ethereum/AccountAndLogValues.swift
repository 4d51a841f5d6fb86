import Chain
import ChainIndex

/// `Account`: state at an indexed block (from the index's history, or the upstream's for an
/// account the index never saw), or the upstream's pending state (forwarded).
struct AccountValue: ObjectValue {
    enum Source { case indexed(UInt64), pending }
    let ctx: EthereumContext
    let address: String
    let source: Source
    var typeName: String { "Account" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        if field == "address" { return .leaf(.string(address.lowercased())) }
        guard let a = try? Address(hex: address.lowercased()) else { throw FieldFailure("invalid address \(address)") }
        switch source {
        case .indexed(let n):
            switch field {
            case "balance": return .leaf(.string(try ctx.account(.balance, a, at: n).quantity))
            case "transactionCount": return .int(try ctx.account(.nonce, a, at: n))
            case "code": return .leaf(.string(Hex.encode(try ctx.account(.code, a, at: n))))
            case "storage":
                guard let slot = arguments.bytes("slot"), let h = try? Hash32(slot) else { throw FieldFailure("invalid storage slot") }
                return .leaf(.string(try ctx.account(.storage(h), a, at: n).hex))
            default: return .null
            }
        case .pending:
            let at = JSONValue.string("pending")
            switch field {
            case "balance": return .leaf(try ctx.forward("eth_getBalance", [.string(a.hex), at]))
            case "transactionCount": return .leaf(try ctx.forward("eth_getTransactionCount", [.string(a.hex), at]))
            case "code": return .leaf(try ctx.forward("eth_getCode", [.string(a.hex), at]))
            case "storage": return .leaf(try ctx.forward("eth_getStorageAt", [.string(a.hex), .string(arguments.string("slot") ?? ""), at]))
            default: return .null
            }
        }
    }
}

/// `Log`, from a stored log object.
struct LogValue: ObjectValue {
    let ctx: EthereumContext
    let log: JSONObject
    var typeName: String { "Log" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "index": return log.long("logIndex")
        case "topics": return .list((log["topics"]?.arrayValue ?? []).map { .leaf($0) })
        case "data": return try log.required("data", of: "log")
        case "account":
            guard let a = log["address"]?.stringValue else { throw FieldFailure("the stored log has no address") }
            let n = arguments.uint64("block") ?? log.number("blockNumber") ?? 0
            return .object(AccountValue(ctx: ctx, address: a, source: .indexed(n)))
        case "transaction":
            guard let h = log["transactionHash"]?.stringValue, let hash = try? Hash32(hex: h),
                  let t = try TransactionValue.byHash(ctx, hash) else { throw FieldFailure("the log's transaction is not indexed") }
            return .object(t)
        default: return .null
        }
    }
}

/// `CallResult` and the forwarded simulations behind `call` and `estimateGas`.
struct CallResultValue: ObjectValue {
    let ctx: EthereumContext
    let request: JSONObject
    let block: JSONValue
    let data: JSONValue
    var typeName: String { "CallResult" }

    /// CallData (canonical hex / decimal forms) as a JSON-RPC transaction call object.
    static func callObject(_ data: JSONObject?) -> JSONObject {
        var o = JSONObject()
        for (k, v) in (data ?? JSONObject()).pairs where v != .null {
            switch k {
            case "gas": o["gas"] = .string(Hex.encodeQuantity(UInt64(v.numberText ?? "") ?? 0))
            case "data": o["input"] = v
            default: o[k] = v
            }
        }
        return o
    }

    static func call(_ ctx: EthereumContext, _ data: JSONObject?, block: JSONValue) throws -> Resolved {
        let request = callObject(data)
        let out = try ctx.forward("eth_call", [.object(request), block])
        return .object(CallResultValue(ctx: ctx, request: request, block: block, data: out))
    }

    static func estimate(_ ctx: EthereumContext, _ data: JSONObject?, block: JSONValue) throws -> Resolved {
        .leaf(try ctx.forward("eth_estimateGas", [.object(callObject(data)), block]))
    }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "data": return .leaf(data)
        // eth_call answers only data; a call that reverted would have failed the forward.
        case "status": return .int(1)
        case "gasUsed": return .leaf(try ctx.forward("eth_estimateGas", [.object(request), block]))
        default: return .null
        }
    }
}

/// `Pending`: the upstream's pending block, forwarded.
struct PendingValue: ObjectValue {
    let ctx: EthereumContext
    var typeName: String { "Pending" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        let pending = JSONValue.string("pending")
        switch field {
        case "transactionCount": return .leaf(try ctx.forward("eth_getBlockTransactionCountByNumber", [pending]))
        case "transactions":
            let b = try ctx.forward("eth_getBlockByNumber", [pending, .bool(true)])
            return .list((b["transactions"]?.arrayValue ?? []).compactMap {
                $0.objectValue.map { .object(TransactionValue(ctx: ctx, tx: $0, blockNumber: nil, index: nil)) }
            })
        case "account": return .object(AccountValue(ctx: ctx, address: arguments.string("address") ?? "", source: .pending))
        case "call": return try CallResultValue.call(ctx, arguments.object("data"), block: pending)
        case "estimateGas": return try CallResultValue.estimate(ctx, arguments.object("data"), block: pending)
        default: return .null
        }
    }
}

/// `SyncState`.
struct SyncStateValue: ObjectValue {
    let starting: UInt64, current: UInt64, highest: UInt64
    var typeName: String { "SyncState" }
    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "startingBlock": return .int(starting)
        case "currentBlock": return .int(current)
        case "highestBlock": return .int(highest)
        default: return .null
        }
    }
}

extension JSONValue {
    var numberText: String? { if case .number(let n) = self { return n }; return nil }
}
