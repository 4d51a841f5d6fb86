import Consensus
import RaftDriver

/// One simulated cluster run from a seed: a network that drops, delays, duplicates and
/// reorders; partitions; crashes that lose unpersisted writes; clients that propose, read
/// and change membership. Raft's safety properties are checked after every tick; after the
/// chaos phase all faults heal and the cluster must make progress within a bound.
public final class Simulation {
    public let seed: UInt64
    public let options: SimulationOptions
    public let events: [FaultEvent]
    public internal(set) var stats = SimulationStats()
    public internal(set) var trace: [String] = []

    /// Each live node: the production Raft driver over this simulation's disk, network,
    /// state machine and clock (nil while crashed).
    var drivers: [SimDriver?]
    var disks: [SimDisk]
    var machines: [SimStateMachine]
    var incarnations: [Int]
    var compactEvery: [UInt64]
    /// Clock drift: during chaos each node misses this percentage of ticks, so timers run
    /// at different speeds on different nodes. Safety must not depend on clocks.
    var tickSkipPercent: [Int]
    var clockRNG: SplitMix64
    var network: SimNetwork
    var checker = SafetyChecker()
    /// The first message sent with a promise its sender's disk did not back (`PromiseOracle`)
    /// or addressed outside the cluster.
    var sendViolation: String?
    var networkRNG: SplitMix64
    var clientRNG: SplitMix64

    /// Fault events currently in force and what each resolved to when it started.
    var active: [(event: Int, resolved: Int)] = []
    var crashedBy: [Int?]
    /// Crashes decided in this tick's crash phase, struck while the node carries out its
    /// Ready, at the stage the event names.
    var crashing: [ReadyStage?]
    /// Leaders isolated by an active `leaderChurn` event, until the given tick.
    var churnIsolated: [(position: Int, until: Int)] = []
    /// holdingEvent[from * count + to]: the hold event capturing messages on that link.
    var holdingEvent: [Int?]
    var tick = 0

    /// Client writes awaiting their result, by entry key → proposing node.
    var pendingProposals: [UInt64: NodeID] = [:]
    /// Every client write's handle in `history`, by entry key.
    var writeHandles: [UInt64: Int] = [:]
    var nextRequestID: UInt64 = 1
    var maxAcknowledgedIndex: UInt64 = 0
    /// Reads waiting for their read index: context → the node asked, when, and the highest
    /// commit index any node had persisted when the read began.
    var pendingReads: [UInt64: (node: Int, invoked: Int, committedAtStart: UInt64)] = [:]
    /// Reads whose index is known, served once their node has applied up to it.
    var servingReads: [(node: Int, invoked: Int, index: UInt64)] = []
    /// What clients saw: checked for linearizability when the schedule ends.
    var history = LinearizabilityChecker()
    /// The last tick each node received a held or replayed message.
    var lastLateDelivery: [Int]
    /// Connection-loss reports on their way to a node's core (`Simulation+Resets.swift`), and
    /// their own random stream, so the fault plan of a seed is the same with or without them.
    var unreachableReports: [(at: Int, node: Int, peer: NodeID)] = []
    var resetRNG: SplitMix64
    /// Nodes whose driver asks for snapshot bytes and gets them ticks later, as production
    /// serializes off the driver's thread (the rest serialize inline). Own random stream.
    var serializesInBackground: [Bool]
    var serializeRNG: SplitMix64
    /// Bytes being serialized per node: handed to its driver at `ready` unless it restarted.
    var serializations: [(ready: Int, incarnation: Int, index: UInt64, data: [UInt8])?]
    /// The bytes being handed to a driver, for the compaction they cause (`SimPort.compact`).
    var delivered: [(index: UInt64, data: [UInt8])?]

