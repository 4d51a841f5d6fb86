import Consensus

/// Counts describing what a schedule exercised, so tests can prove it was not vacuous.
public struct SimulationStats: Sendable, Equatable {
    public var proposalsAccepted = 0
    public var proposalsAcknowledged = 0
    public var readsCompleted = 0
    public var elections = 0
    public var crashes = 0
    public var snapshotsInstalled = 0
    public var membershipChangesApplied = 0
    public var messagesSent = 0
    public var appliedEntries: UInt64 = 0
    public var healTicks = 0
    public var finalDigest: UInt64 = 0

    public init() {}

    public mutating func add(_ other: SimulationStats) {
        proposalsAccepted += other.proposalsAccepted
        proposalsAcknowledged += other.proposalsAcknowledged
        readsCompleted += other.readsCompleted
        elections += other.elections
        crashes += other.crashes
        snapshotsInstalled += other.snapshotsInstalled
        membershipChangesApplied += other.membershipChangesApplied
        messagesSent += other.messagesSent
        appliedEntries += other.appliedEntries
        healTicks = max(healTicks, other.healTicks)
    }
}

/// One simulated cluster run from a seed: a network that drops, delays, duplicates and
/// reorders; partitions; crashes that lose unpersisted writes; clients that propose, read
/// and change membership. Raft's safety properties are checked after every tick; after the
/// chaos phase all faults heal and the cluster must make progress within a bound.
public final class Simulation {
    public let seed: UInt64
    public let options: SimulationOptions
    public let events: [FaultEvent]
    public private(set) var stats = SimulationStats()
    public private(set) var trace: [String] = []

    private var nodes: [RawNode?]
    private var disks: [SimDisk]
    private var machines: [SimStateMachine]
    private var incarnations: [Int]
    private var compactEvery: [UInt64]
    private var network: SimNetwork
    private var checker = SafetyChecker()
    private var networkRNG: SplitMix64
    private var clientRNG: SplitMix64

    /// Fault events currently in force and what each resolved to when it started.
    private var active: [(event: Int, resolved: Int)] = []
    private var crashedBy: [Int?]
    /// Leaders isolated by an active `leaderChurn` event, until the given tick.
    private var churnIsolated: [(position: Int, until: Int)] = []
    private var tick = 0

