/// Log replication (paper 5.3): appends, pipelining with flow control, fast backtracking,
/// commitment by counting replicas of current-term entries.
extension Raft {
    // MARK: Leader side

    /// Append to our own log as leader. Our own progress advances only when the entry is
    /// persisted (`RawNode.advance`), so we never count an unsynced copy towards a quorum.
    mutating func appendAsLeader(_ entry: Entry) {
        precondition(role == .leader)
        log.append(entry)
        confs.record(entry)
        if entry.kind == .confChange { syncProgress() }
    }

    /// Make `progress` match the current configuration (members plus ourselves).
    mutating func syncProgress() {
        let conf = confs.current
        let selfID = id
        progress.removeAll { $0.id != selfID && !conf.isMember($0.id) }
        for member in conf.members + [id] where progressIndex(of: member) == nil {
            var pr = Progress(id: member, next: log.lastIndex + 1, config: config)
            if member == id {
                pr.match = log.unstableFrom - 1
                pr.state = .replicate
            }
            pr.recentActive = true
            progress.append(pr)
        }
    }

    mutating func broadcastAppend() {
        for k in progress.indices where progress[k].id != id { sendAppend(progressAt: k) }
    }

    /// Sends what proposals and commit advances since the last Ready left pending: one
    /// append per follower, carrying every new entry flow control allows and the commit index.
    mutating func flushAppends() {
        guard appendsPending else { return }
        appendsPending = false
        precondition(role == .leader, "only a leader has appends pending")
        broadcastAppend()
        precondition(!appendsPending, "sending appends leaves none pending")
    }

    mutating func broadcastHeartbeat() {
        for k in progress.indices where progress[k].id != id {
            var heartbeat = message(.heartbeat, to: progress[k].id)
            // Never tell a follower to commit beyond what it is known to hold.
            heartbeat.commit = min(progress[k].match, log.committed)
            heartbeat.context = readRound
            send(heartbeat)
        }
    }

