import Consensus

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

    var nodes: [RawNode?]
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
    var networkRNG: SplitMix64
    var clientRNG: SplitMix64

    /// Fault events currently in force and what each resolved to when it started.
    var active: [(event: Int, resolved: Int)] = []
    var crashedBy: [Int?]
    /// Leaders isolated by an active `leaderChurn` event, until the given tick.
    var churnIsolated: [(position: Int, until: Int)] = []
    var tick = 0

    /// Client writes awaiting their result, by entry key → proposing node.
    var pendingProposals: [UInt64: NodeID] = [:]
    var nextRequestID: UInt64 = 1
    var maxAcknowledgedIndex: UInt64 = 0
    /// Outstanding reads: context → known committed index when the read began.
    var pendingReads: [UInt64: UInt64] = [:]

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
        nodes = Array(repeating: nil, count: count)
        for position in 0..<count { nodes[position] = makeNode(position) }
    }

    public var networkProfile: NetworkProfile { network.profile }

    func makeNode(_ position: Int) -> RawNode {
        var config = RaftConfig(id: NodeID(position + 1), randomSeed: seed ^ UInt64(position + 1) &* 0x9E37_79B9 ^ UInt64(incarnations[position]) << 40)
        config.electionTicks = 10
        config.heartbeatTicks = 2
        config.maxMessageBytes = network.profile.maxMessageBytes
        config.maxInflightMessages = 8
        config.maxInflightBytes = 2048
        config.snapshotChunkBytes = 64
        return RawNode(config: config, restoringFrom: disks[position].persisted)
    }

    func note(_ text: @autoclosure () -> String) {
        if options.trace { trace.append("[\(tick)] \(text())") }
    }

    // MARK: - Run

    /// Runs the whole schedule. Returns the first violated property, or nil.
    public func run() -> SimulationFailure? {
        do {
            note("network: \(network.profile)")
            while tick < options.ticks {
                try step(chaos: true)
                tick += 1
            }
            try heal()
        } catch var failure {
            failure.tick = tick
            note("VIOLATION: \(failure.message)")
            for position in nodes.indices {
                if let node = nodes[position] { note("  node \(position + 1): \(node.status)") } else { note("  node \(position + 1): down") }
            }
            return failure
        }
        stats.messagesSent = network.sent
        stats.appliedEntries = checker.appliedCount
        stats.finalDigest = checker.digests.last ?? 0
        return nil
    }

    func step(chaos: Bool) throws(SimulationFailure) {
        if chaos { updateFaults(crashPhase: false) }
        for message in network.deliveries(at: tick, rng: &networkRNG) {
            let to = Int(message.to) - 1
            guard to >= 0, to < nodes.count, nodes[to] != nil,
                  !network.isBlocked(from: message.from, to: message.to) else { continue }
            nodes[to]!.step(message)
        }
        for position in nodes.indices where nodes[position] != nil {
            if chaos && tickSkipPercent[position] > 0 && clockRNG.chance(tickSkipPercent[position], in: 100) { continue }
            nodes[position]!.tick()
        }
        if chaos { clientTraffic() }
        // Leaders send appends and heartbeats before their own write (thesis 10.2.1, as the
        // Node driver does), so a crash can strike between that send and the write.
        var taken: [Ready?] = Array(repeating: nil, count: nodes.count)
        for position in nodes.indices where nodes[position]?.role == .leader && nodes[position]!.hasReady {
            var rd = nodes[position]!.ready()
            for message in rd.messages where message.kind == .append || message.kind == .heartbeat {
                network.send(message, at: tick, rng: &networkRNG)
            }
            rd.messages.removeAll { $0.kind == .append || $0.kind == .heartbeat }
            taken[position] = rd
        }
        if chaos {
            // Crashes strike after this tick's deliveries but before its writes reach disk,
            // so they lose every state change not yet persisted.
            updateFaults(crashPhase: true)
        }
        for position in nodes.indices where nodes[position] != nil { try processReady(position, taken: taken[position]) }
        try observeLeaders()
    }

    // MARK: - Ready processing (the application side of the RawNode contract)

    /// Carry out a node's `Ready` — `taken` if it was already drawn (and partly sent).
    func processReady(_ position: Int, taken: Ready? = nil) throws(SimulationFailure) {
        guard taken != nil || nodes[position]!.hasReady else { return }
        let id = NodeID(position + 1)
        let rd = taken ?? nodes[position]!.ready()
        // 1. Persist.
        if let snapshot = rd.snapshot { disks[position].persist(snapshot: snapshot) }
        var previousTerm: UInt64? = rd.entries.first.flatMap { disks[position].term(at: $0.index - 1) }
        for entry in rd.entries {
            guard let previous = previousTerm else { throw SimulationFailure("node \(id) persisted entry \(entry.index) after a gap") }
            try checker.observePersisted(entry, previousTerm: previous, node: id)
            previousTerm = entry.term
        }
        disks[position].persistEntriesAndHardState(rd)
        if let hardState = rd.hardState { checker.observeCommit(hardState.commit) }
        // 2. Send.
        for message in rd.messages { network.send(message, at: tick, rng: &networkRNG) }
        // 3. Install and apply.
        if let snapshot = rd.snapshot {
            guard let restored = SimStateMachine.restore(from: snapshot.data), restored.appliedIndex == snapshot.metadata.index else {
                throw SimulationFailure("node \(id) received a corrupt snapshot at \(snapshot.metadata.index)")
            }
            try checker.checkRestoredState(index: restored.appliedIndex, digest: restored.digest, node: id)
            machines[position] = restored
            stats.snapshotsInstalled += 1
            note("node \(id) installed snapshot at \(snapshot.metadata.index)")
        }
        for entry in rd.committedEntries {
            guard entry.index == machines[position].appliedIndex + 1 else {
                throw SimulationFailure("node \(id) asked to apply \(entry.index) after \(machines[position].appliedIndex)")
            }
            machines[position].apply(entry)
            let firstApplication = try checker.observeApplied(entry, node: id, digestAfter: machines[position].digest)
            let key = SimStateMachine.key(of: entry)
            if let proposer = pendingProposals[key], proposer == id {
                pendingProposals[key] = nil
                stats.proposalsAcknowledged += 1
                maxAcknowledgedIndex = max(maxAcknowledgedIndex, entry.index)
            }
            // Founding configuration entries (term 1) are not changes.
            if entry.kind == .confChange, let change = ConfChange(decoding: entry.data) {
                if firstApplication && entry.term > 1 { stats.membershipChangesApplied += 1 }
                note("node \(id) applied \(change.kind) \(change.node) at \(entry.index)")
            }
        }
        // 4. Reads.
        for read in rd.readStates {
            guard let committedAtStart = pendingReads.removeValue(forKey: read.context) else { continue }
            if read.index < committedAtStart {
                throw SimulationFailure("linearizability: read \(read.context) on node \(id) got index \(read.index) but \(committedAtStart) was committed before it began")
            }
            stats.readsCompleted += 1
        }
        nodes[position]!.advance(rd)
        // The application snapshots itself now and then, compacting the log.
        let machine = machines[position]
        if machine.appliedIndex >= disks[position].snapshot.metadata.index + compactEvery[position],
           let snapshot = nodes[position]!.compact(index: machine.appliedIndex, data: machine.snapshotData()) {
            disks[position].compact(snapshot)
        }
    }

    func observeLeaders() throws(SimulationFailure) {
        for position in nodes.indices {
            guard let node = nodes[position], node.role == .leader else { continue }
            if try checker.observeLeader(NodeID(position + 1), term: node.currentTerm) {
                stats.elections += 1
                note("node \(position + 1) leads term \(node.currentTerm)")
                try checker.checkLeaderCompleteness(node)
            }
        }
    }
}
