/// The configurations in force along the log. A server always uses the latest configuration
/// present in its log, committed or not (thesis 4.1), so truncating a suffix must be able to
/// revert to the configuration before it.
struct ConfigurationHistory {
    /// Configuration at the snapshot boundary.
    private(set) var base: ConfState
    /// Configuration-change entries above the snapshot, oldest first.
    private(set) var changes: [(index: UInt64, conf: ConfState)] = []

    init(base: ConfState) { self.base = base }

    var current: ConfState { changes.last?.conf ?? base }
    /// Index of the newest configuration entry still in the log (0 if none above snapshot).
    var lastChangeIndex: UInt64 { changes.last?.index ?? 0 }

    func conf(at index: UInt64) -> ConfState {
        var result = base
        for change in changes where change.index <= index { result = change.conf }
        return result
    }

    /// Account for an entry appended to the log.
    mutating func record(_ entry: Entry) {
        guard entry.kind == .confChange, let change = ConfChange(decoding: entry.data) else { return }
        changes.append((entry.index, current.applying(change)))
    }

    /// The log lost every entry at or after `index`.
    mutating func truncate(from index: UInt64) {
        while let last = changes.last, last.index >= index { changes.removeLast() }
    }

    /// The log was compacted up to `index`.
    mutating func compact(to index: UInt64) {
        base = conf(at: index)
        changes.removeAll { $0.index <= index }
    }

    mutating func reset(base: ConfState) {
        self.base = base
        changes.removeAll()
    }
}
