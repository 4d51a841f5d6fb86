import Consensus
import ConsensusSim
import RaftDriver
import Testing

/// A node's disk, outbox and state machine in memory, recording in order what the driver
/// asked of each.
private final class RecordingPort: RaftLogStorage, RaftMessageSink, RaftApplication, DriverClock {
    enum Op: Equatable {
        case persist, send(Message.Kind), install, apply(UInt64), completed
    }
    var ops: [Op] = []
    var disk: PersistedState
    var outbox: [Message] = []
    var applied: UInt64 = 0

    init(_ disk: PersistedState) {
        self.disk = disk
        applied = disk.snapshot.metadata.index
    }

    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?) throws {
        ops.append(.persist)
        if let snapshot { disk.snapshot = snapshot; disk.entries = [] }
        if let first = entries.first {
            disk.entries = Array(disk.entries.prefix(Int(first.index - disk.snapshot.metadata.index - 1))) + entries
        }
        if let hardState { disk.hardState = hardState }
    }

    func compact(snapshot: Snapshot) throws {
        disk.entries.removeFirst(min(Int(snapshot.metadata.index - disk.snapshot.metadata.index), disk.entries.count))
        disk.snapshot = snapshot
    }

    func send(_ message: Message) { ops.append(.send(message.kind)); outbox.append(message) }
    func install(_ snapshot: Snapshot) throws { ops.append(.install); applied = snapshot.metadata.index }

    func apply(_ entries: [Entry]) throws {
        for entry in entries {
            #expect(entry.index == applied + 1, "applied \(entry.index) after \(applied)")
            applied = entry.index
            ops.append(.apply(entry.index))
        }
    }

    var serialized = 0
    func snapshot() throws -> (index: UInt64, data: [UInt8]) { serialized += 1; return (applied, [1, 2, 3]) }
    func appliedIndex() throws -> UInt64 { applied }
    func nowMicros() -> UInt64 { 0 }
}

private typealias Driver = RaftDriver<RecordingPort, RecordingPort, RecordingPort, RecordingPort>

/// Three production drivers over recording ports, with a perfect network moved by hand.
private struct Trio {
    var drivers: [Driver?]
    var ports: [RecordingPort]

    init() {
        let voters: [NodeID] = [1, 2, 3]
        ports = voters.map { _ in RecordingPort(.bootstrap(voters: voters)) }
        drivers = []
        for id in voters { drivers.append(Self.start(id, ports[Int(id) - 1], incarnation: 0)) }
    }

    static func start(_ id: NodeID, _ port: RecordingPort, incarnation: UInt64) -> Driver {
        var config = RaftConfig(id: id, randomSeed: id &* 31 &+ incarnation)
        config.electionTicks = 10
        port.applied = port.disk.snapshot.metadata.index
        return Driver(core: RawNode(config: config, restoringFrom: port.disk), log: port, sink: port, app: port, clock: port, compactEvery: 4)
    }

    func drain(_ id: NodeID, stopAt: ReadyStage? = nil) throws -> ReadyStage? {
        let port = ports[Int(id) - 1]
        return try drivers[Int(id) - 1]!.drain(stopAt: stopAt) { _ in port.ops.append(.completed) }
    }

    /// Deliver everything in flight to live nodes, then let each carry out its Readies.
    /// `hold` keeps a node's inbound messages of a kind back (for the caller to step).
    mutating func round(hold: (Message) -> Bool = { _ in false }) throws -> [Message] {
        var held: [Message] = []
        let inFlight = ports.flatMap(\.outbox)
        for port in ports { port.outbox.removeAll() }
        for m in inFlight {
            if hold(m) { held.append(m); continue }
            drivers[Int(m.to) - 1]?.core.step(m)
        }
        for id in NodeID(1)...3 where drivers[Int(id) - 1] != nil { _ = try drain(id) }
        return held
    }

    mutating func tick() throws {
        for id in NodeID(1)...3 where drivers[Int(id) - 1] != nil {
            drivers[Int(id) - 1]!.core.tick()
            _ = try drain(id)
        }
    }

    var leader: NodeID? { drivers.compactMap { $0?.core }.first { $0.role == .leader }?.status.id }
}

