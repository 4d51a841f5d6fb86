/// Everything the core needs the application to do, collected since the last `advance`.
///
/// Durability rules — the application must follow them in this order:
/// 1. Persist `snapshot` (if any), then `entries`, then `hardState`, durably (fsync), or all
///    in one atomic transaction. Before appending `entries`, discard every persisted entry
///    at or after `entries.first.index` (a follower may be overwriting a conflicting
///    suffix); a `snapshot` replaces the whole persisted log up to its index, and any
///    persisted entry that does not follow it is discarded too.
/// 2. Only then send `messages`. They may promise what step 1 wrote: a vote response
///    promises the persisted vote, an append response promises persisted entries. Sending
///    one before the write is durable lets a crash break that promise (double votes, lost
///    commits). One relaxation is safe (thesis 10.2.1): a leader's `append` and
///    `heartbeat` messages may leave before its own write completes, because the core
///    counts the leader's own copy towards a quorum only at `advance`. It does not extend
///    to any other message kind, nor to a node that is not leader.
/// 3. Install `snapshot` into the state machine, then apply `committedEntries` in order.
///    They are committed, and persisted by step 1 at the latest.
/// 4. Serve each `readStates` read once the state machine has applied through its index.
/// 5. Call `RawNode.advance(_:)` with this value before calling anything else on the node.
public struct Ready: Sendable {
    /// New term / vote / commit, or nil if unchanged since the last `Ready`.
    public var hardState: HardState?
    /// Log entries to persist (see rule 1 on overwriting).
    public var entries: [Entry]
    /// A snapshot received from the leader, to persist and install.
    public var snapshot: Snapshot?
    /// Messages to send after persisting.
    public var messages: [Message]
    /// Entries to apply to the state machine, in order.
    public var committedEntries: [Entry]
    /// Completed ReadIndex requests.
    public var readStates: [ReadState]

    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && snapshot == nil && messages.isEmpty
            && committedEntries.isEmpty && readStates.isEmpty
    }
}

/// What a node restarts from: the durable outputs of every `Ready` it acknowledged.
public struct PersistedState: Sendable {
    public var hardState: HardState
    /// The newest snapshot (a snapshot at index 0 carries the bootstrap configuration).
    public var snapshot: Snapshot
    /// Entries after the snapshot, contiguous.
    public var entries: [Entry]

    public init(hardState: HardState, snapshot: Snapshot, entries: [Entry]) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    /// The state of each founding member of a new cluster of `voters`.
    ///
    /// The founding configuration is written into the log as committed configuration
    /// entries at term 1 (identical on every founder), not kept out of band: a server that
    /// joins later receives it from the leader like any other entry and so derives the
    /// same configuration as everyone else.
    public static func bootstrap(voters: [NodeID]) -> PersistedState {
        let entries = voters.sorted().enumerated().map { position, voter in
            Entry(term: 1, index: UInt64(position + 1), kind: .confChange, data: ConfChange(.addVoter, node: voter).encoded())
        }
        return PersistedState(
            hardState: HardState(term: 1, vote: .none, commit: UInt64(entries.count)),
            snapshot: Snapshot(metadata: SnapshotMetadata(index: 0, term: 0, conf: ConfState()), data: []),
            entries: entries)
    }

    /// The state of a server about to join an existing cluster: nothing. It waits to be
    /// contacted by the leader after being added as a learner or voter.
    public static let joining = PersistedState(
        hardState: HardState(),
        snapshot: Snapshot(metadata: SnapshotMetadata(index: 0, term: 0, conf: ConfState()), data: []),
        entries: [])
}
