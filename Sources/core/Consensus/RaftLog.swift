/// The node's view of the log: a snapshot boundary followed by entries, plus the commit
/// and apply cursors and which suffix the application has not yet persisted.
///
/// Entry `i` lives at `entries[i - snapshotIndex - 1]`. Everything at or below
/// `snapshotIndex` has been compacted into a snapshot.
struct RaftLog {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    private(set) var entries: [Entry]
    /// Highest index known to be committed. Never decreases (asserted).
    private(set) var committed: UInt64
    /// Highest index the application has applied.
    var applied: UInt64
    /// First index not yet handed to the application for persisting. Entries below it are
    /// durable (or were handed out in a `Ready` that has been acknowledged by `advance`).
    private(set) var unstableFrom: UInt64

    init(snapshotIndex: UInt64, snapshotTerm: UInt64, entries: [Entry], committed: UInt64, applied: UInt64) {
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entries = entries
        let last = snapshotIndex + UInt64(entries.count)
        self.committed = max(committed, snapshotIndex)
        self.applied = max(applied, snapshotIndex)
        self.unstableFrom = last + 1
        precondition(self.committed <= last, "persisted commit \(committed) beyond last index \(last)")
    }

    var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? snapshotTerm }
    var firstIndex: UInt64 { snapshotIndex + 1 }

    /// Term of the entry at `index`, or nil when it is compacted away or beyond the end.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        if index < snapshotIndex || index > lastIndex { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func matches(index: UInt64, term: UInt64) -> Bool { self.term(at: index) == term }

    func entry(at index: UInt64) -> Entry { entries[Int(index - snapshotIndex - 1)] }

    /// Raft's election restriction (paper 5.4.1): a candidate's log is at least as up to date
    /// as ours if its last term is higher, or equal with an index at least as high.
    func isUpToDate(lastIndex candidateIndex: UInt64, lastTerm candidateTerm: UInt64) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Entries in `from...through`, cut after `maxBytes` (but always at least one).
    func slice(from: UInt64, through: UInt64, maxBytes: Int) -> [Entry] {
        guard from <= through else { return [] }
        precondition(from > snapshotIndex && through <= lastIndex, "slice \(from)...\(through) outside log")
        let lo = Int(from - snapshotIndex - 1), hi = Int(through - snapshotIndex - 1)
        var bytes = 0
        var end = lo
        while end <= hi {
            bytes += entries[end].byteSize
            if end > lo && bytes > maxBytes { break }
            end += 1
        }
        return Array(entries[lo..<end])
    }

    /// Last index whose term is `term`, if the log (above the snapshot) holds that term.
    func lastIndex(ofTerm term: UInt64) -> UInt64? {
        var k = entries.count - 1
        while k >= 0 {
            let t = entries[k].term
            if t == term { return entries[k].index }
            if t < term { return nil }
            k -= 1
        }
        return snapshotTerm == term ? snapshotIndex : nil
    }

    /// First index of the run of entries with the same term as the entry at `index`.
    func firstIndex(ofTermAt index: UInt64) -> UInt64 {
        guard let t = term(at: index) else { return index }
        var i = index
        while i > firstIndex, term(at: i - 1) == t { i -= 1 }
        return i
    }

    // MARK: - Mutations

    mutating func append(_ entry: Entry) {
        precondition(entry.index == lastIndex + 1, "append at \(entry.index), last is \(lastIndex)")
        entries.append(entry)
    }

    /// Removes every entry at or after `index`. Only followers do this (the caller asserts
    /// it); committed entries are never removed.
    mutating func truncate(from index: UInt64) {
        precondition(index > committed, "truncating committed entry \(index) (commit \(committed))")
        precondition(index > snapshotIndex)
        entries.removeSubrange(Int(index - snapshotIndex - 1)...)
        unstableFrom = min(unstableFrom, index)
    }

    mutating func commit(to index: UInt64) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit \(index) beyond last index \(lastIndex)")
        committed = index
    }

    /// The application compacted the log into a snapshot at `index` (already applied).
    mutating func compact(to index: UInt64) {
        guard index > snapshotIndex else { return }
        precondition(index <= applied, "compacting past applied index")
        let term = self.term(at: index)!
        entries.removeSubrange(0..<Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = term
    }

    /// Replace the whole log with a snapshot received from the leader.
    mutating func restore(index: UInt64, term: UInt64) {
        precondition(index >= committed, "restoring snapshot \(index) below commit \(committed)")
        entries.removeAll(keepingCapacity: true)
        snapshotIndex = index
        snapshotTerm = term
        committed = index
        unstableFrom = index + 1
    }

    /// Entries to hand to the application for persisting.
    var unstableEntries: ArraySlice<Entry> {
        guard unstableFrom <= lastIndex else { return [] }
        return entries[Int(unstableFrom - snapshotIndex - 1)...]
    }

    mutating func markStable(through index: UInt64) {
        unstableFrom = max(unstableFrom, index + 1)
    }

    /// Entries that are committed but not yet applied.
    func committedUnapplied(maxCount: Int) -> ArraySlice<Entry> {
        let lo = max(applied, snapshotIndex) + 1
        guard lo <= committed else { return [] }
        let hi = min(committed, lo + UInt64(maxCount) - 1)
        return entries[Int(lo - snapshotIndex - 1)...Int(hi - snapshotIndex - 1)]
    }
}
