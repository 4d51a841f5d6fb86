import Consensus
import Glibc
import Foundation
import Net
import RaftDriver
import Storage
import Synchronization
import Telemetry

/// What the node needs from a peer transport; the TCP `PeerTransport` provides it and
/// tests may substitute their own.
public protocol MessageTransport: AnyObject, Sendable {
    @discardableResult func send(to: UInt64, type: UInt8, payload: [UInt8]) -> Bool
    func setPeers(_ peers: [UInt64: SocketAddress])
}

/// Runs the Raft driver (`RaftDriver`, the same one the fault simulator runs) with real
/// time, disk and network. Everything Raft-related runs on one event loop thread (the
/// transport delivers there too); HTTP handler threads talk to it through `propose`,
/// `linearizableRead` and `waitApplied`, which block their caller, never the loop.
///
/// The driver carries out each Ready: persist (one durable LMDB transaction), send,
/// install snapshot, apply committed entries (one LMDB transaction with the applied
/// index and digest), then this node answers proposals and reads, and the driver
/// advances. This type adds what a process needs around it: timers, blocking callers,
/// the disk alarm, the corruption halt, and peer addresses.
public final class ReplicatedNode<Machine: ReplicatedStateMachine>: @unchecked Sendable {
    public typealias Options = ReplicationOptions
    public typealias ProposeOutcome = ReplicatedLog.ProposeOutcome
    public typealias DiskAlarm = ReplicatedLog.DiskAlarm
    public typealias NodeReport = ReplicatedLog.NodeReport

    public let options: Options
    public let loop: EventLoop
    let store: RaftLogStore
    public let stateMachine: Machine
    public let logger: Logger
    /// Proposals and Readies as the registry counts them; nil in tests that need none.
    let metrics: ReplicationMetrics?
    private let sink = PeerMessageSink()
    private var transportRef: (any MessageTransport)?
    /// Addresses from the static configuration, merged with replicated member records.
    private let configuredPeers: [UInt64: SocketAddress]

    // Loop-confined.
    private let driver: NodeDriver<Machine>
    private var raw: RawNode {
        get { driver.core }
        _modify { yield &driver.core }
    }
    private struct PendingProposal {
        let term: UInt64
        /// Loop clock (ms); past it the caller is told `.timedOut`.
        let deadline: UInt64
        let done: @Sendable (ProposeOutcome) -> Void
    }
    private var pendingProposals: [UInt64: PendingProposal] = [:]
    private var pendingReads: [UInt64: (UInt64?) -> Void] = [:]
    private var nextReadContext: UInt64 = 1
    private var readyScheduled = false
    private var snapshotProgress = SnapshotReceiveProgress()
    private var lastRole: RaftRole = .follower
    private var lastLeader: UInt64 = 0
    private var stopped = false
    /// The state machine's applied index and digest, as apply reports it (loop-confined).
    private var appliedState: AppliedState { driver.app.appliedState }
    /// Set while the disk refuses writes: the core is frozen (no ticks, steps or Readies),
    /// proposals and reads are refused, and a probe retries until the disk takes writes.
    private var diskAlarm: DiskAlarm?
    /// Set, for good, when committed state does not decode (an entry or an index record): the
    /// core is frozen as under the disk alarm, but nothing clears it short of an operator.
    private var corruption: String?
    /// No ticks, steps, Readies, proposals or reads while the disk refuses writes or state is corrupt.
    private var frozen: Bool { diskAlarm != nil || corruption != nil }
    /// The data directory, for free-space checks while alarmed.
    private let dataDir: String?

    // Shared with readers.
    private let published: Mutex<NodeReport>
    private let appliedCondition = NSCondition()
    private var appliedIndexForWaiters: UInt64 = 0


