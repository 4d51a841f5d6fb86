import Chain
import ChainIndex

/// Blocks, transactions and receipts: answered with the stored upstream JSON, so they
/// are byte-for-byte what the chain's node served. Missing things are JSON null. The
/// large answers are spliced from stored bytes (see `splicedMethods`).
extension EthAPI {
    static let null = Array("null".utf8)

    typealias Spliced = @Sendable (EthAPI) -> (RPCParams) throws -> [UInt8]
    static let splicedMethods: [String: Spliced] = [
        "eth_getBlockByNumber": { api in api.blockByNumber },
        "eth_getBlockByHash": { api in api.blockByHash },
        "eth_getTransactionByHash": { api in api.transactionByHash },
        "eth_getTransactionReceipt": { api in api.transactionReceipt },
        "eth_getBlockReceipts": { api in api.blockReceipts },
        "eth_getLogs": { api in api.getLogs },
    ]

    static func array(_ items: [[UInt8]]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(items.reduce(2) { $0 + $1.count + 1 })
        out.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += item
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    func blockByNumber(_ p: RPCParams) throws -> [UInt8] {
        try p.allow(atMost: 2)
        let sel = try p.block(0)
        if case .hash = sel { throw RPCError.invalidArgument(0, "block: expected a block number or tag, not a hash (use eth_getBlockByHash)") }
        let full = try p.bool(1, "fullTransactions")
        return try request { r in
            guard let n = try r.resolve(sel) else { return Self.null }
            return try r.view.blockJSON(cid, number: n, fullTransactions: full) ?? Self.null
        }
    }

    func blockByHash(_ p: RPCParams) throws -> [UInt8] {
        try p.allow(atMost: 2)
        let h = try p.hash(0, "blockHash")
        let full = try p.bool(1, "fullTransactions")
        return try request { r in
            guard let n = try r.resolve(.hash(h, requireCanonical: false)) else { return Self.null }
            return try r.view.blockJSON(cid, number: n, fullTransactions: full) ?? Self.null
        }
    }

    /// A number-or-hash block argument for the *ByNumber / *ByHash pairs.
    func blockArgument(_ p: RPCParams, _ i: Int) throws -> BlockSelector {
        let v = try p.required(i, "block")
        if let s = v.stringValue, s.utf8.count == 66 { return .hash(try p.hash(i, "blockHash"), requireCanonical: false) }
        return try BlockSelector(v, argument: i, name: "block")
    }

    func countInBlock(_ p: RPCParams, field: String) throws -> JSONValue {
        try p.allow(atMost: 1)
        let sel = try blockArgument(p, 0)
        return try request { r in
            guard let n = try r.resolve(sel), let b = try r.view.block(cid, number: n, fullTransactions: false) else { return .null }
            return .string(Hex.encodeQuantity(UInt64(b[field]?.arrayValue?.count ?? 0)))
        }
    }

    func transactionByHash(_ p: RPCParams) throws -> [UInt8] {
        try p.allow(atMost: 1)
        let h = try p.hash(0, "transactionHash")
        return try request { try $0.view.transactionJSON(cid, hash: h) } ?? Self.null
    }

    func transactionByBlockAndIndex(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 2)
        let i = try p.quantity(1, "index")
        let sel = try blockArgument(p, 0)
        return try request { r in
            guard let n = try r.resolve(sel), i <= UInt64(UInt32.max) else { return .null }
            return try r.view.transaction(cid, block: n, index: UInt32(i)) ?? .null
        }
    }

    func transactionReceipt(_ p: RPCParams) throws -> [UInt8] {
        try p.allow(atMost: 1)
        let h = try p.hash(0, "transactionHash")
        return try request { try $0.view.receiptJSON(cid, hash: h) } ?? Self.null
    }

    func blockReceipts(_ p: RPCParams) throws -> [UInt8] {
        try p.allow(atMost: 1)
        let sel = try p.block(0)
        return try request { r in
            guard let n = try r.resolve(sel) else { return Self.null }
            return try r.view.receiptsJSON(cid, block: n).map(Self.array) ?? Self.null
        }
    }
}
