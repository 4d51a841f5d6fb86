import Chain
import ChainIndex

/// `Query`: the entry points, answered from the index (EVM and mempool fields forwarded).
struct QueryRoot: ObjectValue {
    let ctx: EthereumContext
    var typeName: String { "Query" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "block": return try block(arguments)
        case "blocks":
            guard let latest = try ctx.latest(), let earliest = try ctx.earliest() else { return .list([]) }
            let from = max(arguments.uint64("from") ?? earliest, earliest)
            let to = min(arguments.uint64("to") ?? latest, latest)
            guard from <= to else { return .list([]) }
            return .list((from...to).map { .object(BlockValue(ctx: ctx, number: $0)) })
        case "transaction":
            guard let h = arguments.bytes("hash"), let hash = try? Hash32(h) else { return .null }
            return try TransactionValue.byHash(ctx, hash).map { .object($0) } ?? .null
        case "logs":
            let f = arguments.object("filter") ?? JSONObject()
            guard let latest = try ctx.latest() else { return .list([]) }
            let from = f.uint64("fromBlock") ?? latest, to = f.uint64("toBlock") ?? latest
            guard from <= to else { throw FieldFailure("fromBlock \(from) is after toBlock \(to)") }
            return .list(try ctx.logs(EthereumContext.filter(f, from: from, to: to)).compactMap { $0.objectValue.map { .object(LogValue(ctx: ctx, log: $0)) } })
        case "pending": return .object(PendingValue(ctx: ctx))
        case "gasPrice": return .leaf(try ctx.forward("eth_gasPrice", []))
        case "maxPriorityFeePerGas": return .leaf(try ctx.forward("eth_maxPriorityFeePerGas", []))
        case "chainID": return .leaf(.string(Hex.encodeQuantity(ctx.chainId)))
        case "syncing": return try syncing()
        case "blocksPage": return try Pagination.blocks(ctx, first: arguments.int("first") ?? 20, after: arguments.string("after"))
        case "logsPage":
            return try Pagination.logs(ctx, filter: arguments.object("filter") ?? JSONObject(), first: arguments.int("first") ?? 100, after: arguments.string("after"))
        case "blockStats": return try BlockStatsValue.compute(ctx, from: arguments.uint64("from") ?? 0, to: arguments.uint64("to") ?? 0)
        default: return .null
        }
    }

    private func block(_ arguments: Arguments) throws -> Resolved {
        let number = arguments.uint64("number")
        let hash = arguments.bytes("hash").flatMap { try? Hash32($0) }
        if number != nil && hash != nil { throw FieldFailure("only one of number or hash may be given") }
        let n: UInt64?
        if let hash { n = try ctx.blockNumber(hash: hash) } else if let number { n = number } else { n = try ctx.latest() }
        guard let n, try ctx.block(n) != nil else { return .null }
        return .object(BlockValue(ctx: ctx, number: n))
    }

    /// Null when caught up; without an upstream to ask, null as well (unknown is not syncing).
    private func syncing() throws -> Resolved {
        guard let current = try ctx.latest(), let starting = try ctx.earliest() else { return .null }
        guard let upstream = try? ctx.forward("eth_blockNumber", []), let text = upstream.stringValue,
              let highest = try? Hex.decodeQuantity(text), highest > current else { return .null }
        return .object(SyncStateValue(starting: starting, current: current, highest: highest))
    }
}

/// `Mutation`: only sendRawTransaction, forwarded to the upstream.
struct MutationRoot: ObjectValue {
    let ctx: EthereumContext
    var typeName: String { "Mutation" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        guard field == "sendRawTransaction" else { return .null }
        return .leaf(try ctx.forward("eth_sendRawTransaction", [.string(arguments.string("data") ?? "0x")]))
    }
}

extension JSONObject {
    /// A canonical Long input field (a decimal number).
    func uint64(_ key: String) -> UInt64? { self[key]?.numberText.flatMap { UInt64($0) } }
}
