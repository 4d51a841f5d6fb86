/// Knobs of one simulated schedule. Everything else is derived from the seed.
public struct SimulationOptions: Sendable {
    /// Initial voters (3 or 5). Two more node ids exist as spares for membership changes.
    public var nodes: Int = 3
    /// Ticks of chaos (faults, client traffic) before the heal phase.
    public var ticks: Int = 500
    /// After faults heal, a leader must be elected and a proposal applied on every member
    /// within this many ticks.
    public var healBound: Int = 400
    /// Record a human-readable trace of notable events (slower; used when replaying).
    public var trace: Bool = false
    /// Fault events to keep, by position in the generated schedule (nil = all). Used to
    /// replay a shrunk schedule.
    public var keptEvents: Set<Int>? = nil

    public init(nodes: Int = 3, ticks: Int = 500) {
        self.nodes = nodes
        self.ticks = ticks
    }

    /// Total node ids, including spares that start outside the cluster.
    var idCount: Int { nodes + 2 }
}
