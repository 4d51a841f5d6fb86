import Foundation
import Telemetry

/// What the Raft loop measures as it goes, on the node's registry: proposals by outcome and
/// their latency from the caller's hand-off to the outcome, and entries per durable write.
/// The handles are resolved once here, so the loop pays an atomic add per observation.
public final class ReplicationMetrics: Sendable {
    enum Outcome: String, CaseIterable { case applied, not_leader, rejected, unavailable, timed_out }

    private let outcomes: [Counter]
    let proposalSeconds: Histogram
    let readyEntries: Histogram

    /// Entries per durable write, in powers of two up to a large Ready.
    static let entryBuckets: [Double] = (0...12).map { Double(1 << $0) }

    public init(registry: MetricsRegistry) {
        let family = registry.counters("raft_proposals_total", help: "Proposals made on this node, by outcome",
                                       labels: [.allowed("outcome", Outcome.self)])
        outcomes = Outcome.allCases.map { family.labels([$0.rawValue]) }
        proposalSeconds = registry.histogram("raft_proposal_duration_seconds",
                                             help: "From a proposal's hand-off to the Raft loop until its outcome (applied here, refused or timed out)")
        readyEntries = registry.histogram("raft_ready_entries", help: "Log entries made durable per Ready that wrote any",
                                          buckets: Self.entryBuckets)
        precondition(outcomes.count == Outcome.allCases.count, "one counter per outcome")
    }

    func finished(_ outcome: ProposeOutcome, startedNanos: UInt64) {
        let kind: Outcome
        switch outcome {
        case .applied: kind = .applied
        case .notLeader: kind = .not_leader
        case .rejected: kind = .rejected
        case .unavailable: kind = .unavailable
        case .timedOut: kind = .timed_out
        }
        outcomes[Outcome.allCases.firstIndex(of: kind)!].increment()
        let now = DispatchTime.now().uptimeNanoseconds
        proposalSeconds.observe(Double(now &- startedNanos) / 1e9)
    }

    /// `entries` made durable by `readies` Readies that wrote any (a drain may carry out
    /// several; each is observed at their mean).
    func persisted(entries: UInt64, readies: UInt64) {
        guard readies > 0 else { return }
        precondition(entries >= readies, "a Ready that wrote entries wrote at least one")
        let each = Double(entries) / Double(readies)
        for _ in 0..<min(readies, 64) { readyEntries.observe(each) }
    }
}