    public init(seed: UInt64, options: SimulationOptions) {
        self.seed = seed
        self.options = options
        var scheduleRNG = SplitMix64(seed: seed)
        let profile = ScheduleGenerator.network(&scheduleRNG)
        events = ScheduleGenerator.events(&scheduleRNG, nodes: options.nodes, idCount: options.idCount, ticks: options.ticks)
        networkRNG = SplitMix64(seed: scheduleRNG.next())
        clientRNG = SplitMix64(seed: scheduleRNG.next())
        let count = options.idCount
        network = SimNetwork(count: count, profile: profile)
        let voters = (1...options.nodes).map { NodeID($0) }
        disks = (0..<count).map { position in
            SimDisk(position < options.nodes ? .bootstrap(voters: voters) : .joining)
        }
        machines = Array(repeating: SimStateMachine(), count: count)
        incarnations = Array(repeating: 0, count: count)
        compactEvery = (0..<count).map { _ in UInt64(8 + scheduleRNG.below(40)) }
        tickSkipPercent = (0..<count).map { _ in [0, 0, 5, 10, 25][scheduleRNG.below(5)] }
        clockRNG = SplitMix64(seed: scheduleRNG.next())
        crashedBy = Array(repeating: nil, count: count)
        crashing = Array(repeating: nil, count: count)
        drivers = Array(repeating: nil, count: count)
        holdingEvent = Array(repeating: nil, count: count * count)
        lastLateDelivery = Array(repeating: Int.min / 2, count: count)
        resetRNG = SplitMix64(seed: seed ^ 0xC0_11EC_7105_5EED)
        var serializeRNG = SplitMix64(seed: seed ^ 0x5E71_A112_E0FF_7EAD)
        serializesInBackground = (0..<count).map { _ in serializeRNG.below(2) == 0 }
        self.serializeRNG = serializeRNG
        serializations = Array(repeating: nil, count: count)
        delivered = Array(repeating: nil, count: count)
        for position in 0..<count { drivers[position] = makeNode(position) }
    }

    public var networkProfile: NetworkProfile { network.profile }

    func makeNode(_ position: Int) -> SimDriver {
        var config = RaftConfig(id: NodeID(position + 1), randomSeed: seed ^ UInt64(position + 1) &* 0x9E37_79B9 ^ UInt64(incarnations[position]) << 40)
        config.electionTicks = 10
        config.heartbeatTicks = 2
        config.maxMessageBytes = network.profile.maxMessageBytes
        config.maxInflightMessages = 8
        config.maxInflightBytes = 2048
        config.snapshotChunkBytes = 64
        let port = SimPort(self, position)
        let driver = SimDriver(core: RawNode(config: config, restoringFrom: disks[position].persisted),
                               log: port, sink: port, app: port, clock: port, compactEvery: compactEvery[position])
        driver.serializesInBackground = serializesInBackground[position]
        return driver
    }

    func note(_ text: @autoclosure () -> String) {
        if options.trace { trace.append("[\(tick)] \(text())") }
    }

    // MARK: - Run

    /// Runs the whole schedule. Returns the first violated property, or nil.
    public func run() -> SimulationFailure? {
        do throws(SimulationFailure) {
            note("network: \(network.profile)")
            while tick < options.ticks {
                try step(chaos: true)
                tick += 1
            }
            try heal()
            if let why = history.violation() { throw SimulationFailure("linearizability: \(why)") }
        } catch var failure {
            failure.tick = tick
            note("VIOLATION: \(failure.message)")
            for position in drivers.indices {
                if let node = drivers[position]?.core { note("  node \(position + 1): \(node.status)") } else { note("  node \(position + 1): down") }
            }
            return failure
        }
        stats.messagesSent = network.sent
        stats.lateDeliveries = network.staleDelivered
        stats.appliedEntries = checker.appliedCount
        stats.finalDigest = checker.digests.last ?? 0
        return nil
    }

