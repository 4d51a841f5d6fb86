import Chain
import ChainIndex

/// `Block`: an indexed block, read from the stored eth_getBlockByNumber object.
struct BlockValue: ObjectValue {
    let ctx: EthereumContext
    let number: UInt64
    var typeName: String { "Block" }

    private func stored() throws -> JSONObject {
        guard let b = try ctx.block(number) else { throw FieldFailure("block \(number) is no longer indexed") }
        return b
    }

    private func transactions(_ b: JSONObject) -> [TransactionValue] {
        (b["transactions"]?.arrayValue ?? []).enumerated().compactMap { i, t in
            t.objectValue.map { TransactionValue(ctx: ctx, tx: $0, blockNumber: number, index: i) }
        }
    }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        let b = try stored()
        switch field {
        case "number": return .int(number)
        case "hash", "nonce", "transactionsRoot", "stateRoot", "receiptsRoot", "extraData", "logsBloom", "mixHash", "difficulty":
            return try b.required(field, of: "block")
        case "ommerHash": return try b.required("sha3Uncles", of: "block")
        case "totalDifficulty":
            guard b.has("totalDifficulty") else { throw FieldFailure("the upstream did not report totalDifficulty for block \(number)") }
            return b.raw("totalDifficulty")
        case "baseFeePerGas", "withdrawalsRoot": return b.raw(field)
        case "gasLimit", "gasUsed", "timestamp", "blobGasUsed", "excessBlobGas": return b.long(field)
        case "parent":
            guard number > 0, try ctx.block(number - 1) != nil else { return .null }
            return .object(BlockValue(ctx: ctx, number: number - 1))
        case "transactionCount": return .int(b["transactions"]?.arrayValue?.count ?? 0)
        case "transactions": return .list(transactions(b).map { .object($0) })
        case "transactionAt":
            let txs = transactions(b)
            guard let i = arguments.int("index"), i >= 0, i < txs.count else { return .null }
            return .object(txs[i])
        case "transactionsWhere":
            let from = arguments.string("from"), to = arguments.string("to")
            return .list(transactions(b).filter { t in
                (from == nil || t.tx["from"]?.stringValue?.lowercased() == from)
                    && (to == nil || t.tx["to"]?.stringValue?.lowercased() == to)
            }.map { .object($0) })
        case "miner":
            guard let a = b["miner"]?.stringValue else { throw FieldFailure("the stored block has no miner") }
            return .object(AccountValue(ctx: ctx, address: a, source: .indexed(arguments.uint64("block") ?? number)))
        case "account":
            return .object(AccountValue(ctx: ctx, address: arguments.string("address") ?? "", source: .indexed(number)))
        case "ommerCount": return .int(b["uncles"]?.arrayValue?.count ?? 0)
        case "ommers":
            guard (b["uncles"]?.arrayValue ?? []).isEmpty else { throw FieldFailure("ommer headers are not indexed") }
            return .list([])
        case "ommerAt":
            guard let i = arguments.int("index"), i >= 0, i < (b["uncles"]?.arrayValue?.count ?? 0) else { return .null }
            throw FieldFailure("ommer headers are not indexed")
        case "logs":
            let f = EthereumContext.filter(arguments.object("filter") ?? JSONObject(), from: number, to: number)
            return .list(try ctx.logs(f).compactMap { $0.objectValue.map { .object(LogValue(ctx: ctx, log: $0)) } })
        case "withdrawals":
            guard let ws = b["withdrawals"]?.arrayValue else { return .null }
            return .list(ws.compactMap { $0.objectValue.map { .object(WithdrawalValue(w: $0)) } })
        case "nextBaseFeePerGas": return try nextBaseFee(b)
        case "call": return try CallResultValue.call(ctx, arguments.object("data"), block: .string(Hex.encodeQuantity(number)))
        case "estimateGas":
            return try CallResultValue.estimate(ctx, arguments.object("data"), block: .string(Hex.encodeQuantity(number)))
        case "rawHeader":
            do { return .leaf(.string(Hex.encode(try Header(json: b).encoded))) } catch { throw FieldFailure("cannot encode the header: \(error)") }
        case "raw": return try raw(b)
        default: return .null
        }
    }

    /// The next block's stored base fee, or the EIP-1559 update rule applied to this block.
    private func nextBaseFee(_ b: JSONObject) throws -> Resolved {
        guard let feeText = b["baseFeePerGas"]?.stringValue, let fee = try? U256(quantity: feeText) else { return .null }
        if let next = try ctx.block(number + 1), let stored = next["baseFeePerGas"], stored != .null { return .leaf(stored) }
        guard let limit = b.number("gasLimit"), let used = b.number("gasUsed") else { return .null }
        let target = limit / 2
        guard target > 0 else { return .leaf(.string(fee.quantity)) }
        if used == target { return .leaf(.string(fee.quantity)) }
        let denominator = U256(UInt64(8))
        if used > target {
            let delta = fee * U256(used - target) / U256(target) / denominator
            return .leaf(.string((fee + (delta.isZero ? .one : delta)).quantity))
        }
        let delta = fee * U256(target - used) / U256(target) / denominator
        return .leaf(.string((fee - delta).quantity))
    }

    /// rlp([header, transactions, ommers, withdrawals?]).
    private func raw(_ b: JSONObject) throws -> Resolved {
        guard (b["uncles"]?.arrayValue ?? []).isEmpty else { throw FieldFailure("ommer headers are not indexed, so the block cannot be encoded") }
        do {
            let header = try Header(json: b).encoded
            let txs = try (b["transactions"]?.arrayValue ?? []).map { t -> [UInt8] in
                let tx = try Transaction(json: try t.object(at: "transaction"))
                // A typed transaction sits in the block as a byte string; a legacy one as its list.
                return tx.type == 0 ? tx.envelope : RLP.encode(bytes: tx.envelope)
            }
            var parts = [header, RLP.encodeList(encodedItems: txs), RLP.encodeList(encodedItems: [])]
            if let ws = b["withdrawals"]?.arrayValue {
                parts.append(RLP.encodeList(encodedItems: try ws.map { try Withdrawal(json: try $0.object(at: "withdrawal")).encoded }))
            }
            return .leaf(.string(Hex.encode(RLP.encodeList(encodedItems: parts))))
        } catch {
            throw FieldFailure("cannot encode block \(number): \(error)")
        }
    }
}

/// `Withdrawal`, from the block's stored withdrawal object.
struct WithdrawalValue: ObjectValue {
    let w: JSONObject
    var typeName: String { "Withdrawal" }
    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "index", "amount": return w.long(field)
        case "validator": return w.long("validatorIndex")
        case "address": return w.raw("address")
        default: return .null
        }
    }
}
