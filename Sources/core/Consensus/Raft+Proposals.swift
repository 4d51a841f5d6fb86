/// Client writes: application entries and membership changes, accepted only by the leader.
extension Raft {
    mutating func propose(_ data: [UInt8]) throws(ProposalError) -> UInt64 {
        guard role == .leader else { throw .notLeader(leaderHint: leader) }
        guard transferTarget == .none else { throw .transferInProgress }
        let index = log.lastIndex + 1
        appendAsLeader(Entry(term: term, index: index, kind: .normal, data: data))
        appendsPending = true
        return index
    }

    /// Single-server membership change (see `ConfChange` for why this is safe).
    mutating func proposeConfChange(_ change: ConfChange) throws(ProposalError) -> UInt64 {
        guard role == .leader else { throw .notLeader(leaderHint: leader) }
        guard transferTarget == .none else { throw .transferInProgress }
        // One change at a time, and only after an entry of this term has committed.
        guard confs.lastChangeIndex <= log.committed, log.term(at: log.committed) == term else {
            throw .confChangeInProgress
        }
        let current = confs.current
        let next = current.applying(change)
        guard next != current, !next.voters.isEmpty else { throw .invalidConfChange }
        let index = log.lastIndex + 1
        appendAsLeader(Entry(term: term, index: index, kind: .confChange, data: change.encoded()))
        appendsPending = true
        return index
    }
}
