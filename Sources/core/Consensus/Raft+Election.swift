/// Elections: pre-vote, vote, leadership transfer (paper 5.2, thesis 3.10, 9.6).
extension Raft {
    enum CampaignKind {
        /// Ask whether we could win in term + 1 without changing any term.
        case preVote
        /// A normal election.
        case election
        /// An election the leader asked for (TimeoutNow); voters must not ignore it.
        case transfer
    }

    mutating func campaign(_ kind: CampaignKind) {
        let voteTerm: UInt64
        if kind == .preVote {
            role = .preCandidate
            leader = .none
            voteTerm = term + 1
        } else {
            setTerm(term + 1)
            setVote(id)
            role = .candidate
            leader = .none
            voteTerm = term
        }
        electionElapsed = 0
        resetRandomizedElectionTimeout()
        votes = [(id, true)]
        if tallyVotes() { return }
        for voter in confs.current.voters where voter != id {
            var request = Message(kind: kind == .preVote ? .requestPreVote : .requestVote, from: id, to: voter, term: voteTerm)
            request.index = log.lastIndex
            request.logTerm = log.lastTerm
            if kind == .transfer { request.context = Message.transferContext }
            send(request)
        }
    }

    /// The transport lost its connection to `peer` and could not redial it: what a follower
    /// sees when its leader's process died. If `peer` is our leader, stop treating it as
    /// alive — no lease, so the other followers' pre-votes are heard — and campaign within a
    /// few ticks instead of a whole election timeout (randomized, so followers that saw the
    /// same loss do not split the vote). A wrong report costs nothing: the pre-vote fails
    /// while the other voters still hear the leader, no term changes, and the leader's next
    /// heartbeat restores it here.
    mutating func leaderUnreachable(_ peer: NodeID) {
        guard role == .follower, peer != id, leader == peer else { return }
        leader = .none
        guard isPromotable else { return }
        let soon = 1 + rng.below(max(1, config.electionTicks / 2))
        electionElapsed = max(electionElapsed, randomizedElectionTimeout - soon)
        precondition(electionElapsed < randomizedElectionTimeout, "the campaign waits at least one tick")
        precondition(leader == .none, "an unreachable leader holds no lease")
    }

    mutating func handleVoteRequest(_ m: Message) {
        let isPreVote = m.kind == .requestPreVote
        // We may grant if we already voted for this candidate, or have not voted and know of
        // no leader in this term, or it is a pre-vote for a later term (no vote is recorded).
        let canVote = vote == m.from
            || (vote == .none && leader == .none)
            || (isPreVote && m.term > term)
        var reply = message(isPreVote ? .preVoteResponse : .voteResponse, to: m.from)
        if canVote && log.isUpToDate(lastIndex: m.index, lastTerm: m.logTerm) {
            // Answer in the term asked about, so the candidate counts it for that round.
            reply.term = m.term
            if !isPreVote {
                setVote(m.from)
                electionElapsed = 0
            }
        } else {
            reply.reject = true
        }
        send(reply)
    }

    /// Count a vote response; returns true once the round is decided.
    mutating func recordVote(_ m: Message) {
        if role == .preCandidate && !m.reject && m.term != term + 1 { return }
        if !votes.contains(where: { $0.voter == m.from }) {
            votes.append((m.from, !m.reject))
        }
        _ = tallyVotes()
    }

    /// Act on the votes so far. Returns true when the round ended (won or lost).
    mutating func tallyVotes() -> Bool {
        let conf = confs.current
        var granted = 0
        var rejected = 0
        for (voter, yes) in votes where conf.isVoter(voter) {
            if yes { granted += 1 } else { rejected += 1 }
        }
        if granted >= conf.quorum {
            if role == .preCandidate {
                campaign(.election)
            } else {
                becomeLeader()
            }
            return true
        }
        if rejected > conf.voters.count - conf.quorum {
            becomeFollower(term: term, leader: .none)
            return true
        }
        return false
    }

    /// Leader: hand leadership to `target` once its log is complete (thesis 3.10).
    mutating func transferLeadership(to target: NodeID) {
        guard role == .leader, target != id, confs.current.isVoter(target),
              let k = progressIndex(of: target) else { return }
        transferTarget = target
        // The transfer must finish within an election timeout or it is abandoned.
        electionElapsed = 0
        if progress[k].match == log.lastIndex {
            send(message(.timeoutNow, to: target))
        } else {
            sendAppend(progressAt: k)
        }
    }

    /// CheckQuorum: has a quorum of voters been heard from since the last check?
    func quorumRecentlyActive() -> Bool {
        let conf = confs.current
        var active = 0
        for pr in progress where conf.isVoter(pr.id) && (pr.recentActive || pr.id == id) { active += 1 }
        return active >= conf.quorum
    }
}
