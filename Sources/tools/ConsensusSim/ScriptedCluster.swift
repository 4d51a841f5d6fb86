import Consensus
import RaftDriver

/// A small cluster driven step by step, for readable scenario tests: the test decides
/// which links work, when messages move (one hop per `deliverRound`), who crashes and
/// who campaigns. Ready processing follows the same durability contract as `Simulation`.
public final class ScriptedCluster {
    /// Each live node: the production driver over this cluster's disks and message queue.
    private var drivers: [NodeID: RaftDriver<ScriptedPort, ScriptedPort, ScriptedPort, ScriptedPort>] = [:]
    public var nodes: [NodeID: RawNode] { drivers.mapValues(\.core) }
    fileprivate var disks: [NodeID: SimDisk] = [:]
    fileprivate var machines: [NodeID: SimStateMachine] = [:]
    private var incarnation: [NodeID: UInt64] = [:]
    fileprivate var queue: [Message] = []
    private var cutLinks: Set<[NodeID]> = []
    private let configure: (inout RaftConfig) -> Void
    /// Application data applied by each node since it last started, in order.
    public fileprivate(set) var appliedData: [NodeID: [[UInt8]]] = [:]
    /// Completed reads per node, in order.
    public private(set) var readStates: [NodeID: [ReadState]] = [:]
    /// Snapshots each node installed from a leader.
    public fileprivate(set) var snapshotsInstalled: [NodeID: Int] = [:]
    /// Messages delivered, by kind.
    public private(set) var delivered: [Message.Kind: Int] = [:]
    /// Optional hook run on every message about to be delivered: it may rewrite the message
    /// (e.g. strip entries) and returns false to drop it.
    public var intercept: ((inout Message) -> Bool)?
    /// Optional observer of every step of every Ready the drivers carry out, and of every
    /// message lost in delivery, as readable lines (the transcript tests print these).
    public var observe: ((String) -> Void)?

    /// `voters` founding members with ids 1...voters, plus `spares` empty nodes that can be
    /// added later.
    public init(voters: Int, spares: Int = 0, configure: @escaping (inout RaftConfig) -> Void = { _ in }) {
        self.configure = configure
        let founders = (1...voters).map { NodeID($0) }
        for id in 1...NodeID(voters + spares) {
            disks[id] = SimDisk(id <= NodeID(voters) ? .bootstrap(voters: founders) : .joining)
            start(id)
        }
    }

    public var ids: [NodeID] { disks.keys.sorted() }

    public func node(_ id: NodeID) -> RawNode { nodes[id]! }

    public func status(_ id: NodeID) -> NodeStatus { drivers[id]!.core.status }

    public func isUp(_ id: NodeID) -> Bool { drivers[id] != nil }

    /// The live leader with the highest term, if any.
    public var leader: NodeID? {
        drivers.values.map(\.core).filter { $0.role == .leader }.max { $0.currentTerm < $1.currentTerm }?.status.id
    }

    public func stateDigest(_ id: NodeID) -> UInt64 { machines[id]!.digest }

    // MARK: Network

    public func cut(_ a: NodeID, _ b: NodeID) {
        cutLinks.insert([a, b])
        cutLinks.insert([b, a])
    }

    /// Lose messages from `from` to `to` only; the other direction keeps working.
    public func cutOneWay(from: NodeID, to: NodeID) {
        cutLinks.insert([from, to])
    }

    /// Cut every link of `id`.
    public func isolate(_ id: NodeID) {
        for other in ids where other != id { cut(id, other) }
    }

    /// Leave only links inside `group` (and none between it and the rest, or in the rest).
    public func allowOnly(_ group: Set<NodeID>) {
        cutLinks.removeAll()
        for a in ids { for b in ids where a != b && !(group.contains(a) && group.contains(b)) { cut(a, b) } }
    }

    public func healNetwork() { cutLinks.removeAll() }