    public init(options: Options, store: RaftLogStore, stateMachine: Machine, bootstrapVoters: [UInt64]?,
                configuredPeers: [UInt64: SocketAddress], loop: EventLoop, logger: Logger, dataDir: String? = nil,
                metrics: MetricsRegistry? = nil) throws {
        self.options = options
        self.metrics = metrics.map { ReplicationMetrics(registry: $0) }
        self.store = store
        self.stateMachine = stateMachine
        self.loop = loop
        self.logger = logger
        self.configuredPeers = configuredPeers
        self.dataDir = dataDir
        if try store.isEmpty(), let voters = bootstrapVoters {
            let boot = PersistedState.bootstrap(voters: voters)
            try store.persist(hardState: boot.hardState, entries: boot.entries, snapshot: nil)
            logger.info("bootstrapped", [("voters", voters.map(String.init).joined(separator: ","))])
        }
        let (core, applied, persisted) = try Self.restoreCore(options, store, stateMachine)
        driver = NodeDriver(core: core, log: store, sink: sink, app: NodeApplication(machine: stateMachine, applied: applied, logger: logger),
                            clock: MonotonicClock(), compactEvery: options.snapshotEvery, compactKeep: min(5000, options.snapshotEvery / 2))
        driver.serializesInBackground = true
        appliedIndexForWaiters = applied.index
        published = Mutex(NodeReport(status: core.status, appliedIndex: applied.index, digest: applied.digest, peerMatch: [:], leaderChanges: 0))
        logger.info("restored", [("term", persisted.hardState.term), ("commit", persisted.hardState.commit),
                                 ("snapshotIndex", persisted.snapshot.metadata.index), ("entries", persisted.entries.count),
                                 ("applied", applied.index)])
    }

    /// The Raft core as a restart finds it: from the durable log, with the state machine's
    /// applied index (installing a snapshot that was persisted but not yet installed).
    private static func restoreCore(_ options: Options, _ store: RaftLogStore, _ stateMachine: Machine) throws
        -> (RawNode, AppliedState, PersistedState) {
        let persisted = try store.load()
        var applied = try stateMachine.applied()
        if persisted.snapshot.metadata.index > applied.index {
            // A local snapshot is kept by reference (the state is its body): one past the state
            // means the state lost writes the log relied on. Refuse rather than start empty.
            guard !persisted.snapshot.data.isEmpty else {
                throw CompactedPastState(description: "the raft log is compacted through \(persisted.snapshot.metadata.index) but the state machine has applied only \(applied.index); restore this node from a healthy replica")
            }
            // Crashed after persisting a snapshot from the leader but before installing it.
            try stateMachine.install(snapshotData: persisted.snapshot.data)
            applied = try stateMachine.applied()
        }
        var config = RaftConfig(id: options.id, randomSeed: options.randomSeed)
        config.electionTicks = options.electionTicks
        config.heartbeatTicks = options.heartbeatTicks
        // One chunk per round trip: at the core's 64 KiB a multi-gigabyte state takes tens
        // of thousands of them; 1 MiB frames stay far below the transport's limits.
        config.snapshotChunkBytes = 1 << 20
        config.applied = applied.index
        return (RawNode(config: config, restoringFrom: persisted), applied, persisted)
    }

    /// Attaches the transport and starts ticking. Call once.
    public func start(transport: any MessageTransport) {
        transportRef = transport
        sink.transport = transport
        driver.compactionFailed = { [logger] error in logger.error("compaction failed", [("error", error)]) }
        loop.execute { [self] in
            refreshPeers()
            scheduleTick()
            scheduleReady()
        }
    }

    /// Stops ticking and answers every waiting proposal and read: with no ticks, nothing
    /// would ever time them out.
    public func stop() {
        loop.execute { [self] in
            stopped = true
            answerEveryoneWaiting(.unavailable("this node is shutting down (this write may or may not commit)"))
        }
    }

    /// Delivers a message from the transport (on the loop thread).
    public func receive(from peer: UInt64, type: UInt8, payload: [UInt8]) {
        loop.assertInLoop()
        if diskAlarm != nil { diskAlarm!.droppedMessages += 1; return }
        if corruption != nil { return }
        guard type == RaftMessageCodec.frameType else {
            logger.warn("unknown message type", [("peer", peer), ("type", type)])
            return
        }
        do {
            let m = try RaftMessageCodec.decode(payload)
            guard m.to == options.id, m.from == peer else {
                logger.warn("misaddressed raft message", [("peer", peer), ("from", m.from), ("to", m.to)])
                return
            }
            raw.step(m)
            scheduleReady()
        } catch {
            logger.warn("undecodable raft message", [("peer", peer), ("error", error)])
        }
    }

