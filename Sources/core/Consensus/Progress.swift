/// The leader's view of one follower's log (thesis 3.5 / etcd's Progress).
struct Progress {
    enum State: Equatable {
        /// Unknown match: one append at a time, waiting for its answer before the next.
        case probe
        /// Known match: appends are pipelined up to the flow-control window.
        case replicate
        /// Follower is behind the compacted log; a snapshot is being streamed to it.
        case snapshot
    }

    let id: NodeID
    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    /// In probe state: an append is outstanding, so wait (until a response or heartbeat).
    var probeSent = false
    /// Heard from this follower since the last CheckQuorum round.
    var recentActive = false
    /// Newest ReadIndex round this follower has acknowledged in the current term.
    var readRoundAcked: UInt64 = 0
    var inflights: Inflights
    /// Snapshot transfer: index of the snapshot being sent and next chunk offset.
    var snapshotIndex: UInt64 = 0
    var snapshotOffset = 0
    /// A chunk was acknowledged since the last heartbeat answer: the stream is moving, so
    /// the heartbeat need not resend one.
    var snapshotMoved = false

    init(id: NodeID, next: UInt64, config: RaftConfig) {
        self.id = id
        self.next = next
        inflights = Inflights(maxCount: config.maxInflightMessages, maxBytes: config.maxInflightBytes)
    }

    mutating func becomeProbe() {
        state = .probe
        probeSent = false
        inflights.reset()
        next = max(next, match + 1)
        if snapshotIndex > 0 {
            next = max(match + 1, snapshotIndex + 1)
            snapshotIndex = 0
        }
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        inflights.reset()
        snapshotIndex = 0
    }

    mutating func becomeSnapshot(index: UInt64) {
        state = .snapshot
        inflights.reset()
        snapshotIndex = index
        snapshotOffset = 0
        snapshotMoved = false
    }

    /// Record an acknowledgement up to `index`. Returns false if it told us nothing new.
    mutating func acknowledge(_ index: UInt64) -> Bool {
        var updated = false
        if index > match {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// Handle a rejected append for `rejected` (the prevIndex we sent), moving `next` back to
    /// `retry`. Returns false when the rejection is stale (answers an older message).
    mutating func backOff(rejected: UInt64, retry: UInt64) -> Bool {
        if state == .replicate {
            if rejected <= match { return false }
            becomeProbe()
            next = max(min(retry, rejected), match + 1)
            return true
        }
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(retry, rejected), match + 1)
        probeSent = false
        return true
    }

    /// Whether the leader must hold further appends to this follower for now.
    var isPaused: Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflights.isFull
        case .snapshot: return true
        }
    }
}