    /// Deliver every message currently in flight (one hop); new replies wait for the next
    /// round. Messages over cut links or to crashed nodes are lost.
    public func deliverRound(to recipients: Set<NodeID>? = nil) {
        var batch: [Message] = []
        var kept: [Message] = []
        for message in queue {
            if recipients?.contains(message.to) ?? true { batch.append(message) } else { kept.append(message) }
        }
        queue = kept
        for var message in batch {
            guard drivers[message.to] != nil else { observe?("lost \(TranscriptFormat.message(message)) (node \(message.to) is down)"); continue }
            guard !cutLinks.contains([message.from, message.to]) else { observe?("lost \(TranscriptFormat.message(message)) (link cut)"); continue }
            guard intercept?(&message) ?? true else { continue }
            delivered[message.kind, default: 0] += 1
            drivers[message.to]!.core.step(message)
            processReady(message.to)
        }
    }

    /// Messages sent and not yet delivered.
    public var inFlight: [Message] { queue }

    /// Put a hand-written message in flight, as if `message.from` had sent it.
    public func inject(_ message: Message) { queue.append(message) }

    /// Remove in-flight messages the predicate selects; returns them.
    @discardableResult
    public func drop(where predicate: (Message) -> Bool) -> [Message] {
        let dropped = queue.filter(predicate)
        queue.removeAll(where: predicate)
        return dropped
    }

    /// Advance one node's clock by `ticks`, carrying out its Readies; nothing is delivered.
    public func tick(_ id: NodeID, _ ticks: Int = 1) {
        for _ in 0..<ticks {
            drivers[id]!.core.tick()
            processReady(id)
        }
    }

    /// The entries on `id`'s disk after its snapshot, and that snapshot's index and term.
    public func persisted(_ id: NodeID) -> PersistedState { disks[id]!.persisted }

    /// Deliver rounds until nothing is in flight (bounded).
    public func settle(maxRounds: Int = 200) {
        var rounds = 0
        while !queue.isEmpty && rounds < maxRounds {
            deliverRound()
            rounds += 1
        }
    }

    /// Advance time on every live node, delivering one round per tick.
    public func run(ticks: Int) {
        for _ in 0..<ticks {
            for id in ids where drivers[id] != nil {
                drivers[id]!.core.tick()
                processReady(id)
            }
            deliverRound()
        }
    }

    // MARK: Node control

    /// The transport tells `id` that `peer` is unreachable (its connection reset, a redial failed).
    public func reportUnreachable(_ id: NodeID, _ peer: NodeID) {
        drivers[id]!.core.reportUnreachable(peer)
        processReady(id)
    }

    public func campaign(_ id: NodeID) {
        drivers[id]!.core.campaign()
        processReady(id)
    }

    /// Campaign and settle until `id` leads (a few attempts, since a first pre-vote round
    /// may only teach it the current term).
    @discardableResult
    public func elect(_ id: NodeID) -> Bool {
        for _ in 0..<4 {
            campaign(id)
            settle()
            if drivers[id]?.core.role == .leader { return true }
        }
        return false
    }

    @discardableResult
    public func propose(_ id: NodeID, _ data: [UInt8]) throws(ProposalError) -> UInt64 {
        let index = try drivers[id]!.core.propose(data)
        processReady(id)
        return index
    }

    /// Proposals that arrive together, as under load: all stepped, then one Ready.
    @discardableResult
    public func propose(_ id: NodeID, batch: [[UInt8]]) throws(ProposalError) -> [UInt64] {
        var indices: [UInt64] = []
        for data in batch { indices.append(try drivers[id]!.core.propose(data)) }
        processReady(id)
        return indices
    }

    @discardableResult
    public func proposeConfChange(_ id: NodeID, _ change: ConfChange) throws(ProposalError) -> UInt64 {
        let index = try drivers[id]!.core.proposeConfChange(change)
        processReady(id)
        return index
    }

    public func readIndex(_ id: NodeID, context: UInt64) -> Bool {
        let accepted = drivers[id]!.core.readIndex(context: context)
        processReady(id)
        return accepted
    }

    public func transferLeadership(from id: NodeID, to target: NodeID) {
        drivers[id]!.core.transferLeadership(to: target)
        processReady(id)
    }

