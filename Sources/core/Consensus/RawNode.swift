/// The application-facing Raft node, in the style of etcd's RawNode.
///
/// Single-threaded and synchronous: the caller feeds it time (`tick`), incoming messages
/// (`step`) and client requests, then drains a `Ready`, carries it out following the
/// durability rules documented on `Ready`, and calls `advance`. Nothing happens in between:
/// no I/O, clocks, threads or randomness beyond the seed in `RaftConfig`.
public struct RawNode: Sendable {
    var raft: Raft
    private var lastHardState: HardState
    private var readyOutstanding = false
    /// Upper bound on entries handed out for applying in one `Ready`.
    public var maxCommittedPerReady = 512

    public init(config: RaftConfig, restoringFrom persisted: PersistedState) {
        raft = Raft(config: config, hardState: persisted.hardState, snapshot: persisted.snapshot, entries: persisted.entries)
        lastHardState = persisted.hardState
        raft.checkInvariants()
    }

    // MARK: Inputs

    /// Advance logical time by one unit (election and heartbeat timers).
    public mutating func tick() {
        precondition(!readyOutstanding, "advance the previous Ready first")
        raft.tick()
        raft.checkInvariants()
    }

    /// Deliver a message from a peer. Messages addressed elsewhere are ignored.
    public mutating func step(_ message: Message) {
        precondition(!readyOutstanding, "advance the previous Ready first")
        guard message.to == raft.id else { return }
        raft.step(message)
        raft.checkInvariants()
    }

    /// Propose application data; returns the index it was appended at. The write is
    /// durable only once that index is applied with this data (leadership may change).
    public mutating func propose(_ data: [UInt8]) throws(ProposalError) -> UInt64 {
        precondition(!readyOutstanding, "advance the previous Ready first")
        return try raft.propose(data)
    }

    /// Propose a single-server membership change; see `ConfChange` for the rules.
    public mutating func proposeConfChange(_ change: ConfChange) throws(ProposalError) -> UInt64 {
        precondition(!readyOutstanding, "advance the previous Ready first")
        return try raft.proposeConfChange(change)
    }

    /// Start a linearizable read identified by `context`; its index arrives later in
    /// `Ready.readStates`. Returns false when no leader is known (retry later). A request
    /// may also be silently lost (message loss, leader change): clients need a timeout.
    public mutating func readIndex(context: UInt64) -> Bool {
        precondition(!readyOutstanding, "advance the previous Ready first")
        return raft.requestRead(context: context)
    }

    /// Start an election now instead of waiting for the timer (a pre-vote round first if
    /// configured). Ignored by leaders and by nodes that are not voters.
    public mutating func campaign() {
        precondition(!readyOutstanding, "advance the previous Ready first")
        guard raft.role != .leader, raft.isPromotable else { return }
        raft.campaign(raft.config.preVote ? .preVote : .election)
        raft.checkInvariants()
    }

    /// The transport could not reach `peer` again after its connection failed (a process
    /// that died closes its sockets). A follower whose leader that is campaigns within a
    /// few ticks instead of waiting out the election timeout; see `Raft.leaderUnreachable`.
    /// Anyone else ignores it. Safe to call on any report, true or not.
    public mutating func reportUnreachable(_ peer: NodeID) {
        precondition(!readyOutstanding, "advance the previous Ready first")
        raft.leaderUnreachable(peer)
        raft.checkInvariants()
    }

    /// Leader: hand leadership to `target` (which must be a voter). Proposals are refused
    /// until the transfer ends or is abandoned after an election timeout.
    public mutating func transferLeadership(to target: NodeID) {
        precondition(!readyOutstanding, "advance the previous Ready first")
        raft.transferLeadership(to: target)
    }

    /// The application has saved its state machine at `index` (≤ applied) as `data`. The
    /// log through `index` is dropped, and the returned snapshot (nil if `index` is not past
    /// the current one) becomes what far-behind followers are sent. The application
    /// persists the returned snapshot and may then delete its persisted entries through
    /// `index`.
    ///
    /// `data` nil compacts by reference: the application's durable state is the snapshot,
    /// nothing is copied, and the bytes are asked for through `wantsSnapshotData` only when
    /// a follower needs them — then pass them here (at the current applied index, or at the
    /// index of the snapshot held; the latter returns nil, as nothing new is to be persisted).
    @discardableResult
    public mutating func compact(index: UInt64, data: [UInt8]?) -> Snapshot? {
        precondition(!readyOutstanding, "advance the previous Ready first")
        let before = raft.log.snapshotIndex
        raft.compact(index: index, data: data)
        raft.checkInvariants()
        return raft.log.snapshotIndex > before ? raft.latestSnapshot : nil
    }

