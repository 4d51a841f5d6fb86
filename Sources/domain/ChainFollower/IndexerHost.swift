/// What the indexer needs from the replicated node it runs in.
public protocol IndexerHost: AnyObject, Sendable {
    /// Leader, and applied everything it knows committed (so the index head is current).
    var mayIngest: Bool { get }
    /// Proposes a log entry and waits until it is applied here, or says what the log did instead.
    func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> ReplicationOutcome
    /// Proposes without waiting: `then` runs once with the outcome (on another thread; it
    /// must not block). Entries proposed one after another are applied in that order.
    func propose(_ entry: [UInt8], timeoutMillis: Int, then: @escaping @Sendable (ReplicationOutcome) -> Void)
}

extension IndexerHost {
    /// Hosts without an asynchronous path answer before returning.
    public func propose(_ entry: [UInt8], timeoutMillis: Int, then: @escaping @Sendable (ReplicationOutcome) -> Void) {
        then(proposeAndApply(entry, timeoutMillis: timeoutMillis))
    }
}

/// What the replicated log did with an indexer's proposal. Kept apart from upstream failures:
/// a refusal here says nothing about the upstream, and must not read as one in logs or /status.
public enum ReplicationOutcome: Sendable, Equatable, CustomStringConvertible {
    case applied
    /// Leadership moved; the new leader's indexer resumes from its own applied head.
    case notLeader(leader: UInt64)
    /// The log or the state machine refused the entry.
    case rejected(String)
    /// This node cannot take writes now (its disk refused one, or its state is corrupt).
    case unavailable(String)
    /// Not applied in time. It may still commit; apply skips a block that no longer extends the head.
    case timedOut(afterMillis: Int)

    public var description: String {
        switch self {
        case .applied: "applied"
        case .notLeader(let l): "not the leader (leader \(l))"
        case .rejected(let why), .unavailable(let why): why
        case .timedOut(let ms): "not applied within \(ms) ms"
        }
    }
}

/// A proposal the replicated log did not apply; the indexer backs off and tries again.
public struct ProposalNotApplied: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Proposal: String, Sendable {
        case blocks = "proposal"
        case rewind
    }
    public var proposal: Proposal
    public var outcome: ReplicationOutcome
    public var description: String { "\(proposal.rawValue) not applied: \(outcome)" }
}
