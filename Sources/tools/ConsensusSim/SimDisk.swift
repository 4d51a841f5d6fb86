import Consensus

/// A node's durable storage. Only what a `Ready` wrote (and locally created snapshots)
/// survives a crash; everything else the node held is lost.
struct SimDisk {
    var hardState: HardState
    var snapshot: Snapshot
    /// Contiguous entries after `snapshot`.
    var entries: [Entry]

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
        snapshot = received
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

    /// The application compacted its log into `newSnapshot`.
    mutating func compact(_ newSnapshot: Snapshot) {
        let drop = Int(newSnapshot.metadata.index - snapshot.metadata.index)
        entries.removeFirst(min(drop, entries.count))
        snapshot = newSnapshot
    }
}
