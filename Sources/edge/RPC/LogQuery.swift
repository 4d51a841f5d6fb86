import Chain
import ChainIndex

/// An eth_getLogs / eth_newFilter criteria object, parsed once and resolved against the
/// index when it runs (tags like "latest" move).
public struct LogQuery: Sendable {
    public var from: BlockSelector = .latest
    public var to: BlockSelector = .latest
    public var blockHash: Hash32?
    public var addresses: [Address] = []
    public var topics: [[Hash32]?] = []

    public init() {}

    public init(_ v: JSONValue, argument i: Int = 0) throws(RPCError) {
        guard let o = v.objectValue else { throw RPCError.invalidArgument(i, "filter must be an object") }
        let known: Set<String> = ["fromBlock", "toBlock", "blockHash", "address", "topics"]
        if let unknown = o.keys.first(where: { !known.contains($0) }) {
            throw RPCError.invalidArgument(i, "filter has an unknown field \(unknown)")
        }
        if let h = o["blockHash"], !h.isNull {
            if (o["fromBlock"].map { !$0.isNull } ?? false) || (o["toBlock"].map { !$0.isNull } ?? false) {
                throw RPCError.invalidArgument(i, "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
            }
            guard let s = h.stringValue, let hash = try? Hash32(hex: s) else { throw RPCError.invalidArgument(i, "blockHash must be a 32-byte hex hash") }
            blockHash = hash
        }
        if let f = o["fromBlock"], !f.isNull { from = try BlockSelector(f, argument: i, name: "fromBlock", allowHash: false) }
        if let t = o["toBlock"], !t.isNull { to = try BlockSelector(t, argument: i, name: "toBlock", allowHash: false) }
        switch o["address"] {
        case nil, .null?: break
        case .string(let s)?: addresses = [try RPCParams.address(s, argument: i, name: "address")]
        case .array(let a)?:
            addresses = try a.map { v throws(RPCError) in
                guard let s = v.stringValue else { throw RPCError.invalidArgument(i, "address list must hold hex strings") }
                return try RPCParams.address(s, argument: i, name: "address")
            }
        default: throw RPCError.invalidArgument(i, "address must be a hex string or a list of them")
        }
        if let t = o["topics"], !t.isNull {
            guard let positions = t.arrayValue else { throw RPCError.invalidArgument(i, "topics must be a list") }
            guard positions.count <= 4 else { throw RPCError.invalidArgument(i, "exceed max topics: a log has at most 4 topics") }
            topics = try positions.enumerated().map { (pos, v) throws(RPCError) -> [Hash32]? in
                func topic(_ x: JSONValue) throws(RPCError) -> Hash32 {
                    guard let s = x.stringValue, let h = try? Hash32(hex: s) else {
                        throw RPCError.invalidArgument(i, "topics[\(pos)] must hold 32-byte hex hashes")
                    }
                    return h
                }
                switch v {
                case .null: return nil
                case .array(let alts): return alts.isEmpty ? nil : try alts.map(topic)
                default: return [try topic(v)]
                }
            }
        }
    }

    /// The inclusive block range this query covers now, checked against the head and
    /// the node's range limit.
    func range(_ api: EthAPI, _ r: RequestView) throws -> ClosedRange<UInt64>? {
        if let blockHash {
            guard let n = try r.resolve(.hash(blockHash, requireCanonical: false)) else { throw RPCError.server("unknown block") }
            return n...n
        }
        guard let head = try r.head()?.number else { return nil }
        let lo = try r.resolve(from) ?? head
        let hi = try r.resolve(to) ?? head
        guard lo <= hi else { throw RPCError.invalidParams("invalid block range params") }
        guard hi <= head else { throw RPCError.invalidParams("block range extends beyond current head block") }
        guard hi - lo < api.config.maxLogBlockRange else {
            throw RPCError.limitExceeded("block range \(lo)…\(hi) spans \(hi - lo + 1) blocks; this node allows at most \(api.config.maxLogBlockRange) per query")
        }
        return lo...hi
    }

    func filter(_ r: ClosedRange<UInt64>) -> ChainIndex.LogFilter {
        ChainIndex.LogFilter(fromBlock: r.lowerBound, toBlock: r.upperBound, addresses: addresses, topics: topics)
    }

    /// Whether a log's block lies within explicit fromBlock/toBlock numbers (tags move
    /// with the chain, so they admit every new block), as geth applies them to filter changes.
    func admitsBlock(of log: JSONValue) -> Bool {
        guard let n = log["blockNumber"]?.stringValue.flatMap({ try? Hex.decodeQuantity($0) }) else { return true }
        if case .number(let lo) = from, n < lo { return false }
        if case .number(let hi) = to, n > hi { return false }
        if let blockHash, log["blockHash"]?.stringValue != blockHash.hex { return false }
        return true
    }

    func matches(_ log: JSONValue) -> Bool {
        if !addresses.isEmpty {
            guard let s = log["address"]?.stringValue, let a = try? Address(hex: s.lowercased()), addresses.contains(a) else { return false }
        }
        let have = (log["topics"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { try? Hash32(hex: $0) } }
        for (i, options) in topics.enumerated() {
            guard let options else { continue }
            guard i < have.count, options.contains(have[i]) else { return false }
        }
        return true
    }
}

extension EthAPI {
    func getLogs(_ p: RPCParams) throws -> [UInt8] {
        try p.allow(atMost: 1)
        let q = try LogQuery(try p.required(0, "filter"))
        return Self.array(try logsJSON(q))
    }

    /// The query's logs as they stand now: its range resolved and its logs read in one snapshot.
    func logsJSON(_ q: LogQuery) throws -> [[UInt8]] {
        try request { r in
            guard let range = try q.range(self, r) else { return [] }
            do { return try r.view.logsJSON(cid, q.filter(range), limit: config.maxLogResults) } catch is ChainIndex.TooManyResults {
                throw RPCError.limitExceeded("query returned more than \(config.maxLogResults) results; narrow the block range or add address/topic filters")
            }
        }
    }
}
