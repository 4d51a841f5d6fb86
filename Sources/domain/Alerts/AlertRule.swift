import ByteCodec

/// What an alert watches. Chain metrics are judged per chain of the rule's organisation;
/// cluster metrics once for the whole cluster.
public enum AlertMetric: UInt8, Sendable, CaseIterable {
    /// Seconds the indexed head trails the upstream's (the leader's indexer), else the age of
    /// the applied head (its timestamp, or when it last moved).
    case lagSeconds = 1
    /// Blocks the indexed head trails the upstream's head.
    case lagBlocks = 2
    /// JSON-RPC calls answered with an error over the last minute, as a fraction of all calls,
    /// on every node together. No calls: no value (nothing fires).
    case errorRate = 3
    /// The 99th percentile of JSON-RPC call time over the last minute, every node together.
    case p99LatencyMs = 4
    /// Blocks the indexer refused (failed verification) since it started.
    case refusedBlocks = 5
    /// The cluster has no leader. Nobody can write an incident then, so every node notifies
    /// by itself (see `NoLeaderWatch`).
    case noLeader = 6
    /// Entries the furthest follower trails the leader's log by.
    case followerLagEntries = 7

    public var name: String {
        switch self {
        case .lagSeconds: "lag_seconds"
        case .lagBlocks: "lag_blocks"
        case .errorRate: "error_rate"
        case .p99LatencyMs: "p99_latency_ms"
        case .refusedBlocks: "refused_blocks"
        case .noLeader: "no_leader"
        case .followerLagEntries: "follower_lag_entries"
        }
    }

    public init?(name: String) { guard let m = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = m }

    public var perChain: Bool { self != .noLeader && self != .followerLagEntries }
}

public enum AlertComparison: UInt8, Sendable, CaseIterable {
    case above = 1, atLeast = 2, below = 3, atMost = 4
    public var symbol: String { switch self { case .above: ">"; case .atLeast: ">="; case .below: "<"; case .atMost: "<=" } }
    public func holds(_ value: Double, _ threshold: Double) -> Bool {
        switch self {
        case .above: value > threshold
        case .atLeast: value >= threshold
        case .below: value < threshold
        case .atMost: value <= threshold
        }
    }
}

/// `metric op threshold` (`lag_seconds > 30`, `error_rate >= 0.01`) or a bare condition
/// (`no_leader`), as the seed's data model writes them.
public struct AlertCondition: Equatable, Sendable {
    public var metric: AlertMetric
    public var comparison: AlertComparison
    public var threshold: Double

    public init(metric: AlertMetric, comparison: AlertComparison = .above, threshold: Double = 0) {
        self.metric = metric; self.comparison = comparison; self.threshold = threshold
    }

    public var text: String {
        metric == .noLeader ? metric.name : "\(metric.name) \(comparison.symbol) \(Self.number(threshold))"
    }

    public static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v) }

    public struct Problem: Error, Equatable, CustomStringConvertible { public let description: String }

    public static func parse(_ text: String) -> Result<AlertCondition, Problem> {
        let known = AlertMetric.allCases.map(\.name).joined(separator: ", ")
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let first = parts.first, let metric = AlertMetric(name: first) else {
            return .failure(Problem(description: "condition \(text.debugDescription.prefix(80)): the metric is one of \(known)"))
        }
        if metric == .noLeader {
            guard parts.count == 1 else { return .failure(Problem(description: "condition no_leader takes no comparison")) }
            return .success(AlertCondition(metric: .noLeader))
        }
        guard parts.count == 3, let op = AlertComparison.allCases.first(where: { $0.symbol == parts[1] }) else {
            return .failure(Problem(description: "condition \(text.debugDescription.prefix(80)): write it as \(metric.name) > N (or >=, <, <=)"))
        }
        guard let n = Double(parts[2]), n.isFinite, n >= 0 else {
            return .failure(Problem(description: "condition \(text.debugDescription.prefix(80)): the threshold is a number, 0 or more"))
        }
        if metric == .errorRate, n > 1 { return .failure(Problem(description: "condition: error_rate is a fraction (0.01 is 1 %), at most 1")) }
        return .success(AlertCondition(metric: metric, comparison: op, threshold: n))
    }

    public func holds(_ value: Double) -> Bool { comparison.holds(value, threshold) }
}

