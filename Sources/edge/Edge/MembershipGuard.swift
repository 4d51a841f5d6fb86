import Consensus

/// Decides whether a membership change may be proposed, from what the leader knows now.
/// Raft accepts any single-server change; this refuses the ones an operator (or a
/// stranger) almost certainly did not mean: promoting a node that was never added or
/// has not caught up, or a change after which the voters this leader can reach are no
/// longer a quorum — one more failure away from a cluster that cannot elect.
/// Pure: every input is a value, so each rule is tested on its own.
struct MembershipGuard {
    var voters: Set<UInt64>
    var learners: Set<UInt64>
    /// Members this leader can reach now (itself included).
    var reachable: Set<UInt64>
    /// Leader's match index per member (how far its log is known to agree).
    var match: [UInt64: UInt64]
    var lastIndex: UInt64
    /// A learner is caught up when it trails the leader's log by at most this many entries.
    var maxPromoteLag: UInt64 = 100

    /// nil when the change may go ahead; otherwise why not, for the caller.
    func refusal(_ change: ConfChange) -> String? {
        let id = change.node
        precondition(id > 0, "node ids are positive")
        precondition(voters.isDisjoint(with: learners), "a node is a voter or a learner, never both")
        switch change.kind {
        case .addLearner:
            if voters.contains(id) { return "node \(id) is already a voter" }
            if learners.contains(id) { return "node \(id) is already a learner" }
            return nil
        case .addVoter:
            if voters.contains(id) { return "node \(id) is already a voter" }
            guard learners.contains(id) else {
                return "node \(id) is not a learner of this cluster (voters: \(list(voters)); learners: \(list(learners))); add it first with POST /v1/cluster/members"
            }
            guard reachable.contains(id) else { return "learner \(id) is not connected to the leader; promote it once it is up" }
            let m = match[id] ?? 0
            guard m + maxPromoteLag >= lastIndex else {
                return "learner \(id) has not caught up: it has \(m) of \(lastIndex) entries (promote when it trails by at most \(maxPromoteLag))"
            }
            return quorumRefusal(after: voters.union([id]), "promoting \(id)")
        case .removeNode:
            if learners.contains(id) { return nil }
            guard voters.contains(id) else { return "node \(id) is not a member of this cluster (voters: \(list(voters)); learners: \(list(learners)))" }
            let after = voters.subtracting([id])
            if after.isEmpty { return "node \(id) is the last voter; a cluster needs at least one" }
            return quorumRefusal(after: after, "removing \(id)")
        }
    }

    private func quorumRefusal(after: Set<UInt64>, _ what: String) -> String? {
        let quorum = after.count / 2 + 1
        let up = after.intersection(reachable)
        if up.count >= quorum { return nil }
        return "\(what) would leave \(up.count) reachable of \(after.count) voters (\(list(up)) up), below a quorum of \(quorum); bring the others back first"
    }

    private func list(_ s: Set<UInt64>) -> String { s.isEmpty ? "none" : s.sorted().map(String.init).joined(separator: ",") }
}
