import Consensus
import Net
import RaftDriver
import Telemetry

// The production side of the Raft driver's ports: the LMDB log, the TCP peer transport,
// the replicated state machine and the monotonic clock.

extension RaftLogStore: RaftLogStorage {}

/// Encodes Raft messages for the peer transport. The transport is held weakly: it owns
/// the connections and outlives nothing.
final class PeerMessageSink: RaftMessageSink {
    weak var transport: (any MessageTransport)?

    func send(_ message: Message) {
        transport?.send(to: message.to, type: RaftMessageCodec.frameType, payload: RaftMessageCodec.encode(message))
    }
}

/// The node's state machine as the driver sees it. What apply learned that the node must
/// act on (its applied state, a changed member set) is kept here for the node to collect
/// after each drain; what the state means (chain events, …) stays with the state machine.
final class NodeApplication<Machine: ReplicatedStateMachine>: RaftApplication {
    let machine: Machine
    let logger: Logger
    private(set) var appliedState: AppliedState
    /// Set when a snapshot or applied entry may have changed the peers to connect to.
    var peersChanged = false

    init(machine: Machine, applied: AppliedState, logger: Logger) {
        self.machine = machine
        self.appliedState = applied
        self.logger = logger
    }

    func reset(applied: AppliedState) { appliedState = applied }

    func install(_ snapshot: Snapshot) throws {
        try machine.install(snapshotData: snapshot.data)
        let state = try machine.applied()
        precondition(state.index == snapshot.metadata.index, "installed snapshot \(snapshot.metadata.index) but the state says \(state.index)")
        appliedState = state
        peersChanged = true
        logger.info("installed snapshot", [("index", snapshot.metadata.index), ("bytes", snapshot.data.count)])
    }

    func apply(_ entries: [Entry]) throws {
        let before = appliedState.index
        let batch = try machine.apply(committed: entries)
        precondition(batch.state.index == max(before, entries.last!.index), "applied through \(batch.state.index), expected \(entries.last!.index)")
        appliedState = batch.state
        for skip in batch.skipped { logger.warn("entry skipped", [("reason", skip)]) }
        if batch.membersChanged || entries.contains(where: { $0.kind == .confChange }) { peersChanged = true }
    }

    func snapshot() throws -> (index: UInt64, data: [UInt8]) {
        let (index, data) = try machine.snapshotData()
        logger.info("serialized state for a snapshot", [("index", index), ("bytes", data.count)])
        return (index, data)
    }

    func appliedIndex() throws -> UInt64 { appliedState.index }
}

final class MonotonicClock: DriverClock {
    func nowMicros() -> UInt64 { EventLoop.nowMicros() }
    func threadCPUMicros() -> UInt64 { ThreadCPU.micros() }
}

typealias NodeDriver<Machine: ReplicatedStateMachine> = RaftDriver<RaftLogStore, PeerMessageSink, NodeApplication<Machine>, MonotonicClock>