@Suite struct DriverTests {
    /// The order the Ready contract demands, observed at the ports of the production
    /// driver through elections, writes and compactions: one log write per Ready; before it
    /// only a leader's appends and heartbeats leave; every other message after it; nothing
    /// leaves once applying began; the caller sees the Ready only after it was applied.
    @Test func driverFollowsTheReadyContract() throws {
        var trio = Trio()
        for _ in 0..<200 where trio.leader == nil { try trio.tick(); _ = try trio.round() }
        let leader = try #require(trio.leader, "no leader elected")
        for k in 0..<20 {
            _ = try trio.drivers[Int(leader) - 1]!.core.propose([UInt8(k)])
            _ = try trio.drain(leader)
            _ = try trio.round()
            if k % 3 == 0 { try trio.tick() }
        }
        for _ in 0..<5 { _ = try trio.round() }
        var readies = 0
        for (position, port) in trio.ports.enumerated() {
            #expect(port.applied >= 20, "node \(position + 1) applied only \(port.applied)")
            var persisted = false, applying = false
            for op in port.ops {
                switch op {
                case .persist:
                    #expect(!persisted, "node \(position + 1): two log writes in one Ready")
                    persisted = true
                case .send(let kind):
                    #expect(!applying, "node \(position + 1): \(kind) sent after applying began")
                    if !persisted { #expect(kind == .append || kind == .heartbeat, "node \(position + 1): \(kind) sent before the log write") }
                case .install, .apply:
                    #expect(persisted, "node \(position + 1): applied before the log write")
                    applying = true
                case .completed:
                    #expect(persisted, "node \(position + 1): Ready completed without a log write")
                    persisted = false; applying = false; readies += 1
                }
            }
        }
        #expect(readies > 30)
        #expect(trio.drivers.allSatisfy { ($0?.counters.compactions ?? 0) > 0 }, "compaction never ran")
    }

    /// Compaction copies nothing: the log keeps the snapshot's metadata and the state stays
    /// where it is. Only a follower too far behind for the log makes the leader serialize
    /// its state, once, and it then catches up from those bytes.
    @Test func compactionIsByReferenceUntilAFollowerNeedsTheBytes() throws {
        var trio = Trio()
        for _ in 0..<200 where trio.leader == nil { try trio.tick(); _ = try trio.round() }
        let leader = try #require(trio.leader, "no leader elected")
        let behind: NodeID = leader == 3 ? 2 : 3
        trio.drivers[Int(behind) - 1] = nil   // down while the others write and compact
        for k in 0..<30 {
            _ = try trio.drivers[Int(leader) - 1]!.core.propose([UInt8(k)])
            _ = try trio.drain(leader)
            _ = try trio.round()
        }
        let lead = trio.ports[Int(leader) - 1]
        #expect(trio.drivers[Int(leader) - 1]!.counters.compactions > 0, "compaction never ran")
        #expect(lead.disk.snapshot.metadata.index > 0 && lead.disk.snapshot.data.isEmpty, "the log keeps only the snapshot's metadata")
        #expect(lead.serialized == 0, "no follower needed a snapshot, yet the state was serialized \(lead.serialized) times")

        let port = trio.ports[Int(behind) - 1]
        trio.drivers[Int(behind) - 1] = Trio.start(behind, port, incarnation: 1)
        for _ in 0..<40 { try trio.tick(); _ = try trio.round() }
        #expect(lead.serialized == 1, "serialized \(lead.serialized) times for one follower")
        #expect(port.ops.contains(.install), "the follower installed the snapshot")
        #expect(port.applied == lead.applied, "follower at \(port.applied), leader at \(lead.applied)")
    }

    /// A crash between the log write and the send: the vote was made durable but never
    /// reached the candidate. The restarted voter must still hold that vote and refuse a
    /// second candidate in the same term; had it crashed before the write, it is free.
    @Test(arguments: [ReadyStage.persisted, .drawn])
    func crashAroundTheVoteWrite(stage: ReadyStage) throws {
        var trio = Trio()
        // Node 1 campaigns; node 2's vote request is held back and stepped by hand.
        trio.drivers[0]!.core.campaign()
        _ = try trio.drain(1)
        var request: Message?
        for _ in 0..<4 where request == nil {
            let held = try trio.round { $0.to == 2 && $0.kind == .requestVote }
            request = held.first
        }
        let vote = try #require(request, "node 1 never asked node 2 for a vote")
        let port = trio.ports[1]
        port.outbox.removeAll()
        trio.drivers[1]!.core.step(vote)
        #expect(try trio.drain(2, stopAt: stage) == stage)
        #expect(!port.outbox.contains { $0.kind == .voteResponse }, "the vote left before the crash")
        trio.drivers[1] = nil
        #expect(port.disk.hardState.vote == (stage == .persisted ? 1 : 0))

        trio.drivers[1] = Trio.start(2, port, incarnation: 1)
        var rival = Message(kind: .requestVote, from: 3, to: 2, term: vote.term)
        rival.index = vote.index
        rival.logTerm = vote.logTerm
        trio.drivers[1]!.core.step(rival)
        _ = try trio.drain(2)
        let answer = try #require(port.outbox.last { $0.kind == .voteResponse && $0.to == 3 })
        #expect(answer.reject == (stage == .persisted), "a voter that \(stage == .persisted ? "had durably voted for 1" : "never wrote its vote") answered node 3 with reject=\(answer.reject)")
    }
}

/// The simulator's persist-before-send oracle on its own: each promise a message makes
/// is checked against the sender's disk.
@Suite struct PromiseOracleTests {
    static func disk(term: UInt64, vote: NodeID, entries: UInt64) -> PersistedState {
        var d = PersistedState.bootstrap(voters: [1, 2, 3])
        d.hardState.term = term
        d.hardState.vote = vote
        let base = d.snapshot.metadata.index + UInt64(d.entries.count)
        for k in 0..<entries { d.entries.append(Entry(term: term, index: base + k + 1, data: [UInt8(k)])) }
        return d
    }

