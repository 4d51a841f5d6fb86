/// Why the core refused a proposal. Refusals are immediate; an accepted proposal may still be
/// lost if leadership changes before it commits, so clients must wait for it to be applied.
public enum ProposalError: Error, Equatable, Sendable {
    /// Only the leader accepts proposals; `leaderHint` is the leader this node knows of.
    case notLeader(leaderHint: NodeID)
    /// The leader is handing leadership over and accepts nothing until that ends.
    case transferInProgress
    /// A membership change is already uncommitted, or the leader has not yet committed an
    /// entry of its own term (see `ConfChange`).
    case confChangeInProgress
    /// The change would not change the configuration or is not allowed (e.g. no voters left).
    case invalidConfChange
}
