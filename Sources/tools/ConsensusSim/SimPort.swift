import Consensus
import RaftDriver

typealias SimDriver = RaftDriver<SimPort, SimPort, SimPort, SimPort>

/// One simulated node's view of the world, handed to the production driver: its disk,
/// its network link, its state machine and the simulation's clock. The safety checks
/// run here, where the driver's outputs land.
final class SimPort: RaftLogStorage, RaftMessageSink, RaftApplication, DriverClock {
    unowned let simulation: Simulation
    let position: Int

    init(_ simulation: Simulation, _ position: Int) {
        self.simulation = simulation
        self.position = position
    }

    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?) throws {
        try simulation.persist(position, hardState: hardState, entries: entries, snapshot: snapshot)
    }

    func compact(snapshot: Snapshot) throws {
        let machine = simulation.machines[position]
        let index = snapshot.metadata.index
        let state: [UInt8]
        if machine.appliedIndex == index {
            state = machine.snapshotData()
        } else if let serialized = simulation.delivered[position], serialized.index == index {
            state = serialized.data  // bytes serialized in the background, older than what was applied since
        } else {
            preconditionFailure("compacted at \(index): neither the applied index \(machine.appliedIndex) nor serialized bytes")
        }
        simulation.disks[position].compact(snapshot, state: state)
    }

    func send(_ message: Message) {
        if simulation.sendViolation == nil, let why = PromiseOracle.violation(message, disk: simulation.disks[position].persisted) {
            simulation.sendViolation = "persist before send: \(why)"
        }
        let count = simulation.drivers.count
        guard message.to >= 1, Int(message.to) <= count, message.from == NodeID(position + 1) else {
            if simulation.sendViolation == nil {
                simulation.sendViolation = "bad message: node \(position + 1) sent \(message.kind) from \(message.from) to \(message.to), outside the cluster's ids 1...\(count)"
            }
            return
        }
        let holder = simulation.holdingEvent[position * count + Int(message.to) - 1]
        simulation.network.send(message, at: simulation.tick, holder: holder, rng: &simulation.networkRNG)
    }

    func install(_ snapshot: Snapshot) throws {
        try simulation.install(position, snapshot)
    }

    func apply(_ entries: [Entry]) throws {
        try simulation.apply(position, entries)
    }

    func snapshot() throws -> (index: UInt64, data: [UInt8]) {
        let machine = simulation.machines[position]
        simulation.stats.snapshotsSerialized += 1
        return (machine.appliedIndex, machine.snapshotData())
    }

    func appliedIndex() throws -> UInt64 { simulation.machines[position].appliedIndex }

    /// Simulated time: a tick is a millisecond.
    func nowMicros() -> UInt64 { UInt64(simulation.tick) * 1000 }
}
