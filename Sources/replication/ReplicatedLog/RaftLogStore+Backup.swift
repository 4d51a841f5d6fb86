import ByteCodec
import Consensus
import Storage

/// What backups, log shipping and restore read from (and, for restore, write to) the
/// durable log, without loading the whole log as `load()` does.
extension RaftLogStore {
    /// Stored entries from `from` through `through`, stopping early once `maxBytes` of
    /// entry data are collected (always at least one entry when any is stored in range).
    /// An entry missing in the middle is damage, not the end.
    public func entries(from: UInt64, through: UInt64, maxBytes: Int) throws -> [Consensus.Entry] {
        precondition(from >= 1 && maxBytes > 0, "entries start at index 1 and a batch holds bytes")
        guard from <= through else { return [] }
        return try env.read { txn in
            var out = [Consensus.Entry](), bytes = 0
            try txn.forEach(in: log, KeyRange(from: Key(from), upTo: through == .max ? nil : Key(through + 1))) { _, value in
                let e = try Self.decodeEntry(Array(value))
                guard e.index == from + UInt64(out.count) else {
                    throw DecodeError("raft log is not contiguous: entry \(e.index) where \(from + UInt64(out.count)) was expected")
                }
                out.append(e)
                bytes += e.data.count
                return bytes < maxBytes
            }
            return out
        }
    }

    /// The lowest index still stored in the log (nil when it is empty).
    public func firstStoredIndex() throws -> UInt64? {
        try env.read { txn in
            try txn.entries(in: log, limit: 1).first.map { raw in
                var r = ByteReader(raw.key, what: "raft log key")
                return try r.u64()
            }
        }
    }

    /// The persisted snapshot's metadata alone (its bytes are not read).
    public func snapshotMetadata() throws -> SnapshotMetadata {
        try env.read { txn in
            guard let m = try txn.get(meta, Self.snapshotMetaKey) else { return SnapshotMetadata(index: 0, term: 0, conf: ConfState()) }
            var r = ByteReader(m, what: "persisted snapshot metadata")
            return try RaftMessageCodec.decodeMetadata(&r)
        }
    }

    public func hardState() throws -> HardState {
        try env.read { txn in
            guard let b = try txn.get(meta, Self.hardStateKey) else { return HardState() }
            var r = ByteReader(b, what: "persisted hard state")
            let hs = HardState(term: try r.u64(), vote: try r.u64(), commit: try r.u64())
            try r.expectEnd()
            return hs
        }
    }

    /// The term of the entry at `index` and the membership in force once it applied: the
    /// snapshot's, changed by every configuration entry after it through `index`.
    /// nil when the log holds neither that entry nor a snapshot at it.
    public func termAndConf(at index: UInt64) throws -> (term: UInt64, conf: ConfState)? {
        let snap = try snapshotMetadata()
        guard index >= snap.index else { return nil }
        var conf = snap.conf, term = snap.term, next = snap.index + 1
        while next <= index {
            let batch = try entries(from: next, through: index, maxBytes: 64 << 20)
            guard let last = batch.last else { return nil }
            for e in batch where e.kind == .confChange {
                if let change = ConfChange(decoding: e.data) { conf = conf.applying(change) }
            }
            term = last.term
            next = last.index + 1
        }
        return (term, conf)
    }

    /// Makes this log that of a node whose state was restored to `index`: no entries, the
    /// snapshot (kept by reference: the restored state is its body) at `index` with `conf`,
    /// and a hard state of `term` with no vote. The node then starts as if it had just
    /// installed a snapshot, and takes whatever follows from the leader.
    public func resetForRestore(index: UInt64, term: UInt64, conf: ConfState) throws {
        precondition(!conf.voters.isEmpty, "a restored node knows at least one voter")
        precondition(index == 0 || term > 0, "an entry after the first has a term")
        try env.write { txn in
            try txn.clear(self.log)
            try self.storeSnapshot(Snapshot(metadata: SnapshotMetadata(index: index, term: term, conf: conf), data: []), in: txn)
            var w = ByteWriter()
            w.u64(term); w.u64(0); w.u64(index)
            try txn.put(self.meta, Self.hardStateKey, w.bytes)
        }
        try env.sync()
    }
}