    /// The transport lost an established connection to `peer` and could not redial it (on
    /// the loop thread). If that is our leader, the core campaigns within a few ticks.
    public func peerUnreachable(_ peer: UInt64) {
        loop.assertInLoop()
        guard !frozen, !stopped else { return }
        let wasLeader = raw.status.leader == peer && raw.role == .follower
        raw.reportUnreachable(peer)
        if wasLeader { logger.info("leader_unreachable", [("leader", peer), ("action", "campaigning within a few ticks")]) }
        scheduleReady()
    }

    // MARK: client-facing (call from any thread but the loop)

    /// Proposes already-encoded entry data (for example a chain command from the indexer).
    public func propose(raw data: [UInt8], timeoutMillis: Int = 5000) -> ProposeOutcome {
        submit(timeoutMillis: timeoutMillis) { raw throws(ProposalError) in try raw.propose(data) }
    }

    /// Proposes entry data without blocking: `then` runs once, on the Raft loop, with the
    /// outcome — when the entry is applied here, refused, superseded, or the timeout passes
    /// (checked every tick). It must be quick: hand the answer on, never block.
    public func propose(raw data: [UInt8], timeoutMillis: Int = 5000, then: @escaping @Sendable (ProposeOutcome) -> Void) {
        enqueue(timeoutMillis: timeoutMillis, done: then) { raw throws(ProposalError) in try raw.propose(data) }
    }

    public func proposeConfChange(_ change: ConfChange, timeoutMillis: Int = 10_000) -> ProposeOutcome {
        submit(timeoutMillis: timeoutMillis) { raw throws(ProposalError) in try raw.proposeConfChange(change) }
    }

    public func transferLeadership(to target: UInt64) {
        loop.execute { [self] in
            guard !frozen else { return }
            raw.transferLeadership(to: target); scheduleReady()
        }
    }

    static func outcome(for error: ProposalError) -> ProposeOutcome {
        switch error {
        case .notLeader(let hint): return .notLeader(leader: hint)
        case .transferInProgress: return .rejected("leadership transfer in progress; retry shortly")
        case .confChangeInProgress: return .rejected("another membership change is still in progress; retry shortly")
        case .invalidConfChange: return .rejected("the membership change is not valid for the current configuration")
        }
    }

    /// Runs a proposal on the loop and blocks the caller until its entry is applied here
    /// (same term as proposed), refused, superseded, or the timeout passes.
    private func submit(timeoutMillis: Int, _ proposal: @escaping @Sendable (inout RawNode) throws(ProposalError) -> UInt64) -> ProposeOutcome {
        precondition(!loop.inLoop, "blocking call on the raft loop")
        let result = Mutex<ProposeOutcome?>(nil)
        let sem = DispatchSemaphore(value: 0)
        enqueue(timeoutMillis: timeoutMillis, done: { outcome in result.withLock { $0 = outcome }; sem.signal() }, proposal)
        // The loop answers by the timeout; waiting a little past it only guards a loop that stopped.
        if sem.wait(timeout: .now() + .milliseconds(timeoutMillis + 2 * options.tickMillis)) == .timedOut { return .timedOut }
        return result.withLock { $0 } ?? .timedOut
    }

    /// Hands a proposal to the loop; `done` is called exactly once, on the loop.
    private func enqueue(timeoutMillis: Int, done answer: @escaping @Sendable (ProposeOutcome) -> Void,
                         _ proposal: @escaping @Sendable (inout RawNode) throws(ProposalError) -> UInt64) {
        precondition(timeoutMillis > 0, "a proposal needs a positive timeout")
        let deadline = EventLoop.nowMillis() + UInt64(timeoutMillis)
        let done: @Sendable (ProposeOutcome) -> Void
        if let metrics {
            let started = DispatchTime.now().uptimeNanoseconds
            done = { [answer] outcome in metrics.finished(outcome, startedNanos: started); answer(outcome) }
        } else {
            done = answer
        }
        loop.execute { [self] in
            if stopped { done(.unavailable("this node is shutting down")); return }
            if let alarm = diskAlarm { done(.unavailable(alarm.message)); return }
            if let c = corruption { done(.unavailable("this node stopped: \(c)")); return }
            do {
                let index = try proposal(&raw)
                // A proposal still waiting at this index had its entry truncated by a later leader.
                pendingProposals[index]?.done(.rejected("proposal was superseded by a new leader's log; retry"))
                pendingProposals[index] = PendingProposal(term: raw.currentTerm, deadline: deadline, done: done)
                scheduleReady()
            } catch let error as ProposalError {
                done(Self.outcome(for: error))
            } catch {
                done(.rejected("\(error)"))
            }
        }
    }

