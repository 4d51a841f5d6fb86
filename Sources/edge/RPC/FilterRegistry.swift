import Chain
import Dispatch
import ChainIndex
import Glibc
import Synchronization

/// Installed eth_newFilter / eth_newBlockFilter filters, fed by the node's chain events.
/// Each poll with eth_getFilterChanges returns what arrived since the previous one:
/// block hashes, or matching logs (reorged-out logs again with "removed": true).
/// Filters live in this node's memory only (as in geth): a client polling through a
/// load balancer must stick to one node. Unpolled filters expire.
public final class FilterRegistry: Sendable {
    public static let expiryMillis: UInt64 = 5 * 60 * 1000
    public static let maxFilters = 10_000
    /// One caller's share of `maxFilters`.
    public static let maxFiltersPerCaller = 1_000

    enum Kind: Sendable { case blocks, logs(LogQuery) }
    struct Filter: Sendable {
        let kind: Kind
        let caller: String
        var pending: [JSONValue] = []
        var lastPollMillis: UInt64
        /// Events published before the filter was installed are not its changes.
        let since: UInt64
    }

    let index: ChainIndex
    let chainId: UInt64
    let maxBlockRange: UInt64
    let maxResults: Int
    private let filters = Mutex<[String: Filter]>([:])
    private let events = ChainEventQueue(label: "rpc-filters")

    init(index: ChainIndex, chainId: UInt64, maxBlockRange: UInt64, maxResults: Int, feed: ChainFeed?) {
        self.index = index
        self.chainId = chainId
        self.maxBlockRange = maxBlockRange
        self.maxResults = maxResults
        events.start(feed) { [weak self] batch, seq in self?.consume(batch, seq: seq) }
    }

    public var count: Int { filters.withLock { $0.count } }

    func newBlockFilter(_ p: RPCParams) throws -> JSONValue { try install(.blocks, caller: p.caller) }

    func newLogFilter(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 1)
        return try install(.logs(try LogQuery(try p.required(0, "filter"))), caller: p.caller)
    }

    private func install(_ kind: Kind, caller: String) throws -> JSONValue {
        let id = "0x" + Hex.encodeBare((0..<16).map { _ in UInt8.random(in: 0...255) })
        let now = Self.nowMillis()
        try filters.withLock { fs in
            Self.expire(&fs, now: now)
            guard fs.count < Self.maxFilters else { throw RPCError.limitExceeded("this node already holds \(Self.maxFilters) filters; uninstall some first") }
            guard fs.values.lazy.filter({ $0.caller == caller }).count < Self.maxFiltersPerCaller else {
                throw RPCError.limitExceeded("this API key already holds \(Self.maxFiltersPerCaller) filters on this node; uninstall some first")
            }
            fs[id] = Filter(kind: kind, caller: caller, lastPollMillis: now, since: events.published)
        }
        return .string(id)
    }

    func changes(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 1)
        let id = try Self.filterId(p)
        let now = Self.nowMillis()
        return .array(try filters.withLock { fs in
            Self.expire(&fs, now: now)
            guard var f = fs[id] else { throw RPCError.server("filter not found") }
            let out = f.pending
            f.pending = []
            f.lastPollMillis = now
            fs[id] = f
            return out
        })
    }

    func allLogs(_ p: RPCParams, api: EthAPI) throws -> JSONValue {
        try p.allow(atMost: 1)
        let id = try Self.filterId(p)
        let query: LogQuery? = filters.withLock { fs in
            if case .logs(let q)? = fs[id]?.kind { return q }
            return nil
        }
        guard let query else { throw RPCError.server("filter not found") }
        return .array(try api.logsJSON(query).map { try JSON.parse($0) })
    }

    func uninstall(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 1)
        let id = try Self.filterId(p)
        return .bool(filters.withLock { $0.removeValue(forKey: id) != nil })
    }

    static func filterId(_ p: RPCParams) throws -> String {
        guard let s = try p.required(0, "filterId").stringValue else { throw RPCError.invalidArgument(0, "filterId must be a hex string") }
        return s.lowercased()
    }

    private static func expire(_ fs: inout [String: Filter], now: UInt64) {
        fs = fs.filter { now &- $0.value.lastPollMillis < expiryMillis }
    }

    static func nowMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    // MARK: feed

    private func consume(_ events: [ChainEvent], seq: UInt64) {
        guard filters.withLock({ !$0.isEmpty }) else { return }
        for e in events {
            switch e {
            case .applied(let cid, let n, let hash) where cid == chainId:
                deliver(block: .string(hash.hex), logs: (try? index.view { try ChainEventQueue.logs(ofApplied: n, hash: hash, chain: cid, in: $0) }) ?? [], seq: seq)
            case .rewound(let cid, _, let removed) where cid == chainId:
                deliver(block: nil, logs: removed, seq: seq)
            default: continue
            }
        }
    }

    private func deliver(block: JSONValue?, logs: [JSONValue], seq: UInt64) {
        let cap = maxResults
        filters.withLock { fs in
            for (id, var f) in fs where f.since < seq {
                switch f.kind {
                case .blocks: if let block { f.pending.append(block) }
                case .logs(let q): f.pending += logs.filter { q.matches($0) && q.admitsBlock(of: $0) }
                }
                if f.pending.count > cap { f.pending.removeFirst(f.pending.count - cap) }
                fs[id] = f
            }
        }
    }
}
