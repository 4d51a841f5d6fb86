import ByteCodec
import Chain
import Dispatch
import ChainIndex
import Synchronization
import Telemetry

/// eth_subscribe over WebSocket: `newHeads` and `logs`, fed by the node's chain events.
/// A reorg sends the undone logs again with `"removed": true`, then the new branch's.
/// Notifications go out through each subscriber's `send`, which must not block (the
/// WebSocket layer queues, and drops a client that stops reading).
public final class SubscriptionHub: Sendable {
    public static let maxPerConnection = 100
    public static let maxTotal = 10_000
    /// One caller's share of `maxTotal`, over all its connections.
    public static let maxPerCaller = 1_000

    public typealias Send = @Sendable (String) -> Void
    enum Kind: Sendable { case newHeads, logs(LogQuery) }
    struct Subscription: Sendable { let kind: Kind; let connection: UInt64; let caller: String; let since: UInt64; let send: Send }

    let index: ChainIndex
    let chainId: UInt64
    private let subscriptions = Mutex<[String: Subscription]>([:])
    private let events = ChainEventQueue(label: "rpc-subscriptions")

    init(index: ChainIndex, chainId: UInt64, feed: ChainFeed?) {
        self.index = index
        self.chainId = chainId
        events.start(feed) { [weak self] batch, seq in self?.consume(batch, seq: seq) }
    }

    public var count: Int { subscriptions.withLock { $0.count } }

    /// eth_subscribe for one connection; returns the subscription id.
    public func subscribe(_ p: RPCParams, connection: UInt64, send: @escaping Send) throws -> JSONValue {
        try p.allow(atMost: 2)
        guard let name = try p.required(0, "subscription").stringValue else { throw RPCError.invalidArgument(0, "subscription must be a string") }
        let kind: Kind
        switch name {
        case "newHeads":
            kind = .newHeads
        case "logs":
            let q = try p.optional(1).map { try LogQuery($0, argument: 1) } ?? LogQuery()
            guard q.blockHash == nil, q.from == .latest, q.to == .latest else {
                throw RPCError.invalidArgument(1, "a logs subscription follows new blocks; it takes address and topics only")
            }
            kind = .logs(q)
        case "newPendingTransactions":
            throw RPCError.server("newPendingTransactions is not supported: this node serves committed blocks and has no mempool")
        default:
            throw RPCError.invalidArgument(0, "unknown subscription \(boundedQuote(name)) (this node offers newHeads and logs)")
        }
        let id = "0x" + Hex.encodeBare((0..<16).map { _ in UInt8.random(in: 0...255) })
        try subscriptions.withLock { subs in
            guard subs.count < Self.maxTotal else { throw RPCError.limitExceeded("this node already serves \(Self.maxTotal) subscriptions") }
            guard subs.values.filter({ $0.connection == connection }).count < Self.maxPerConnection else {
                throw RPCError.limitExceeded("at most \(Self.maxPerConnection) subscriptions per connection")
            }
            guard subs.values.lazy.filter({ $0.caller == p.caller }).count < Self.maxPerCaller else {
                throw RPCError.limitExceeded("this API key already holds \(Self.maxPerCaller) subscriptions on this node")
            }
            subs[id] = Subscription(kind: kind, connection: connection, caller: p.caller, since: events.published, send: send)
        }
        return .string(id)
    }

    public func unsubscribe(_ p: RPCParams, connection: UInt64) throws -> JSONValue {
        try p.allow(atMost: 1)
        guard let id = try p.required(0, "subscriptionId").stringValue?.lowercased() else { throw RPCError.invalidArgument(0, "subscriptionId must be a hex string") }
        return .bool(subscriptions.withLock { subs in
            guard subs[id]?.connection == connection else { return false }
            subs[id] = nil
            return true
        })
    }

    /// Drops every subscription of a closed connection.
    public func connectionClosed(_ connection: UInt64) {
        subscriptions.withLock { subs in subs = subs.filter { $0.value.connection != connection } }
    }

    static let headerOnlyOmits: Set<String> = ["transactions", "uncles", "withdrawals", "size", "totalDifficulty"]

    private func consume(_ events: [ChainEvent], seq: UInt64) {
        let subs = subscriptions.withLock { $0 }.filter { $0.value.since < seq }
        guard !subs.isEmpty else { return }
        let wantsHeads = subs.values.contains { if case .newHeads = $0.kind { return true }; return false }
        let wantsLogs = subs.values.contains { if case .logs = $0.kind { return true }; return false }
        for e in events {
            switch e {
            case .applied(let cid, let n, let hash) where cid == chainId:
                // The header and the logs from one snapshot; both are checked against the event's hash,
                // so a block a later rewind already replaced sends nothing (the rewind's events follow).
                let (block, logs) = (try? index.view { v in
                    (wantsHeads ? try v.block(cid, number: n, fullTransactions: false)?.objectValue : nil,
                     wantsLogs ? try ChainEventQueue.logs(ofApplied: n, hash: hash, chain: cid, in: v) : [])
                }) ?? (nil, [])
                if let b = block, b["hash"]?.stringValue == hash.hex {
                    var header = JSONObject()
                    for (k, v) in b.pairs where !Self.headerOnlyOmits.contains(k) { header[k] = v }
                    for (id, s) in subs { if case .newHeads = s.kind { s.send(Self.notification(id, .object(header))) } }
                }
                if wantsLogs { deliver(logs, subs) }
            case .rewound(let cid, _, let removed) where cid == chainId:
                if wantsLogs { deliver(removed, subs) }
            default: continue
            }
        }
    }

    private func deliver(_ logs: [JSONValue], _ subs: [String: Subscription]) {
        for (id, s) in subs {
            guard case .logs(let q) = s.kind else { continue }
            for l in logs where q.matches(l) { s.send(Self.notification(id, l)) }
        }
    }

    static func notification(_ id: String, _ result: JSONValue) -> String {
        "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"" + id + "\",\"result\":" + JSON.serialize(result) + "}}"
    }
}
