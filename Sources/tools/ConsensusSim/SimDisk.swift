import Consensus

/// A node's durable storage. Only what a `Ready` wrote (and locally created snapshots)
/// survives a crash; everything else the node held is lost.
struct SimDisk {
    var hardState: HardState
    var snapshot: Snapshot
    /// Contiguous entries after `snapshot`.
    var entries: [Entry]
    /// The state machine's durable state, as of `snapshot`'s index: what a restart rebuilds
    /// it from. The log keeps only a local snapshot's metadata (snapshots by reference), as
    /// production does, where the state lives in LMDB.
    var machineState: [UInt8] = []

    init(_ state: PersistedState) {
        hardState = state.hardState
        snapshot = state.snapshot
        entries = state.entries
    }

    var persisted: PersistedState { PersistedState(hardState: hardState, snapshot: snapshot, entries: entries) }

    var lastIndex: UInt64 { snapshot.metadata.index + UInt64(entries.count) }

    func term(at index: UInt64) -> UInt64? {
        if index == snapshot.metadata.index { return snapshot.metadata.term }
        if index < snapshot.metadata.index || index > lastIndex { return nil }
        return entries[Int(index - snapshot.metadata.index - 1)].term
    }

    /// Step 1 of the `Ready` contract, first part: a snapshot replaces the whole log.
    mutating func persist(snapshot received: Snapshot) {
        precondition(!received.data.isEmpty, "a snapshot from the leader carries its bytes")
        snapshot = received
        machineState = received.data
        entries.removeAll()
    }

    /// Step 1 of the `Ready` contract, second part (after any snapshot).
    mutating func persist(entries new: [Entry], hardState newHardState: HardState?) {
        if let first = new.first {
            precondition(first.index > snapshot.metadata.index && first.index <= lastIndex + 1, "gap in persisted log")
            entries.removeSubrange(Int(first.index - snapshot.metadata.index - 1)...)
            entries.append(contentsOf: new)
        }
        if let newHardState { hardState = newHardState }
    }

    /// The log was compacted through `newSnapshot` (metadata only); `state` is the state
    /// machine at its index, durable from now on.
    mutating func compact(_ newSnapshot: Snapshot, state: [UInt8]) {
        precondition(newSnapshot.data.isEmpty, "a local snapshot is kept by reference")
        let drop = Int(newSnapshot.metadata.index - snapshot.metadata.index)
        entries.removeFirst(min(drop, entries.count))
        snapshot = newSnapshot
        machineState = state
    }
}