public enum AlertSeverity: UInt8, Sendable, CaseIterable {
    case info = 1, warning = 2, critical = 3
    public var name: String { switch self { case .info: "info"; case .warning: "warning"; case .critical: "critical" } }
    public init?(name: String) { guard let s = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = s }
}

/// Where an alert's notifications go: Slack's incoming webhook, PagerDuty's Events API v2
/// (the routing key in the URL's query, as webhooks take it), or any URL taking the JSON
/// envelope (an email gateway among them). Every one is signed like a webhook delivery.
public struct AlertChannel: Equatable, Sendable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        case slack = 1, pagerDuty = 2, webhook = 3
        public var name: String { switch self { case .slack: "slack"; case .pagerDuty: "pagerduty"; case .webhook: "webhook" } }
        public init?(name: String) { guard let k = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = k }
    }
    public var kind: Kind
    public var url: String
    public init(kind: Kind, url: String) { self.kind = kind; self.url = url }
}

/// One organisation's alert: a condition on one of its chains (or all of them, `chainId` 0)
/// or on the cluster, held for `forSeconds` before it fires, and the channels told when it
/// fires and when it resolves. A deleted rule stays as a tombstone so the resolved
/// notifications of its last incidents still have somewhere to go.
public struct AlertRule: Equatable, Sendable {
    public var id: UInt64
    public var org: UInt64
    public var chainId: UInt64
    public var name: String
    public var condition: AlertCondition
    public var forSeconds: UInt32
    public var severity: AlertSeverity
    public var channels: [AlertChannel]
    /// `whsec_…`: signs every notification (Standard Webhooks).
    public var secret: String
    public var deleted: Bool
    public var createdBy: UInt64
    public var createdMillis: UInt64

    public static let maxChannels = 8
    public static let maxForSeconds: UInt32 = 86_400

    public init(id: UInt64, org: UInt64, chainId: UInt64 = 0, name: String, condition: AlertCondition, forSeconds: UInt32 = 0,
                severity: AlertSeverity = .warning, channels: [AlertChannel], secret: String, createdBy: UInt64 = 0, createdMillis: UInt64 = 0) {
        self.id = id; self.org = org; self.chainId = chainId; self.name = name; self.condition = condition; self.forSeconds = forSeconds
        self.severity = severity; self.channels = channels; self.secret = secret; self.deleted = false
        self.createdBy = createdBy; self.createdMillis = createdMillis
    }

    func write(_ w: inout ByteWriter) {
        w.u64(id); w.u64(org); w.u64(chainId); w.string(name)
        w.u8(condition.metric.rawValue); w.u8(condition.comparison.rawValue); w.u64(condition.threshold.bitPattern)
        w.u32(forSeconds); w.u8(severity.rawValue)
        w.u32(UInt32(channels.count))
        for c in channels { w.u8(c.kind.rawValue); w.string(c.url) }
        w.string(secret); w.bool(deleted); w.u64(createdBy); w.u64(createdMillis)
    }

    static func read(_ r: inout ByteReader) throws(DecodeError) -> AlertRule {
        let id = try r.u64(), org = try r.u64(), chain = try r.u64(), name = try r.string()
        let m = try r.u8(), op = try r.u8(), threshold = Double(bitPattern: try r.u64())
        guard let metric = AlertMetric(rawValue: m), let comparison = AlertComparison(rawValue: op) else { throw DecodeError("alert rule: unknown condition \(m)/\(op)") }
        let forSeconds = try r.u32(), sev = try r.u8()
        guard let severity = AlertSeverity(rawValue: sev) else { throw DecodeError("alert rule: unknown severity \(sev)") }
        let n = try r.u32()
        guard n <= maxChannels else { throw DecodeError("alert rule: \(n) channels (at most \(maxChannels))") }
        var channels = [AlertChannel]()
        for _ in 0..<n {
            let k = try r.u8()
            guard let kind = AlertChannel.Kind(rawValue: k) else { throw DecodeError("alert rule: unknown channel kind \(k)") }
            channels.append(AlertChannel(kind: kind, url: try r.string()))
        }
        var rule = AlertRule(id: id, org: org, chainId: chain, name: name, condition: AlertCondition(metric: metric, comparison: comparison, threshold: threshold),
                             forSeconds: forSeconds, severity: severity, channels: channels, secret: try r.string())
        rule.deleted = try r.bool()
        rule.createdBy = try r.u64()
        rule.createdMillis = try r.u64()
        return rule
    }
}