    /// A follower needs the snapshot, but only its reference is held: call `compact` with
    /// the bytes of the application's state at its applied index.
    public var wantsSnapshotData: Bool { raft.snapshotDataWanted }

    // MARK: Outputs

    public var hasReady: Bool {
        raft.hardState != lastHardState || raft.log.unstableFrom <= raft.log.lastIndex
            || raft.snapshotToInstall != nil || !raft.outbox.isEmpty || !raft.readStates.isEmpty
            || raft.log.committed > raft.log.applied || raft.appendsPending
    }

    public mutating func ready() -> Ready {
        precondition(!readyOutstanding, "advance the previous Ready first")
        readyOutstanding = true
        raft.flushAppends()
        let hardState = raft.hardState
        let rd = Ready(
            hardState: hardState != lastHardState ? hardState : nil,
            entries: Array(raft.log.unstableEntries),
            snapshot: raft.snapshotToInstall,
            messages: raft.outbox,
            committedEntries: Array(raft.log.committedUnapplied(maxCount: maxCommittedPerReady)),
            readStates: raft.readStates)
        raft.outbox.removeAll(keepingCapacity: true)
        raft.readStates.removeAll(keepingCapacity: true)
        return rd
    }

    /// The application carried out `rd` (persisted, sent, applied).
    public mutating func advance(_ rd: Ready) {
        precondition(readyOutstanding, "advance without a Ready")
        readyOutstanding = false
        if let hardState = rd.hardState { lastHardState = hardState }
        if let snapshot = rd.snapshot {
            raft.snapshotToInstall = nil
            raft.log.applied = max(raft.log.applied, snapshot.metadata.index)
        }
        if let last = rd.entries.last { raft.log.markStable(through: last.index) }
        if let last = rd.committedEntries.last { raft.log.applied = max(raft.log.applied, last.index) }
        if raft.role == .leader, let k = raft.progressIndex(of: raft.id) {
            // Our own copy counts towards a quorum only now that it is durable.
            _ = raft.progress[k].acknowledge(raft.log.unstableFrom - 1)
            if raft.maybeCommit() && raft.role == .leader { raft.appendsPending = true }
        }
        raft.checkInvariants()
    }

    // MARK: Observation

    public var status: NodeStatus {
        NodeStatus(
            id: raft.id, role: raft.role, term: raft.term, vote: raft.vote, leader: raft.leader,
            committed: raft.log.committed, applied: raft.log.applied, lastIndex: raft.log.lastIndex,
            snapshotIndex: raft.log.snapshotIndex, conf: raft.confs.current)
    }

    public var role: RaftRole { raft.role }
    public var currentTerm: UInt64 { raft.term }
    public var committedIndex: UInt64 { raft.log.committed }
    public var lastIndex: UInt64 { raft.log.lastIndex }
    public var snapshotIndex: UInt64 { raft.log.snapshotIndex }
    /// Follower: the snapshot being received from the leader, for progress reports.
    public var incomingSnapshot: (index: UInt64, receivedBytes: Int, totalBytes: Int)? {
        raft.incomingSnapshot.map { ($0.metadata.index, $0.data.count, $0.total) }
    }
    public var configuration: ConfState { raft.confs.current }

    /// Term of the entry at `index` in this node's log (nil if compacted or absent).
    public func term(at index: UInt64) -> UInt64? { raft.log.term(at: index) }
}

/// A read-only summary of a node, for monitoring and tests.
public struct NodeStatus: Sendable, Equatable {
    public var id: NodeID
    public var role: RaftRole
    public var term: UInt64
    public var vote: NodeID
    public var leader: NodeID
    public var committed: UInt64
    public var applied: UInt64
    public var lastIndex: UInt64
    public var snapshotIndex: UInt64
    public var conf: ConfState
}
