/// What the leader judges rules against in one round: each chain's metrics and the
/// cluster's, and who owns which chain. A missing value is "unknown" (a leader that has not
/// heard every node's traffic yet, a lag with no indexer running): it neither opens an
/// incident nor resolves one.
public struct AlertReadings: Sendable, Equatable {
    public var chains: [UInt64: [AlertMetric: Double]]
    public var cluster: [AlertMetric: Double]
    /// Chain → the organisation that owns it.
    public var owners: [UInt64: UInt64]

    public init(chains: [UInt64: [AlertMetric: Double]] = [:], cluster: [AlertMetric: Double] = [:], owners: [UInt64: UInt64] = [:]) {
        self.chains = chains; self.cluster = cluster; self.owners = owners
    }

    public func value(_ metric: AlertMetric, chain: UInt64) -> Double? {
        metric.perChain ? chains[chain]?[metric] : cluster[metric]
    }
}

/// The pure core of built-in alerting: given the rules, the incidents open now and this
/// round's readings, which incidents to open and which to resolve. A condition must hold
/// for the rule's `forSeconds` (across rounds; the time it started holding is kept here,
/// in the leader's memory, so a new leader starts counting again) before an incident opens;
/// it resolves in the first round the condition is known not to hold. It never opens a second
/// incident for a rule and subject with one open; apply refuses that too.
public struct AlertEvaluator: Sendable {
    struct Subject: Hashable { var rule: UInt64; var chain: UInt64 }
    private var holdingSince: [Subject: UInt64] = [:]

    public init() {}

    public enum Decision: Equatable, Sendable {
        case open(rule: UInt64, chainId: UInt64, value: Double, summary: String)
        case resolve(incident: UInt64, value: Double)
    }

    /// The subjects a rule is judged on: the cluster (chain 0), its one chain if its
    /// organisation owns it, or every chain its organisation owns.
    static func subjects(_ rule: AlertRule, _ owners: [UInt64: UInt64]) -> [UInt64] {
        guard rule.condition.metric.perChain else { return [0] }
        if rule.chainId != 0 { return owners[rule.chainId] == rule.org ? [rule.chainId] : [] }
        return owners.filter { $0.value == rule.org }.map(\.key).sorted()
    }

    public mutating func evaluate(rules: [AlertRule], open: [AlertIncident], readings: AlertReadings, nowMillis: UInt64) -> [Decision] {
        var decisions = [Decision]()
        var judged = Set<Subject>()
        let openBySubject = Dictionary(open.map { (Subject(rule: $0.rule, chain: $0.chainId), $0) }, uniquingKeysWith: { a, _ in a })
        for rule in rules where !rule.deleted && rule.condition.metric != .noLeader {
            for chain in Self.subjects(rule, readings.owners) {
                let s = Subject(rule: rule.id, chain: chain)
                judged.insert(s)
                guard let value = readings.value(rule.condition.metric, chain: chain) else {
                    holdingSince[s] = nil
                    continue
                }
                guard rule.condition.holds(value) else {
                    holdingSince[s] = nil
                    if let i = openBySubject[s] { decisions.append(.resolve(incident: i.id, value: value)) }
                    continue
                }
                let since = holdingSince[s] ?? nowMillis
                holdingSince[s] = since
                if openBySubject[s] == nil, nowMillis >= since + UInt64(rule.forSeconds) * 1000 {
                    decisions.append(.open(rule: rule.id, chainId: chain, value: value, summary: Self.summary(rule, chain: chain, value: value)))
                }
            }
        }
        // Incidents of rules or chains no longer judged (a chain changed hands) end too.
        for (s, i) in openBySubject where !judged.contains(s) && rules.contains(where: { $0.id == s.rule && $0.condition.metric != .noLeader }) {
            decisions.append(.resolve(incident: i.id, value: 0))
        }
        for s in holdingSince.keys where !judged.contains(s) { holdingSince[s] = nil }
        assert(holdingSince.keys.allSatisfy(judged.contains), "only judged subjects are remembered")
        return decisions
    }

    public static func summary(_ rule: AlertRule, chain: UInt64, value: Double) -> String {
        let c = rule.condition
        let on = chain == 0 ? "the cluster" : "chain \(chain)"
        return "\(rule.name): \(c.metric.name) is \(AlertCondition.number(rounded(value))) on \(on) (\(c.comparison.symbol) \(AlertCondition.number(c.threshold))"
            + (rule.forSeconds > 0 ? " for \(rule.forSeconds) s)" : ")")
    }

    public static func rounded(_ v: Double) -> Double { abs(v) >= 100 ? v.rounded() : (v * 10_000).rounded() / 10_000 }
}
