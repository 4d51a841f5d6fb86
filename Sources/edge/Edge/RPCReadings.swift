import ByteCodec
import Synchronization
import Telemetry

/// Every node's JSON-RPC totals per chain, reported to the leader every few seconds over the
/// peer transport, so the alerts on `error_rate` and `p99_latency_ms` judge the whole
/// cluster's traffic (a balancer spreads it over every node), not the leader's share.
/// Reports are cumulative: a lost one costs nothing, and the window is the difference
/// between a node's newest report and its oldest within the window.
public final class RPCReadings: Sendable {
    public static let frameType: UInt8 = 4
    static let version: UInt8 = 1
    public static let reportMillis: UInt64 = 5000
    static let windowMillis: UInt64 = 60_000
    static let maxChains = 64

    struct Totals: Equatable, Sendable {
        var calls: UInt64
        var errors: UInt64
        var latency: HistogramSnapshot
    }

    private struct Sample { var at: UInt64; var totals: [UInt64: Totals] }
    private let samples = Mutex([UInt64: [Sample]]())

    public init() {}

    /// This node's totals per chain, from its registry (all methods together).
    static func totals(_ m: MetricsSnapshot) -> [UInt64: Totals] {
        var latency = [UInt64: HistogramSnapshot]()
        for s in m["rpc_request_duration_seconds"]?.series ?? [] where s.labels.count == 2 {
            guard let chain = UInt64(s.labels[0]), case .histogram(let h) = s.value else { continue }
            latency[chain] = latency[chain].map { $0.adding(h) ?? $0 } ?? h
        }
        var out = [UInt64: Totals]()
        for s in m["rpc_requests_total"]?.series ?? [] where s.labels.count == 3 {
            guard let chain = UInt64(s.labels[0]), case .counter(let n) = s.value else { continue }
            var t = out[chain] ?? Totals(calls: 0, errors: 0, latency: latency[chain] ?? HistogramSnapshot(empty: []))
            t.calls &+= n
            if s.labels[2] == "error" { t.errors &+= n }
            out[chain] = t
        }
        return out
    }

    static func encode(_ totals: [UInt64: Totals]) -> [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        let chains = totals.keys.sorted().prefix(maxChains)
        w.u32(UInt32(chains.count))
        for c in chains {
            let t = totals[c]!
            w.u64(c); w.u64(t.calls); w.u64(t.errors)
            w.u32(UInt32(t.latency.bounds.count))
            for b in t.latency.bounds { w.u64(b.bitPattern) }
            for n in t.latency.counts { w.u64(n) }
            w.u64(t.latency.sum.bitPattern)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> [UInt64: Totals] {
        var r = ByteReader(bytes, what: "rpc readings")
        let v = try r.u8()
        guard v == version else { throw DecodeError("rpc readings: version \(v) (this node reads \(version))") }
        let n = try r.u32()
        guard n <= maxChains else { throw DecodeError("rpc readings: \(n) chains (at most \(maxChains))") }
        var out = [UInt64: Totals]()
        for _ in 0..<n {
            let chain = try r.u64(), calls = try r.u64(), errors = try r.u64(), nb = try r.u32()
            guard nb <= 64 else { throw DecodeError("rpc readings: \(nb) histogram bounds") }
            let bounds = try (0..<nb).map { _ throws(DecodeError) in Double(bitPattern: try r.u64()) }
            guard zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }) else { throw DecodeError("rpc readings: bounds not ascending") }
            let counts = try (0...nb).map { _ throws(DecodeError) in try r.u64() }
            guard errors <= calls else { throw DecodeError("rpc readings: \(errors) errors of \(calls) calls") }
            out[chain] = Totals(calls: calls, errors: errors, latency: HistogramSnapshot(bounds: bounds, counts: counts, sum: Double(bitPattern: try r.u64())))
        }
        try r.expectEnd()
        return out
    }

    /// This node's totals now: what it reports (to the leader, or to itself when it leads).
    public func report(_ metrics: MetricsSnapshot, node: UInt64, leader: UInt64, nowMillis: UInt64) -> [UInt8]? {
        let totals = Self.totals(metrics)
        guard leader != node else { record(node: node, totals, nowMillis: nowMillis); return nil }
        return Self.encode(totals)
    }

    func record(node: UInt64, _ totals: [UInt64: Totals], nowMillis: UInt64) {
        samples.withLock { s in
            var list = s[node] ?? []
            list.append(Sample(at: nowMillis, totals: totals))
            list.removeAll { $0.at + Self.windowMillis + 2 * Self.reportMillis < nowMillis }
            s[node] = list
            // A node silent for two windows is gone (removed, or down): its traffic is not "now".
            for (id, l) in s where (l.last?.at ?? 0) + 2 * Self.windowMillis < nowMillis { s[id] = nil }
        }
    }

    public func receive(from peer: UInt64, _ payload: [UInt8], nowMillis: UInt64) throws(DecodeError) {
        record(node: peer, try Self.decode(payload), nowMillis: nowMillis)
    }

    struct Window: Equatable { var calls: UInt64; var errorRate: Double?; var p99Millis: Double? }

    /// Each chain's calls, error rate and p99 over the last window, every node together; nil
    /// until `node` (this one, leading) has two reports of its own: a new leader knows
    /// nothing of the traffic before it led, and the others report to it from then on.
    func window(nowMillis: UInt64, node: UInt64) -> [UInt64: Window]? {
        let warm = samples.withLock { s in (s[node]?.count ?? 0) >= 2 }
        guard warm else { return nil }
        let deltas: [UInt64: Totals] = samples.withLock { s in
            var sum = [UInt64: Totals]()
            for list in s.values {
                guard let newest = list.last, let oldest = list.first(where: { $0.at + Self.windowMillis >= newest.at }), oldest.at < newest.at else { continue }
                for (chain, n) in newest.totals {
                    let o = oldest.totals[chain]
                    // Counters that went down mean the node restarted: its newest totals are the window.
                    let restarted = o.map { $0.calls > n.calls } ?? false
                    let base = restarted ? nil : o
                    let counts = base.map { b in zip(n.latency.counts, b.latency.counts).map { $0 >= $1 ? $0 - $1 : 0 } } ?? n.latency.counts
                    let d = Totals(calls: n.calls - (base?.calls ?? 0), errors: n.errors >= (base?.errors ?? 0) ? n.errors - (base?.errors ?? 0) : 0,
                                   latency: base != nil && base!.latency.bounds == n.latency.bounds
                                    ? HistogramSnapshot(bounds: n.latency.bounds, counts: counts, sum: max(0, n.latency.sum - base!.latency.sum)) : n.latency)
                    if let have = sum[chain] {
                        sum[chain] = Totals(calls: have.calls + d.calls, errors: have.errors + d.errors, latency: have.latency.adding(d.latency) ?? have.latency)
                    } else {
                        sum[chain] = d
                    }
                }
            }
            return sum
        }
        return deltas.mapValues { t in
            assert(t.errors <= t.calls || t.calls == 0, "errors are calls")
            guard t.calls > 0 else { return Window(calls: 0, errorRate: nil, p99Millis: nil) }
            let p99 = MetricsHistory.quantile(0.99, t.latency.counts, t.latency.bounds).map { $0 * 1000 }
            return Window(calls: t.calls, errorRate: Double(t.errors) / Double(t.calls), p99Millis: p99)
        }
    }
}