    /// Send the next batch of entries to a follower if flow control allows; switch to a
    /// snapshot when the entries it needs were compacted. `allowEmpty` sends even with no
    /// new entries (to carry the commit index or probe).
    mutating func sendAppend(progressAt k: Int, allowEmpty: Bool = true) {
        if progress[k].isPaused { return }
        let prevIndex = progress[k].next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            startSnapshot(progressAt: k)
            return
        }
        let entries = log.slice(from: progress[k].next, through: log.lastIndex, maxBytes: config.maxMessageBytes)
        if entries.isEmpty && !allowEmpty { return }
        var append = message(.append, to: progress[k].id)
        append.index = prevIndex
        append.logTerm = prevTerm
        append.commit = log.committed
        append.entries = entries
        if let last = entries.last {
            if progress[k].state == .replicate {
                // Pipelining: assume success and keep sending within the window.
                progress[k].next = last.index + 1
                progress[k].inflights.add(lastIndex: last.index, bytes: append.byteSize)
            }
        }
        if progress[k].state == .probe { progress[k].probeSent = true }
        send(append)
    }

    mutating func handleAppendResponse(_ m: Message, progressAt k: Int) {
        if m.reject {
            // Fast backtracking (thesis 5.3 optimisation): if we hold the follower's
            // conflicting term, resume after our last entry of it; otherwise skip the
            // follower's whole conflicting term (or to the end of its shorter log).
            var retry = m.rejectHint
            if m.hintTerm > 0, let last = log.lastIndex(ofTerm: m.hintTerm) { retry = last + 1 }
            if progress[k].backOff(rejected: m.index, retry: retry) {
                sendAppend(progressAt: k)
            }
            return
        }
        let wasPaused = progress[k].isPaused
        guard progress[k].acknowledge(m.index) else {
            if wasPaused && !progress[k].isPaused { sendAppend(progressAt: k, allowEmpty: false) }
            return
        }
        switch progress[k].state {
        case .probe:
            progress[k].becomeReplicate()
        case .snapshot:
            if progress[k].match >= progress[k].snapshotIndex { progress[k].becomeReplicate() }
        case .replicate:
            progress[k].inflights.free(through: m.index)
        }
        if maybeCommit() {
            if role != .leader { return }  // committed our own removal and stepped down
            appendsPending = true
        } else {
            // Keep the pipeline full.
            while !progress[k].isPaused && progress[k].next <= log.lastIndex {
                let before = progress[k].next
                sendAppend(progressAt: k, allowEmpty: false)
                if progress[k].next == before { break }
            }
        }
        if progress[k].id == transferTarget && progress[k].match == log.lastIndex {
            send(message(.timeoutNow, to: transferTarget))
        }
    }

    mutating func handleHeartbeatResponse(_ m: Message, progressAt k: Int) {
        if progress[k].state == .probe { progress[k].probeSent = false }
        if progress[k].state == .replicate && progress[k].inflights.isFull {
            // The follower is alive but the whole window is unacknowledged: the appends or
            // their answers were lost. Fall back to probing from the known match.
            progress[k].becomeProbe()
            progress[k].next = progress[k].match + 1
        }
        if progress[k].state == .snapshot {
            // No chunk acknowledged for a whole heartbeat: it or its answer may have been
            // lost; resend the one the follower is waiting for.
            if progress[k].snapshotMoved {
                progress[k].snapshotMoved = false
            } else {
                sendSnapshotChunk(progressAt: k)
            }
        } else if progress[k].match < log.lastIndex {
            sendAppend(progressAt: k)
        }
        if m.context > progress[k].readRoundAcked {
            progress[k].readRoundAcked = m.context
            releaseConfirmedReads()
        }
    }

    /// Advance the commit index to the highest index replicated on a quorum of voters, but
    /// only if that entry is from the current term (paper 5.4.2, figure 8). Entries of
    /// earlier terms commit indirectly when a current-term entry after them commits.
    mutating func maybeCommit() -> Bool {
        let conf = confs.current
        var matches: [UInt64] = []
        matches.reserveCapacity(conf.voters.count)
        for pr in progress where conf.isVoter(pr.id) { matches.append(pr.match) }
        guard matches.count >= conf.quorum else { return false }
        matches.sort(by: >)
        let quorumIndex = matches[conf.quorum - 1]
        guard quorumIndex > log.committed, log.term(at: quorumIndex) == term else { return false }
        let firstCommitOfTerm = log.term(at: log.committed) != term
        log.commit(to: quorumIndex)
        if firstCommitOfTerm {
            let waiting = readsAwaitingTermCommit
            readsAwaitingTermCommit.removeAll()
            for read in waiting { handleReadRequest(from: read.requester, context: read.context) }
        }
        // A leader that committed its own removal steps down (thesis 4.2.2).
        if !conf.isVoter(id) && log.committed >= confs.lastChangeIndex {
            becomeFollower(term: term, leader: .none)
        }
        return true
    }

    // MARK: Follower side

    mutating func handleAppend(_ m: Message) {
        var reply = message(.appendResponse, to: m.from)
        if m.index < log.committed {
            // Everything up to our commit index is settled; tell the leader where we are.
            reply.index = log.committed
            send(reply)
            return
        }
        guard log.matches(index: m.index, term: m.logTerm) else {
            reply.reject = true
            reply.index = m.index
            if m.index > log.lastIndex {
                reply.rejectHint = log.lastIndex + 1
            } else {
                reply.hintTerm = log.term(at: m.index) ?? 0
                reply.rejectHint = log.firstIndex(ofTermAt: m.index)
            }
            send(reply)
            return
        }
        let newLast = m.index + UInt64(m.entries.count)
        for (position, entry) in m.entries.enumerated() {
            if let existing = log.term(at: entry.index) {
                if existing == entry.term { continue }
                precondition(role != .leader, "leader truncating its own log")
                log.truncate(from: entry.index)
                confs.truncate(from: entry.index)
            }
            for newEntry in m.entries[position...] {
                log.append(newEntry)
                confs.record(newEntry)
            }
            break
        }
        // Only what this message proved matches the leader may be committed.
        log.commit(to: min(m.commit, newLast))
        reply.index = newLast
        send(reply)
    }

    mutating func handleHeartbeat(_ m: Message) {
        log.commit(to: min(m.commit, log.lastIndex))
        var reply = message(.heartbeatResponse, to: m.from)
        reply.context = m.context
        send(reply)
    }
}
