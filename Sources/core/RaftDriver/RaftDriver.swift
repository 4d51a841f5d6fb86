import Consensus

/// Carries out a `RawNode`'s Readies over a log, a message sink, an application and a
/// clock — the one implementation of the Ready contract (see `Ready`), used by the
/// production node and by the fault simulator alike.
///
/// Per Ready, strictly in this order: a leader's appends and heartbeats leave first (they
/// promise nothing about its log: thesis 10.2.1), when its term is already durable; persist; send everything else; install
/// a snapshot, apply committed entries, hand the Ready to the caller (proposals, reads);
/// advance; compact when due. Single-threaded: the owner confines it to one thread.
public final class RaftDriver<Log: RaftLogStorage, Sink: RaftMessageSink, App: RaftApplication, Clock: DriverClock> {
    /// The Raft core. Callers feed it (`tick`, `step`, `propose`, …) between drains.
    public var core: RawNode
    public let log: Log
    public let sink: Sink
    public let app: App
    public let clock: Clock
    /// Compact the log once this many entries were applied past the last snapshot.
    public var compactEvery: UInt64
    /// Entries kept below the applied index when compacting, so a follower a little behind
    /// (a slow disk, a busy moment) catches up from the log instead of needing a snapshot
    /// (etcd keeps 5,000). The simulator keeps none, to exercise snapshots hard.
    public var compactKeep: UInt64
    public private(set) var counters = DriverCounters()
    /// Compaction is an optimisation: a failure is reported here and retried next time.
    public var compactionFailed: ((any Error) -> Void)?
    /// The term on disk. A leader's early appends carry its term, so they may leave before
    /// the write only when that term is already durable: a single voter wins the term in
    /// the same Ready that adopts it, and an append in a term a crash can forget lets the
    /// restarted node win that term again with a different log.
    private var durableTerm: UInt64
    /// The owner serializes snapshots off the driver's thread (production: serializing a
    /// large state inline would hold heartbeats past an election timeout). Then `drain`
    /// does not call `app.snapshot()`: `takeSnapshotRequest()` tells the owner to serialize,
    /// and `snapshotSerialized` hands the bytes back on the driver's thread. Local compaction
    /// waits meanwhile, so the bytes are never older than the log's snapshot.
    public var serializesInBackground = false
    /// Bytes asked of the owner and not yet handed back.
    public private(set) var serializing = false
    private var snapshotRequested = false

    public init(core: RawNode, log: Log, sink: Sink, app: App, clock: Clock, compactEvery: UInt64, compactKeep: UInt64 = 0) {
        precondition(compactEvery > 0, "compactEvery must be positive")
        self.compactKeep = compactKeep
        self.core = core
        self.log = log
        self.sink = sink
        self.app = app
        self.clock = clock
        self.compactEvery = compactEvery
        durableTerm = core.currentTerm
    }

    /// Carries out every Ready the core has, until it has none. `completed` sees each
    /// Ready after it was applied and before advance: answer proposals and reads there.
    /// `stopAt` names a stage at which to abandon the Ready (a simulated crash); the
    /// return value is then that stage, and the driver must be discarded.
    @discardableResult
    public func drain(stopAt: ReadyStage? = nil, completed: (Ready) throws -> Void = { _ in }) throws(DriverFailure) -> ReadyStage? {
        while true {
            while core.hasReady {
                if let stage = try carryOut(stopAt: stopAt, completed: completed) { return stage }
            }
            // A follower needs the snapshot's bytes: provide them, and carry out the chunk they
            // release. A failure is reported and retried at the next drain.
            guard core.wantsSnapshotData else { break }
            if serializesInBackground {
                if !serializing { serializing = true; snapshotRequested = true }
                break
            }
            do { try provideSnapshotData() } catch { compactionFailed?(error); break }
            precondition(!core.wantsSnapshotData, "the bytes provided satisfy the request")
        }
        return stopAt
    }

    /// Whether the owner should now serialize the application's state (once per request;
    /// `serializesInBackground` only).
    public func takeSnapshotRequest() -> Bool {
        defer { snapshotRequested = false }
        precondition(!snapshotRequested || serializing, "a request is outstanding while it is pending")
        return snapshotRequested
    }

    /// The bytes the owner serialized after `takeSnapshotRequest`, or why it could not.
    /// Call on the driver's thread between drains, then drain: the chunks they release go
    /// out with the next Ready. Bytes nobody wants any more (a snapshot from a new leader
    /// replaced the state meanwhile) are dropped; a failure is reported and asked again.
    public func snapshotSerialized(_ result: Result<(index: UInt64, data: [UInt8]), any Error>) {
        precondition(serializing, "snapshot bytes that were not asked for")
        precondition(!snapshotRequested, "handed back before the request was taken")
        serializing = false
        do {
            let (index, data) = try result.get()
            precondition(!data.isEmpty, "a snapshot's bytes are never empty")
            precondition(index <= core.status.applied, "the application snapshotted past what it applied")
            guard core.wantsSnapshotData, index >= core.snapshotIndex else { return }
            try persistCompaction(core.compact(index: index, data: data))
            counters.snapshotsSerialized += 1
        } catch {
            compactionFailed?(error)
        }
    }