    func step(chaos: Bool) throws(SimulationFailure) {
        if chaos { updateFaults(crashPhase: false) }
        for (message, late) in network.deliveries(at: tick, rng: &networkRNG) {
            let to = Int(message.to) - 1
            guard to >= 0, to < drivers.count, drivers[to] != nil,
                  !network.isBlocked(from: message.from, to: message.to) else { continue }
            if late { lastLateDelivery[to] = tick }
            drivers[to]!.core.step(message)
        }
        if chaos { deliverUnreachableReports() }
        for position in drivers.indices where drivers[position] != nil {
            if chaos && tickSkipPercent[position] > 0 && clockRNG.chance(tickSkipPercent[position], in: 100) { continue }
            if chaos && clockStalled(position) { continue }
            drivers[position]!.core.tick()
        }
        if chaos {
            clientTraffic()
            // Crashes are decided here and strike while the node carries out its Ready,
            // at the stage their event names: before its write, between write and send,
            // between send and apply, or between apply and advance.
            updateFaults(crashPhase: true)
        }
        deliverSerializedSnapshots()
        for position in drivers.indices where drivers[position] != nil { try carryOutReady(position) }
        serveReads()
        try observeLeaders()
    }

    // MARK: - Ready processing (the production driver; checks hang off the ports)

    func carryOutReady(_ position: Int) throws(SimulationFailure) {
        let driver = drivers[position]!
        let stopAt = crashing[position]
        let stopped: ReadyStage?
        do {
            stopped = try driver.drain(stopAt: stopAt) { rd throws(SimulationFailure) in try self.completed(rd, on: position) }
        } catch {
            if let failure = error.underlying as? SimulationFailure { throw failure }
            throw SimulationFailure("node \(position + 1): \(error)")
        }
        if let why = sendViolation { throw SimulationFailure(why) }
        if let stage = stopped {
            crashing[position] = nil
            goDown(position)
            note("node \(position + 1) crashed at stage \(stage.rawValue)")
        } else if driver.takeSnapshotRequest() {
            // The state as of now, as production reads it in one transaction; the bytes
            // arrive up to 30 ticks later, while the node goes on applying.
            let machine = machines[position]
            serializations[position] = (tick + 1 + serializeRNG.below(30), incarnations[position], machine.appliedIndex, machine.snapshotData())
            note("node \(position + 1) serializing its state at \(machine.appliedIndex) in the background")
        }
    }

    /// Background serializations that are done reach their driver; one in ten fails, and
    /// the driver must ask again.
    func deliverSerializedSnapshots() {
        for position in serializations.indices {
            guard let s = serializations[position], s.ready <= tick else { continue }
            serializations[position] = nil
            guard let driver = drivers[position], incarnations[position] == s.incarnation else { continue }
            if serializeRNG.below(10) == 0 {
                driver.snapshotSerialized(.failure(SimulationFailure("simulated serialization failure")))
                note("node \(position + 1): background serialization failed")
            } else {
                delivered[position] = (s.index, s.data)
                driver.snapshotSerialized(.success((s.index, s.data)))
                delivered[position] = nil
                stats.snapshotsSerialized += 1
                note("node \(position + 1): serialized state at \(s.index) delivered")
            }
        }
    }

    /// Step 1 of the Ready contract, with the log-matching check on what reaches the disk.
    func persist(_ position: Int, hardState: HardState?, entries: [Entry], snapshot: Snapshot?) throws(SimulationFailure) {
        let id = NodeID(position + 1)
        if let snapshot { disks[position].persist(snapshot: snapshot) }
        var previousTerm: UInt64? = entries.first.flatMap { disks[position].term(at: $0.index - 1) }
        for entry in entries {
            guard let previous = previousTerm else { throw SimulationFailure("node \(id) persisted entry \(entry.index) after a gap") }
            try checker.observePersisted(entry, previousTerm: previous, node: id)
            previousTerm = entry.term
        }
        disks[position].persist(entries: entries, hardState: hardState)
        if let hardState { checker.observeCommit(hardState.commit, term: hardState.term) }
    }

