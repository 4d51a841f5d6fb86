import ByteCodec
import Consensus
import Storage
import Foundation
import Synchronization
import Telemetry

/// The durable half of a Raft node, in LMDB: log entries, hard state and the newest
/// snapshot. `persist(_:)` writes everything a `Ready` asks for in one durable write
/// transaction — group commit: however many proposals and appends the Ready batched,
/// they cost one fsync — and must return before any of the Ready's messages are sent.
public final class RaftLogStore: Sendable {
    let env: Environment
    let log: Table
    let meta: Table

    static let hardStateKey = Array("hardState".utf8)
    static let snapshotMetaKey = Array("snapshotMeta".utf8)
    static let snapshotDataKey = Array("snapshotData".utf8)

    /// A snapshot's bytes are stored in parts of at most this size: LMDB writes a value's
    /// pages with one pwrite, and Linux writes at most 2 GiB per call, so a larger value
    /// fails its commit with EIO.
    let snapshotPartBytes: Int
    /// How long each forced sync took (the disk's share of every write's latency).
    let syncSeconds: Histogram?

    /// Sync durations from a tenth of a millisecond (a fast NVMe) to seconds (a stalled disk).
    static let syncBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]

    public init(env: Environment, snapshotPartBytes: Int = 256 << 20, metrics: MetricsRegistry? = nil) throws {
        syncSeconds = metrics?.histogram("raft_log_sync_duration_seconds", help: "Forced syncs of the durable Raft log, each",
                                         buckets: Self.syncBuckets)
        precondition(snapshotPartBytes > 0, "snapshot parts hold bytes")
        self.snapshotPartBytes = snapshotPartBytes
        self.env = env
        log = try env.table("raft_log")
        meta = try env.table("raft_meta")
    }

    /// True when nothing has ever been persisted (a brand-new data directory).
    public func isEmpty() throws -> Bool {
        try env.read { txn in try txn.get(meta, Self.hardStateKey) == nil && txn.count(log) == 0 }
    }

    public func persist(hardState: HardState?, entries: [Consensus.Entry], snapshot: Snapshot?) throws {
        guard hardState != nil || !entries.isEmpty || snapshot != nil else { return }
        try env.write { txn in try self.persist(hardState: hardState, entries: entries, snapshot: snapshot, in: txn) }
        // The node opens LMDB with noSync so that apply transactions cost no fsync of their
        // own; Raft's promises need this commit on disk before any message leaves, so force
        // it — unless only the commit index moved: that promises nothing (a restarted node
        // relearns it from the leader), so it rides on the next forced sync, as in etcd.
        let termOrVoteChanged = hardState.map { ($0.term, $0.vote) != lastSynced.withLock { $0 } } ?? false
        if !entries.isEmpty || snapshot != nil || termOrVoteChanged {
            let started = DispatchTime.now().uptimeNanoseconds
            try env.sync()
            syncSeconds?.observe(Double(DispatchTime.now().uptimeNanoseconds &- started) / 1e9)
            if let hs = hardState { lastSynced.withLock { $0 = (hs.term, hs.vote) } }
            let bytes = entries.reduce(snapshot?.data.count ?? 0) { $0 + $1.data.count }
            syncCounters.withLock { $0.syncs += 1; $0.bytes += UInt64(bytes) }
        }
    }

    /// Forced log syncs and the entry and snapshot bytes they made durable: with the
    /// driver's entries per Ready, what shows whether writes batch.
    public struct SyncCounters: Sendable, Equatable {
        public var syncs: UInt64 = 0
        public var bytes: UInt64 = 0
    }

    public var syncs: SyncCounters { syncCounters.withLock { $0 } }

    /// Whether the disk takes writes again after refusing one: commits `bytes` under a
    /// probe key, then deletes it. The pages stay in LMDB's free list, a small reserve for
    /// the writes that follow. Throws what the disk said when it still refuses.
    public func probeWrite(bytes: Int) throws {
        precondition(bytes > 0 && bytes <= 64 << 20, "a probe is a small write")
        try env.write { txn in try txn.put(meta, Self.probeKey, [UInt8](repeating: 0, count: bytes)) }
        try env.write { txn in _ = try txn.delete(meta, Self.probeKey) }
    }

    static let probeKey = Array("diskProbe".utf8)

    /// Term and vote as of the last forced sync.
    private let lastSynced = Mutex<(UInt64, UInt64)>((UInt64.max, UInt64.max))
    private let syncCounters = Mutex(SyncCounters())

    func persist(hardState: HardState?, entries: [Consensus.Entry], snapshot: Snapshot?, in txn: WriteTransaction) throws {
        if let snapshot {
            try storeSnapshot(snapshot, in: txn)
            // The snapshot replaces the log through its index; later entries survive only if they follow it.
            let keepAfter = try txn.get(log, Key(snapshot.metadata.index + 1)).map { try Self.decodeEntry($0) }
            try deleteEntries(in: txn, upTo: snapshot.metadata.index)
            if keepAfter == nil { try deleteEntries(in: txn, from: snapshot.metadata.index + 1) }
        }
        if let first = entries.first {
            // A follower may be overwriting a conflicting suffix: drop everything from the first new index.
            try deleteEntries(in: txn, from: first.index)
            var expected = first.index
            for e in entries {
                precondition(e.index == expected, "entries to persist must be contiguous (\(e.index) after \(expected - 1))")
                try txn.append(log, Key(e.index), Self.encode(e))
                expected += 1
            }
        }
        if let hs = hardState {
            var w = ByteWriter()
            w.u64(hs.term); w.u64(hs.vote); w.u64(hs.commit)
            try txn.put(meta, Self.hardStateKey, w.bytes)
        }
    }

    static let snapshotPartsKey = Array("snapshotParts".utf8)
    static func snapshotPartKey(_ i: UInt32) -> [UInt8] { var w = ByteWriter(); w.raw(Array("snapshotPart".utf8)); w.u32(i); return w.bytes }

    func storeSnapshot(_ s: Snapshot, in txn: WriteTransaction) throws {
        var w = ByteWriter()
        RaftMessageCodec.encode(s.metadata, into: &w)
        try txn.put(meta, Self.snapshotMetaKey, w.bytes)
        if let old = try txn.get(meta, Self.snapshotPartsKey) {
            var r = ByteReader(old, what: "snapshot part count")
            for i in 0..<(try r.u32()) { _ = try txn.delete(meta, Self.snapshotPartKey(i)) }
            _ = try txn.delete(meta, Self.snapshotPartsKey)
        }
        guard s.data.count > snapshotPartBytes else {
            try txn.put(meta, Self.snapshotDataKey, s.data)
            return
        }
        try txn.put(meta, Self.snapshotDataKey, [UInt8]())
        let parts = (s.data.count + snapshotPartBytes - 1) / snapshotPartBytes
        precondition(parts > 1 && parts <= Int(UInt32.max), "a large snapshot is stored in several parts")
        for i in 0..<parts {
            let range = (i * snapshotPartBytes)..<min(s.data.count, (i + 1) * snapshotPartBytes)
            try txn.put(meta, Self.snapshotPartKey(UInt32(i)), s.data[range])
        }
        var count = ByteWriter(); count.u32(UInt32(parts))
        try txn.put(meta, Self.snapshotPartsKey, count.bytes)
    }

    /// The stored snapshot's bytes: one value, or its parts in order (a missing part is
    /// damage, never a shorter snapshot).
    func loadSnapshotData(in txn: ReadTransaction) throws -> [UInt8] {
        guard let count = try txn.get(meta, Self.snapshotPartsKey) else { return try txn.get(meta, Self.snapshotDataKey) ?? [] }
        var r = ByteReader(count, what: "snapshot part count")
        let parts = try r.u32()
        var data = [UInt8]()
        data.reserveCapacity(Int(parts) * snapshotPartBytes)
        for i in 0..<parts {
            guard let part = try txn.get(meta, Self.snapshotPartKey(i)) else {
                throw DecodeError("persisted snapshot: part \(i) of \(parts) is missing")
            }
            data.append(contentsOf: part)
        }
        precondition(!data.isEmpty, "a snapshot stored in parts has bytes")
        return data
    }

    /// Drops entries through `index` after the application compacted its log into a snapshot.
    public func compact(snapshot: Snapshot) throws {
        try env.write { txn in
            try self.storeSnapshot(snapshot, in: txn)
            try self.deleteEntries(in: txn, upTo: snapshot.metadata.index)
        }
        try env.sync()
    }

    private func deleteEntries(in txn: WriteTransaction, from index: UInt64) throws {
        let doomed = try txn.entries(in: log, KeyRange(from: Key(index), upTo: [UInt8]?.none)).map(\.key)
        for k in doomed { _ = try txn.delete(log, k) }
    }

    private func deleteEntries(in txn: WriteTransaction, upTo index: UInt64) throws {
        let doomed = try txn.entries(in: log, KeyRange(from: [UInt8]?.none, upTo: Key(index + 1))).map(\.key)
        for k in doomed { _ = try txn.delete(log, k) }
    }

    /// Everything a restarting node needs: hard state, newest snapshot, entries after it.
    public func load() throws -> PersistedState {
        try env.read { txn in
            var hs = HardState()
            if let b = try txn.get(meta, Self.hardStateKey) {
                var r = ByteReader(b, what: "persisted hard state")
                hs = HardState(term: try r.u64(), vote: try r.u64(), commit: try r.u64())
                try r.expectEnd()
            }
            var snapshot = Snapshot(metadata: SnapshotMetadata(index: 0, term: 0, conf: ConfState()), data: [])
            if let m = try txn.get(meta, Self.snapshotMetaKey) {
                var r = ByteReader(m, what: "persisted snapshot metadata")
                snapshot = Snapshot(metadata: try RaftMessageCodec.decodeMetadata(&r), data: try self.loadSnapshotData(in: txn))
            }
            var entries = [Consensus.Entry]()
            var expected = snapshot.metadata.index + 1
            for raw in try txn.entries(in: log, KeyRange(from: Key(snapshot.metadata.index + 1), upTo: [UInt8]?.none)) {
                let e = try Self.decodeEntry(raw.value)
                guard e.index == expected else {
                    throw DecodeError("raft log is not contiguous: entry \(e.index) where \(expected) was expected")
                }
                entries.append(e)
                expected += 1
            }
            return PersistedState(hardState: hs, snapshot: snapshot, entries: entries)
        }
    }

    static func encode(_ e: Consensus.Entry) -> [UInt8] {
        var w = ByteWriter(capacity: e.data.count + 24)
        RaftMessageCodec.encode(e, into: &w)
        return w.bytes
    }

    static func decodeEntry(_ b: [UInt8]) throws -> Consensus.Entry {
        var r = ByteReader(b, what: "persisted log entry")
        let e = try RaftMessageCodec.decodeEntry(&r)
        try r.expectEnd()
        return e
    }
}