    /// Client writes awaiting their result, by entry key → proposing node.
    private var pendingProposals: [UInt64: NodeID] = [:]
    private var nextRequestID: UInt64 = 1
    private var maxAcknowledgedIndex: UInt64 = 0
    /// Outstanding reads: context → known committed index when the read began.
    private var pendingReads: [UInt64: UInt64] = [:]

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
        crashedBy = Array(repeating: nil, count: count)
        nodes = Array(repeating: nil, count: count)
        for position in 0..<count { nodes[position] = makeNode(position) }
    }

    public var networkProfile: NetworkProfile { network.profile }

    private func makeNode(_ position: Int) -> RawNode {
        var config = RaftConfig(id: NodeID(position + 1), randomSeed: seed ^ UInt64(position + 1) &* 0x9E37_79B9 ^ UInt64(incarnations[position]) << 40)
        config.electionTicks = 10
        config.heartbeatTicks = 2
        config.maxMessageBytes = network.profile.maxMessageBytes
        config.maxInflightMessages = 8
        config.maxInflightBytes = 2048
        config.snapshotChunkBytes = 64
        return RawNode(config: config, restoringFrom: disks[position].persisted)
    }

    private func note(_ text: @autoclosure () -> String) {
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

    private func step(chaos: Bool) throws(SimulationFailure) {
        if chaos { updateFaults(crashPhase: false) }
        for message in network.deliveries(at: tick, rng: &networkRNG) {
            let to = Int(message.to) - 1
            guard to >= 0, to < nodes.count, nodes[to] != nil,
                  !network.isBlocked(from: message.from, to: message.to) else { continue }
            nodes[to]!.step(message)
        }
        for position in nodes.indices where nodes[position] != nil { nodes[position]!.tick() }
        if chaos {
            clientTraffic()
            // Crashes strike after this tick's deliveries but before its writes reach disk,
            // so they lose every state change not yet persisted.
            updateFaults(crashPhase: true)
        }
        for position in nodes.indices where nodes[position] != nil { try processReady(position) }
        try observeLeaders()
    }

    // MARK: - Ready processing (the application side of the RawNode contract)

    private func processReady(_ position: Int) throws(SimulationFailure) {
        guard nodes[position]!.hasReady else { return }
        let id = NodeID(position + 1)
        let rd = nodes[position]!.ready()
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

    private func observeLeaders() throws(SimulationFailure) {
        for position in nodes.indices {
            guard let node = nodes[position], node.role == .leader else { continue }
            if try checker.observeLeader(NodeID(position + 1), term: node.currentTerm) {
                stats.elections += 1
                note("node \(position + 1) leads term \(node.currentTerm)")
                try checker.checkLeaderCompleteness(node)
            }
        }
    }

    // MARK: - Clients

    private func currentLeader() -> Int? {
        var best: Int?
        for position in nodes.indices {
            guard let node = nodes[position], node.role == .leader else { continue }
            if best == nil || node.currentTerm > nodes[best!]!.currentTerm { best = position }
        }
        return best
    }

    private func randomLiveNode() -> Int? {
        let start = clientRNG.below(nodes.count)
        for k in 0..<nodes.count where nodes[(start + k) % nodes.count] != nil { return (start + k) % nodes.count }
        return nil
    }

    private func newRequestData() -> [UInt8] {
        let id = nextRequestID
        nextRequestID += 1
        return (0..<8).map { UInt8(truncatingIfNeeded: id >> UInt64(56 - 8 * $0)) }
    }

    @discardableResult
    private func propose(at position: Int) -> UInt64? {
        let data = newRequestData()
        guard let index = try? nodes[position]!.propose(data) else { return nil }
        pendingProposals[SimStateMachine.key(of: Entry(term: 0, index: 0, data: data))] = NodeID(position + 1)
        stats.proposalsAccepted += 1
        return index
    }

    private func clientTraffic() {
        if clientRNG.chance(30, in: 100) {
            let target = clientRNG.chance(8, in: 10) ? currentLeader() : randomLiveNode()
            if let target { propose(at: target) }
        }
        if clientRNG.chance(10, in: 100), let target = randomLiveNode() {
            let context = nextRequestID
            nextRequestID += 1
            if nodes[target]!.readIndex(context: context) {
                pendingReads[context] = checker.knownCommitted
            }
        }
    }

    // MARK: - Faults

    /// Start and end fault events. Crashes start in the crash phase; everything else (and
    /// every ending) at the start of the tick.
    private func updateFaults(crashPhase: Bool) {
        var changed = false
        if !crashPhase {
            var stillActive: [(event: Int, resolved: Int)] = []
            for item in active {
                let event = events[item.event]
                if tick >= event.start + event.duration {
                    end(item)
                    changed = true
                } else {
                    stillActive.append(item)
                }
            }
            active = stillActive
            changed = updateChurn() || changed
        }
        for index in events.indices where events[index].start == tick && isKept(index) {
            let isCrash: Bool
            switch events[index].kind {
            case .crash, .crashLeader: isCrash = true
            default: isCrash = false
            }
            guard isCrash == crashPhase else { continue }
            if let resolved = begin(index) {
                active.append((index, resolved))
                changed = true
            }
        }
        if changed { recomputeLinks() }
    }

    /// While a churn event is active, now and then cut the current leader off for a few
    /// ticks. Returns true if the set of isolated nodes changed.
    private func updateChurn() -> Bool {
        let before = churnIsolated.count
        churnIsolated.removeAll { $0.until <= tick }
        var changed = churnIsolated.count != before
        let churning = active.contains { if case .leaderChurn = events[$0.event].kind { return true } else { return false } }
        if churning, clientRNG.chance(1, in: 4), let leader = currentLeader(),
           !churnIsolated.contains(where: { $0.position == leader }) {
            churnIsolated.append((leader, tick + 1 + clientRNG.below(6)))
            note("churn: isolate leader \(leader + 1)")
            changed = true
        }
        return changed
    }

    private func isKept(_ index: Int) -> Bool { options.keptEvents?.contains(index) ?? true }

    /// Start event `index`; returns what it resolved to (a node position or -1), or nil if
    /// it does not apply now.
    private func begin(_ index: Int) -> Int? {
        let event = events[index]
        switch event.kind {
        case .symmetricPartition, .oneWay, .bridge, .leaderChurn:
            note("start \(event)")
            return -1
        case .isolateLeader:
            guard let leader = currentLeader() else { return nil }
            note("start isolate leader \(leader + 1) for \(event.duration) ticks")
            return leader
        case .crash(let node):
            return crash(node, byEvent: index)
        case .crashLeader:
            guard let leader = currentLeader() else { return nil }
            return crash(leader, byEvent: index)
        case .transferLeadership:
            guard let leader = currentLeader() else { return nil }
            let voters = nodes[leader]!.configuration.voters.filter { $0 != NodeID(leader + 1) }
            guard !voters.isEmpty else { return nil }
            let target = voters[clientRNG.below(voters.count)]
            note("leader \(leader + 1) transfers leadership to \(target)")
            nodes[leader]!.transferLeadership(to: target)
            return nil
        case .membershipChange:
            changeMembership()
            return nil
        case .removeLeader:
            guard let leader = currentLeader(), nodes[leader]!.configuration.voters.count >= 2 else { return nil }
            proposeChange(ConfChange(.removeNode, node: NodeID(leader + 1)), at: leader)
            return nil
        }
    }

    private func end(_ item: (event: Int, resolved: Int)) {
        let event = events[item.event]
        switch event.kind {
        case .crash, .crashLeader:
            if crashedBy[item.resolved] == item.event { restart(item.resolved) }
        default:
            note("end \(event)")
        }
    }

    private func crash(_ position: Int, byEvent event: Int) -> Int? {
        guard nodes[position] != nil else { return nil }
        nodes[position] = nil
        machines[position] = SimStateMachine()
        crashedBy[position] = event
        stats.crashes += 1
        note("crash node \(position + 1) for \(events[event].duration) ticks")
        return position
    }

    private func restart(_ position: Int) {
        crashedBy[position] = nil
        incarnations[position] += 1
        nodes[position] = makeNode(position)
        if let machine = SimStateMachine.restore(from: disks[position].snapshot.data) { machines[position] = machine }
        note("restart node \(position + 1) (term \(disks[position].hardState.term), vote \(disks[position].hardState.vote), \(disks[position].entries.count) entries after snapshot \(disks[position].snapshot.metadata.index))")
    }

    private func changeMembership() {
        guard let leader = currentLeader() else { return }
        let conf = nodes[leader]!.configuration
        let change: ConfChange
        if let learner = conf.learners.first {
            change = ConfChange(.addVoter, node: learner)
        } else {
            let spares = (1...NodeID(nodes.count)).filter { !conf.isMember($0) }
            if !spares.isEmpty && (conf.voters.count < 3 || clientRNG.chance(1, in: 2)) {
                change = ConfChange(.addLearner, node: spares[clientRNG.below(spares.count)])
            } else {
                guard conf.voters.count >= 3 else { return }
                let others = conf.voters.filter { $0 != NodeID(leader + 1) }
                change = ConfChange(.removeNode, node: others[clientRNG.below(others.count)])
            }
        }
        proposeChange(change, at: leader)
    }

    private func proposeChange(_ change: ConfChange, at leader: Int) {
        do {
            let index = try nodes[leader]!.proposeConfChange(change)
            note("leader \(leader + 1) proposes \(change.kind) \(change.node) at \(index)")
        } catch {
            note("leader \(leader + 1) refuses \(change.kind) \(change.node): \(error)")
        }
    }

    private func recomputeLinks() {
        let count = nodes.count
        var blocked = Array(repeating: false, count: count * count)
        func cut(_ a: Int, _ b: Int) { if a != b { blocked[a * count + b] = true } }
        for item in active {
            switch events[item.event].kind {
            case .symmetricPartition(let side):
                for a in 0..<count { for b in 0..<count where (side >> UInt32(a) & 1) != (side >> UInt32(b) & 1) { cut(a, b) } }
            case .oneWay(let from, let to):
                cut(from, to)
            case .isolateLeader:
                for other in 0..<count { cut(item.resolved, other); cut(other, item.resolved) }
            case .bridge(let side, let bridge):
                for a in 0..<count where a != bridge {
                    for b in 0..<count where b != bridge && (side >> UInt32(a) & 1) != (side >> UInt32(b) & 1) { cut(a, b) }
                }
            default:
                break
            }
        }
        for isolated in churnIsolated {
            for other in 0..<count { cut(isolated.position, other); cut(other, isolated.position) }
        }
        network.setBlocked(blocked)
    }

    // MARK: - Heal and liveness

    /// End every fault, make the network reliable, and require that within `healBound`
    /// ticks a leader commits a new proposal that every member applies, along with every
    /// write acknowledged earlier.
    private func heal() throws(SimulationFailure) {
        note("heal: all faults end, network reliable")
        for item in active { end(item) }
        active.removeAll()
        churnIsolated.removeAll()
        recomputeLinks()
        for position in nodes.indices where nodes[position] == nil { restart(position) }
        network.profile = NetworkProfile(dropPercent: 0, duplicatePercent: 0, maxMessageBytes: network.profile.maxMessageBytes, maxDelay: 1, spikePercent: 0)
        let healStart = tick
        var probe: (index: UInt64, leader: Int, key: UInt64, proposedAt: Int)?
        while tick - healStart < options.healBound {
            try step(chaos: false)
            tick += 1
            if let leader = currentLeader(), nodes[leader]!.configuration.isVoter(NodeID(leader + 1)) {
                if probe == nil || probe!.leader != leader || tick - probe!.proposedAt > 60 {
                    let data = newRequestData()
                    if let index = try? nodes[leader]!.propose(data) {
                        probe = (index, leader, SimStateMachine.key(of: Entry(term: 0, index: 0, data: data)), tick)
                    }
                }
                if let probe, isApplied(probe.index, key: probe.key, byMembersOf: leader) {
                    stats.healTicks = tick - healStart
                    return
                }
            }
        }
        throw SimulationFailure("liveness: no proposal committed and applied on every member within \(options.healBound) ticks after faults healed")
    }

    private func isApplied(_ index: UInt64, key: UInt64, byMembersOf leader: Int) -> Bool {
        guard checker.entryKey(at: index) == key else { return false }
        let needed = max(index, maxAcknowledgedIndex)
        for member in nodes[leader]!.configuration.members {
            guard machines[Int(member - 1)].appliedIndex >= needed else { return false }
        }
        return true
    }
}