    /// The application on `id` snapshots its state and compacts the log.
    public func compact(_ id: NodeID) {
        try! drivers[id]!.compactNow()
    }

    /// Lose the node and everything it had not persisted.
    public func crash(_ id: NodeID) {
        drivers[id] = nil
    }

    public func restart(_ id: NodeID) {
        precondition(drivers[id] == nil, "node \(id) is running")
        start(id)
    }

    private func start(_ id: NodeID) {
        incarnation[id, default: 0] += 1
        var config = RaftConfig(id: id, randomSeed: id &* 7919 &+ incarnation[id]!)
        configure(&config)
        let port = ScriptedPort(self, id)
        drivers[id] = RaftDriver(core: RawNode(config: config, restoringFrom: disks[id]!.persisted),
                                 log: port, sink: port, app: port, clock: port, compactEvery: .max)
        machines[id] = SimStateMachine.restore(from: disks[id]!.machineState) ?? SimStateMachine()
        appliedData[id] = []
        processReady(id)
    }

    private func processReady(_ id: NodeID) {
        do {
            try drivers[id]!.drain { rd in
                self.readStates[id, default: []].append(contentsOf: rd.readStates)
                for read in rd.readStates { self.observe?("\(id): read ready context \(read.context) index \(read.index)") }
            }
        } catch {
            preconditionFailure("node \(id): \(error)")
        }
    }
}

/// A scripted node's disk, outbox and state machine, as the driver sees them.
private final class ScriptedPort: RaftLogStorage, RaftMessageSink, RaftApplication, DriverClock {
    unowned let cluster: ScriptedCluster
    let id: NodeID

    init(_ cluster: ScriptedCluster, _ id: NodeID) {
        self.cluster = cluster
        self.id = id
    }

    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?) throws {
        if let observe = cluster.observe {
            var parts: [String] = []
            if let hs = hardState { parts.append("hard state term \(hs.term) vote \(hs.vote) commit \(hs.commit)") }
            if !entries.isEmpty { parts.append("entries \(TranscriptFormat.entries(entries))") }
            if let snapshot { parts.append("snapshot \(snapshot.metadata.index)/\(snapshot.metadata.term)") }
            if !parts.isEmpty { observe("\(id): persist \(parts.joined(separator: ", "))") }
        }
        if let snapshot { cluster.disks[id]!.persist(snapshot: snapshot) }
        cluster.disks[id]!.persist(entries: entries, hardState: hardState)
    }

    func compact(snapshot: Snapshot) throws {
        let machine = cluster.machines[id]!
        precondition(machine.appliedIndex == snapshot.metadata.index, "compacted at the applied index")
        cluster.disks[id]!.compact(snapshot, state: machine.snapshotData())
    }

    func send(_ message: Message) {
        cluster.observe?("\(id): send \(TranscriptFormat.message(message))")
        cluster.queue.append(message)
    }

    func install(_ snapshot: Snapshot) throws {
        cluster.observe?("\(id): install snapshot \(snapshot.metadata.index)/\(snapshot.metadata.term) voters \(snapshot.metadata.conf.voters) learners \(snapshot.metadata.conf.learners)")
        cluster.machines[id] = SimStateMachine.restore(from: snapshot.data)!
        cluster.snapshotsInstalled[id, default: 0] += 1
    }

    func apply(_ entries: [Entry]) throws {
        if !entries.isEmpty { cluster.observe?("\(id): apply \(TranscriptFormat.entries(entries))") }
        for entry in entries {
            cluster.machines[id]!.apply(entry)
            if entry.kind == .normal && !entry.data.isEmpty { cluster.appliedData[id]!.append(entry.data) }
        }
    }

    func snapshot() throws -> (index: UInt64, data: [UInt8]) {
        let machine = cluster.machines[id]!
        cluster.observe?("\(id): snapshot bytes at \(machine.appliedIndex) for a follower")
        return (machine.appliedIndex, machine.snapshotData())
    }

    func appliedIndex() throws -> UInt64 { cluster.machines[id]!.appliedIndex }

    func nowMicros() -> UInt64 { 0 }
}