    /// Tells every waiting proposal `outcome` and every waiting read that it has no index.
    private func answerEveryoneWaiting(_ outcome: ProposeOutcome) {
        loop.assertInLoop()
        for (_, p) in pendingProposals { p.done(outcome) }
        pendingProposals.removeAll()
        failPendingReads()
    }

    private func failPendingReads() {
        for (_, done) in pendingReads { done(nil) }
        pendingReads.removeAll()
    }

    /// Answers proposals whose deadline passed; their entries may still commit.
    private func expireProposals() {
        let now = EventLoop.nowMillis()
        guard pendingProposals.values.contains(where: { $0.deadline <= now }) else { return }
        for (index, p) in pendingProposals where p.deadline <= now {
            pendingProposals[index] = nil
            p.done(.timedOut)
        }
    }

    /// A linearizable read point (ReadIndex): once it returns an index and the node has
    /// applied through it, local reads are linearizable. Nil when no leader confirmed in time.
    public func linearizableReadIndex(timeoutMillis: Int = 3000) -> UInt64? {
        let result = Mutex<UInt64?>(nil)
        let sem = DispatchSemaphore(value: 0)
        loop.execute { [self] in
            let ctx = nextReadContext
            nextReadContext += 1
            if frozen { sem.signal(); return }
            pendingReads[ctx] = { idx in result.withLock { $0 = idx }; sem.signal() }
            if !raw.readIndex(context: ctx) { pendingReads[ctx] = nil; sem.signal() }
            scheduleReady()
        }
        guard sem.wait(timeout: .now() + .milliseconds(timeoutMillis)) == .success, let index = result.withLock({ $0 }) else { return nil }
        return waitApplied(index, timeoutMillis: timeoutMillis) ? index : nil
    }

    /// Blocks until this node has applied `index`, up to the timeout.
    public func waitApplied(_ index: UInt64, timeoutMillis: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        appliedCondition.lock()
        defer { appliedCondition.unlock() }
        while appliedIndexForWaiters < index {
            if !appliedCondition.wait(until: deadline) { return appliedIndexForWaiters >= index }
        }
        return true
    }

    public var report: NodeReport { published.withLock { $0 } }

    // MARK: loop internals

    private func scheduleTick() {
        guard !stopped else { return }
        loop.schedule(afterMillis: options.tickMillis) { [self] in
            if !frozen {
                raw.tick()
                scheduleReady()
            }
            if let fields = snapshotProgress.observe(raw.incomingSnapshot, nowMillis: EventLoop.nowMillis()) {
                logger.info("receiving snapshot", fields)
            }
            expireProposals()
            scheduleTick()
        }
    }

    /// Coalesces work: everything stepped or proposed before the loop gets here goes into one Ready.
    private func scheduleReady() {
        guard !readyScheduled, !stopped, !frozen else { return }
        readyScheduled = true
        loop.execute { [self] in
            readyScheduled = false
            handleReady()
        }
    }