    @Test func votesAcknowledgementsAndTermsMustBeOnDisk() {
        var grant = Message(kind: .voteResponse, from: 2, to: 1, term: 5)
        #expect(PromiseOracle.violation(grant, disk: Self.disk(term: 5, vote: 1, entries: 0)) == nil)
        #expect(PromiseOracle.violation(grant, disk: Self.disk(term: 5, vote: 0, entries: 0)) != nil, "a vote granted before it was written")
        #expect(PromiseOracle.violation(grant, disk: Self.disk(term: 4, vote: 1, entries: 0)) != nil, "a term spoken before it was written")
        #expect(PromiseOracle.violation(grant, disk: Self.disk(term: 6, vote: 2, entries: 0)) == nil, "a later durable term keeps the promise")
        grant.reject = true
        #expect(PromiseOracle.violation(grant, disk: Self.disk(term: 5, vote: 3, entries: 0)) == nil, "a refusal promises nothing")

        let d = Self.disk(term: 3, vote: 1, entries: 4)
        let last = d.snapshot.metadata.index + UInt64(d.entries.count)
        var ack = Message(kind: .appendResponse, from: 2, to: 1, term: 3)
        ack.index = last
        #expect(PromiseOracle.violation(ack, disk: d) == nil)
        ack.index = last + 1
        #expect(PromiseOracle.violation(ack, disk: d) != nil, "an entry acknowledged before it was written")

        let campaign = Message(kind: .requestVote, from: 2, to: 1, term: 7)
        #expect(PromiseOracle.violation(campaign, disk: Self.disk(term: 7, vote: 2, entries: 0)) == nil)
        #expect(PromiseOracle.violation(campaign, disk: Self.disk(term: 7, vote: 0, entries: 0)) != nil, "a campaign before its self-vote was written")
        #expect(PromiseOracle.violation(campaign, disk: Self.disk(term: 6, vote: 2, entries: 0)) != nil, "a campaign before its term was written")

        let preVote = Message(kind: .requestPreVote, from: 2, to: 1, term: 4)
        #expect(PromiseOracle.violation(preVote, disk: d) == nil, "pre-votes ask about a term nobody adopted")
    }
}