    private func carryOut(stopAt: ReadyStage?, completed: (Ready) throws -> Void) throws(DriverFailure) -> ReadyStage? {
        let rd = core.ready()
        let leaderEarly = core.role == .leader && core.currentTerm == durableTerm
        if leaderEarly {
            for m in rd.messages where Self.mayLeaveBeforePersist(m) { sink.send(m) }
        }
        if stopAt == .drawn { return .drawn }

        let t0 = clock.nowMicros(), c0 = clock.threadCPUMicros()
        do { try log.persist(hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot) } catch { throw .persist(error) }
        if let hs = rd.hardState {
            precondition(hs.term >= durableTerm, "the durable term never goes back")
            durableTerm = hs.term
        }
        let t1 = clock.nowMicros()
        counters.persistMicros += t1 &- t0
        counters.entriesPersisted += UInt64(rd.entries.count)
        if !rd.entries.isEmpty { counters.readiesWithEntries += 1 }
        if stopAt == .persisted { return .persisted }

        for m in rd.messages where !(leaderEarly && Self.mayLeaveBeforePersist(m)) { sink.send(m) }
        counters.messagesSent += UInt64(rd.messages.count)
        let c1 = clock.threadCPUMicros()
        counters.persistCPUMicros += c1 &- c0
        if stopAt == .sent { return .sent }

        do {
            if let snapshot = rd.snapshot, snapshot.metadata.index > 0 {
                try app.install(snapshot)
                counters.snapshotsInstalled += 1
                // The installed state stands for the bytes now: the log store keeps the
                // metadata only (its write also makes the install durable), as a compaction.
                try log.compact(snapshot: Snapshot(metadata: snapshot.metadata, data: []))
            }
            if !rd.committedEntries.isEmpty {
                precondition(rd.committedEntries.first!.index == max(rd.snapshot?.metadata.index ?? 0, core.status.applied) + 1,
                             "committed entries must follow what was applied")
                try app.apply(rd.committedEntries)
            }
            try completed(rd)
        } catch {
            throw .apply(error)
        }
        counters.applyMicros += clock.nowMicros() &- t1
        counters.applyCPUMicros += clock.threadCPUMicros() &- c1
        counters.entriesApplied += UInt64(rd.committedEntries.count)
        counters.readies += 1
        if stopAt == .applied { return .applied }

        core.advance(rd)
        compactIfDue()
        return nil
    }

    /// A leader's appends and heartbeats carry its log, not promises about its disk.
    static func mayLeaveBeforePersist(_ m: Message) -> Bool { m.kind == .append || m.kind == .heartbeat }

    /// Compact the log once enough was applied past the last snapshot, by reference (no
    /// copy of the state); hand the core the state's bytes when a follower needs them.
    private func compactIfDue() {
        do {
            let st = core.status
            guard !serializing else { return }
            guard st.applied > st.snapshotIndex, st.applied - st.snapshotIndex >= compactEvery + compactKeep else { return }
            try compactNow()
        } catch {
            compactionFailed?(error)
        }
    }

    /// Compacts now, keeping `compactKeep` entries below the applied index (operators, tests).
    public func compactNow() throws {
        guard !serializing else { return }  // bytes being serialized must not fall behind the log's snapshot
        let applied = try app.appliedIndex()
        precondition(applied <= core.status.applied, "the application is past what the core applied")
        guard applied > compactKeep else { return }
        try persistCompaction(core.compact(index: applied - compactKeep, data: nil))
    }

    /// The bytes of the application's state for a follower that needs a snapshot; the log
    /// is compacted to their index too.
    private func provideSnapshotData() throws {
        let (index, data) = try app.snapshot()
        precondition(index <= core.status.applied, "the application snapshotted past what it applied")
        precondition(!data.isEmpty, "a snapshot's bytes are never empty")
        try persistCompaction(core.compact(index: index, data: data))
        counters.snapshotsSerialized += 1
    }

    /// The log store keeps the snapshot's metadata only: the application's state is its body.
    private func persistCompaction(_ snapshot: Snapshot?) throws {
        guard let snapshot else { return }
        try log.compact(snapshot: Snapshot(metadata: snapshot.metadata, data: []))
        counters.compactions += 1
    }
}