    /// A Ready the driver could not carry out: the node stops taking part (disk alarm,
    /// corruption halt), or, for a failure that would break Raft's promises, the process ends.
    private func stopTakingPart(_ failure: DriverFailure) {
        switch failure {
        case .persist(let e as StorageError) where e.isDiskRefusal && !e.isSyncFailure:   // a failed fsync stops the node below
            raiseDiskAlarm(stage: "raft log", e)
        case .persist(let error):
            // Continuing would break Raft's promises (a vote or ack without its record). Stop hard.
            logger.error("persist failed; stopping", [("error", error)])
            fatalError("raft persist failed: \(error)")
        case .apply(let e as StorageError) where e.isDiskRefusal:
            raiseDiskAlarm(stage: "apply", e)
        case .apply(let e as any CorruptRecord):
            haltOnCorruption(e.description)
        case .apply(let error):
            logger.error("apply failed; stopping", [("error", error)])
            fatalError("apply failed: \(error)")
        }
    }

    private func handleReady() {
        let compactionsBefore = driver.counters.compactions
        let (readiesBefore, entriesBefore) = (driver.counters.readiesWithEntries, driver.counters.entriesPersisted)
        defer { metrics?.persisted(entries: driver.counters.entriesPersisted - entriesBefore, readies: driver.counters.readiesWithEntries - readiesBefore) }
        do {
            try driver.drain { rd in
                for e in rd.committedEntries {
                    if let p = pendingProposals.removeValue(forKey: e.index) {
                        p.done(e.term == p.term ? .applied(index: e.index) : .rejected("proposal was superseded by a new leader's log; retry"))
                    }
                }
                for rs in rd.readStates { pendingReads.removeValue(forKey: rs.context)?(rs.index) }
            }
        } catch {
            stopTakingPart(error)
            return
        }
        if driver.takeSnapshotRequest() { serializeSnapshot() }
        if driver.counters.compactions > compactionsBefore {
            logger.info("compacted log", [("index", raw.snapshotIndex)])
        }
        if driver.app.peersChanged {
            driver.app.peersChanged = false
            refreshPeers()
        }
        publish()
    }

    /// A follower needs the state's bytes: serialized on another thread from one LMDB read
    /// transaction (applies go on meanwhile), so heartbeats keep leaving while gigabytes are
    /// copied; the bytes come back to the loop, which sends the first chunk.
    private func serializeSnapshot() {
        loop.assertInLoop()
        precondition(driver.serializing, "serializing what the driver asked for")
        DispatchQueue.global(qos: .utility).async { [self] in
            let result = Result<(index: UInt64, data: [UInt8]), any Error> { try driver.app.snapshot() }
            loop.execute { [self] in
                driver.snapshotSerialized(result)
                scheduleReady()
            }
        }
    }

    private func publish() {
        let st = raw.status
        let applied = appliedState
        if st.leader != lastLeader || st.role != lastRole {
            logger.info("role", [("role", "\(st.role)"), ("term", st.term), ("leader", st.leader)])
            lastLeader = st.leader
            lastRole = st.role
            if st.role != .leader {
                // Reads waiting at a deposed leader can no longer complete.
                failPendingReads()
            }
        }
        var effective = st
        if frozen {
            // A frozen core acts as nothing: it neither leads nor follows anyone.
            effective.role = .follower
            effective.leader = 0
        }
        let match = frozen ? [:] : raw.peerMatch
        let counters = driver.counters
        let syncs = store.syncs
        published.withLock { r in
            let changed = r.status.leader != effective.leader
            let lastLeaderTerm = effective.leader != 0 ? effective.term : r.lastLeaderTerm
            r = NodeReport(status: effective, appliedIndex: applied.index, digest: applied.digest, peerMatch: match,
                           leaderChanges: r.leaderChanges + (changed ? 1 : 0), lastLeaderTerm: lastLeaderTerm, counters: counters, logSyncs: syncs,
                           diskAlarm: diskAlarm, corruption: corruption)
            assert(r.lastLeaderTerm <= r.status.term, "a leader was known in a term not later than the current one")
        }
        appliedCondition.lock()
        appliedIndexForWaiters = applied.index
        appliedCondition.broadcast()
        appliedCondition.unlock()
    }

    // MARK: disk alarm