    func install(_ position: Int, _ snapshot: Snapshot) throws(SimulationFailure) {
        let id = NodeID(position + 1)
        guard let restored = SimStateMachine.restore(from: snapshot.data), restored.appliedIndex == snapshot.metadata.index else {
            throw SimulationFailure("node \(id) received a corrupt snapshot at \(snapshot.metadata.index)")
        }
        try checker.checkRestoredState(index: restored.appliedIndex, digest: restored.digest, node: id)
        machines[position] = restored
        stats.snapshotsInstalled += 1
        note("node \(id) installed snapshot at \(snapshot.metadata.index)")
    }

    func apply(_ position: Int, _ entries: [Entry]) throws(SimulationFailure) {
        let id = NodeID(position + 1)
        for entry in entries {
            guard entry.index == machines[position].appliedIndex + 1 else {
                throw SimulationFailure("node \(id) asked to apply \(entry.index) after \(machines[position].appliedIndex)")
            }
            machines[position].apply(entry)
            let firstApplication = try checker.observeApplied(entry, node: id, digestAfter: machines[position].digest)
            let key = SimStateMachine.key(of: entry)
            if firstApplication, let handle = writeHandles[key], !history.committed(handle, at: entry.index) {
                throw SimulationFailure("state machine safety: the client write at index \(entry.index) was already applied at \(history.writes[handle].index!)")
            }
            if let proposer = pendingProposals[key], proposer == id {
                pendingProposals[key] = nil
                stats.proposalsAcknowledged += 1
                maxAcknowledgedIndex = max(maxAcknowledgedIndex, entry.index)
                if let handle = writeHandles[key] { history.acknowledged(handle, at: tick) }
            }
            // Founding configuration entries (term 1) are not changes.
            if entry.kind == .confChange, let change = ConfChange(decoding: entry.data) {
                if firstApplication && entry.term > 1 { stats.membershipChangesApplied += 1 }
                note("node \(id) applied \(change.kind) \(change.node) at \(entry.index)")
            }
        }
    }

    /// Step 4: a read's index must cover everything committed before it began; the read is
    /// served once its node has applied up to that index (`serveReads`).
    func completed(_ rd: Ready, on position: Int) throws(SimulationFailure) {
        for read in rd.readStates {
            guard let pending = pendingReads[read.context] else { continue }
            guard pending.node == position else {
                throw SimulationFailure("read index: read \(read.context) asked of node \(pending.node + 1) was answered on node \(position + 1)")
            }
            pendingReads[read.context] = nil
            if read.index < pending.committedAtStart {
                throw SimulationFailure("linearizability: read \(read.context) on node \(position + 1) got index \(read.index) but \(pending.committedAtStart) was committed before it began")
            }
            servingReads.append((position, pending.invoked, read.index))
        }
    }

    /// Serve every read whose node has applied up to its index, at the node's applied
    /// index: the value a client of that replica would see.
    func serveReads() {
        guard !servingReads.isEmpty else { return }
        servingReads.removeAll { read in
            guard drivers[read.node] != nil else { return true }  // lost with its node
            let applied = machines[read.node].appliedIndex
            guard applied >= read.index else { return false }
            history.add(LinearizabilityChecker.Read(invoked: read.invoked, completed: tick, observed: applied, node: read.node + 1))
            stats.readsCompleted += 1
            if tick - lastLateDelivery[read.node] <= 40 { stats.readsAfterLateDelivery += 1 }
            return true
        }
    }

    func observeLeaders() throws(SimulationFailure) {
        for position in drivers.indices {
            guard let node = drivers[position]?.core, node.role == .leader else { continue }
            if try checker.observeLeader(NodeID(position + 1), term: node.currentTerm) {
                stats.elections += 1
                note("node \(position + 1) leads term \(node.currentTerm)")
                try checker.checkLeaderCompleteness(node)
            }
        }
    }
}
