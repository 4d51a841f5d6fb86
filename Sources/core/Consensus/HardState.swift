/// The state that must survive a crash (Raft paper figure 2, "persistent state"), plus the
/// commit index, persisted so a restarted node does not re-learn what it already applied.
public struct HardState: Equatable, Sendable {
    public var term: UInt64
    public var vote: NodeID
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID = .none, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}
