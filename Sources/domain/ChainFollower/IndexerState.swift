/// What the indexer is doing. Its description is the text /status has always shown under
/// `indexer.state` (operators and `infrastack status` read it); `kind` names the case alone,
/// stable for machines and metric labels.
public enum IndexerState: Sendable, Equatable, CustomStringConvertible {
    /// Not started yet.
    case idle
    /// A follower, or a leader still applying what it knows committed: only the leader ingests.
    case notLeader
    /// At the upstream's head, watching for the next block (and for a reorg of the head).
    case following
    /// Behind the upstream, fetching and proposing batches.
    case catchingUp
    /// A step failed; retried after a growing pause.
    case backoff(BackoffReason)
    /// Stopped until an operator acts (the indexer keeps checking, but proposes nothing).
    case halted(HaltReason)

    public enum BackoffReason: Sendable, Equatable, CustomStringConvertible {
        /// The upstream failed or answered something unusable.
        case upstream(String)
        /// The replicated log did not apply a proposal; the upstream was fine.
        case replicatedLog(ProposalNotApplied)

        public var description: String {
            switch self {
            case .upstream(let why): why
            case .replicatedLog(let e): e.description
            }
        }
    }

    public enum HaltReason: String, Sendable, Equatable {
        case wrongChainId = "wrong chain id"
        case reorgDeeperThanLimit = "reorg deeper than maxReorgDepth"
    }

    public enum Kind: String, Sendable, CaseIterable {
        case idle, notLeader, following, catchingUp, backoff, halted
    }

    public var kind: Kind {
        switch self {
        case .idle: .idle
        case .notLeader: .notLeader
        case .following: .following
        case .catchingUp: .catchingUp
        case .backoff: .backoff
        case .halted: .halted
        }
    }

    public var description: String {
        switch self {
        case .idle: "idle"
        case .notLeader: "standby (not leader)"
        case .following: "following"
        case .catchingUp: "ingesting"
        case .backoff(let why): "retrying: \(why)"
        case .halted(let why): "halted: \(why.rawValue)"
        }
    }
}