    /// The disk refused the Ready being handled. Its state was not made durable (or not
    /// applied), so the in-memory core is ahead of the disk: freeze it — no ticks, steps or
    /// sends, so it promises nothing more — refuse proposals and reads, and probe the disk
    /// until it takes writes; then restart the core from the disk, as after a crash.
    private func raiseDiskAlarm(stage: String, _ error: StorageError) {
        loop.assertInLoop()
        precondition(diskAlarm == nil, "one disk alarm at a time")
        let wasLeader = raw.role == .leader
        let alarm = DiskAlarm(stage: stage, error: error.description, sinceMillis: EventLoop.nowMillis())
        diskAlarm = alarm
        logger.error("disk_alarm", [("stage", stage), ("error", error), ("wasLeader", wasLeader),
                                    ("action", "writes refused, core frozen; probing every \(DiskAlarm.probeMillis) ms")])
        let why = alarm.message
        answerEveryoneWaiting(.unavailable(why + " (this write was not acknowledged and may or may not commit)"))
        publish()
        scheduleDiskProbe()
    }

    /// Committed state that does not decode. Every replica applies the same entries, so the
    /// others stop at the same place; serving or indexing on would spread state nobody
    /// checked. The process stays up to say so (/readyz, /status, the log) until an operator
    /// restores the node from a healthy replica or a backup.
    private func haltOnCorruption(_ why: String) {
        loop.assertInLoop()
        precondition(corruption == nil, "halted once")
        corruption = why
        logger.error("replicated_state_corrupt", [("problem", why), ("applied", appliedState.index),
                                                 ("action", "stopped: no more applies, votes, appends or writes; restore this node from a healthy replica")])
        answerEveryoneWaiting(.unavailable("this node stopped: \(why)"))
        publish()
    }

    private func scheduleDiskProbe() {
        loop.schedule(afterMillis: DiskAlarm.probeMillis) { [self] in
            guard !stopped, diskAlarm != nil else { return }
            diskAlarm!.probes += 1
            if diskTakesWrites() { clearDiskAlarm() } else { publish(); scheduleDiskProbe() }
        }
    }

    /// Enough free space, and a real write of a small reserve commits.
    private func diskTakesWrites() -> Bool {
        if let dir = dataDir {
            var st = statvfs()
            if statvfs(dir, &st) == 0, UInt64(st.f_bavail) * UInt64(st.f_frsize) < DiskAlarm.resumeFreeBytes { return false }
        }
        do { try store.probeWrite(bytes: 1 << 20); return true } catch { return false }
    }

    private func clearDiskAlarm() {
        guard let alarm = diskAlarm else { return }
        do {
            let (core, applied, _) = try Self.restoreCore(options, store, stateMachine)
            raw = core
            driver.app.reset(applied: applied)
        } catch let e as StorageError where e.isDiskRefusal {
            scheduleDiskProbe()   // installing a pending snapshot needed more space than the probe
            return
        } catch {
            logger.error("restoring the raft core after the disk alarm failed; stopping", [("error", error)])
            fatalError("restore after disk alarm failed: \(error)")
        }
        diskAlarm = nil
        logger.info("disk_alarm_cleared", [("stage", alarm.stage), ("seconds", (EventLoop.nowMillis() - alarm.sinceMillis) / 1000),
                                          ("droppedMessages", alarm.droppedMessages), ("applied", appliedState.index)])
        publish()
        refreshPeers()
        scheduleReady()
    }

    /// Peers to connect to: every member of the configuration but us, at the address the
    /// replicated member directory (or, failing that, the static configuration) gives.
    private func refreshPeers() {
        var addresses = configuredPeers
        for (id, raft) in (try? stateMachine.raftAddresses()) ?? [:] {
            if let a = try? SocketAddress(parsing: raft) { addresses[id] = a }
        }
        let conf = raw.configuration
        var peers = [UInt64: SocketAddress]()
        for id in conf.members where id != options.id {
            if let a = addresses[id] { peers[id] = a }
        }
        // Statically configured peers stay reachable even when not (yet) in the
        // configuration: a joining node knows no configuration until the leader contacts it,
        // and must accept that leader's connection.
        if !conf.isMember(options.id) {
            for (id, a) in configuredPeers where id != options.id && peers[id] == nil { peers[id] = a }
        }
        sink.transport?.setPeers(peers)
    }
}

/// The log was compacted past what the state machine holds: entries it relied on are gone.
struct CompactedPastState: CorruptRecord {
    let description: String
}
