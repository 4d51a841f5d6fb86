/// Linearizable reads without writing to the log (thesis 6.4, ReadIndex).
///
/// The leader records its commit index, then confirms it is still the leader by a round of
/// heartbeats acknowledged by a quorum; any write that completed before the read started is
/// at or below that index. The application then serves the read once it has applied up to
/// the index. A leader must first commit an entry of its own term: until then its commit
/// index may lag entries committed by its predecessor. No lease reads: they would rely on
/// bounded clock drift, and this core assumes nothing about clocks.
extension Raft {
    /// Request a read index on behalf of `context`. Returns false when no leader is known,
    /// so the caller should retry later.
    mutating func requestRead(context: UInt64) -> Bool {
        if role == .leader {
            handleReadRequest(from: id, context: context)
            return true
        }
        guard leader != .none else { return false }
        var forward = message(.readIndex, to: leader)
        forward.context = context
        send(forward)
        return true
    }

    mutating func handleReadRequest(from requester: NodeID, context: UInt64) {
        guard log.term(at: log.committed) == term else {
            readsAwaitingTermCommit.append((requester, context))
            return
        }
        let conf = confs.current
        if conf.voters == [id] {
            deliverRead(to: requester, context: context, index: log.committed)
            return
        }
        readRound += 1
        pendingReads.append(PendingRead(round: readRound, index: log.committed, requester: requester, context: context))
        broadcastHeartbeat()
    }

    /// Release every read whose round a quorum of voters has acknowledged.
    mutating func releaseConfirmedReads() {
        guard !pendingReads.isEmpty else { return }
        let conf = confs.current
        var acked: [UInt64] = []
        acked.reserveCapacity(conf.voters.count)
        for pr in progress where conf.isVoter(pr.id) { acked.append(pr.id == id ? readRound : pr.readRoundAcked) }
        guard acked.count >= conf.quorum else { return }
        acked.sort(by: >)
        let confirmed = acked[conf.quorum - 1]
        var released = 0
        while released < pendingReads.count && pendingReads[released].round <= confirmed {
            let read = pendingReads[released]
            deliverRead(to: read.requester, context: read.context, index: read.index)
            released += 1
        }
        pendingReads.removeFirst(released)
    }

    private mutating func deliverRead(to requester: NodeID, context: UInt64, index: UInt64) {
        if requester == id {
            readStates.append(ReadState(context: context, index: index))
        } else {
            var reply = message(.readIndexResponse, to: requester)
            reply.context = context
            reply.index = index
            send(reply)
        }
    }
}
