import Consensus

/// The heal phase: every fault ends and the cluster must make progress within a bound.
extension Simulation {
    /// End every fault, make the network reliable, and require that within `healBound`
    /// ticks a leader commits a new proposal that every member applies, along with every
    /// write acknowledged earlier.
    func heal() throws(SimulationFailure) {
        note("heal: all faults end, network reliable")
        for item in active { end(item) }
        active.removeAll()
        churnIsolated.removeAll()
        recomputeLinks()
        for position in drivers.indices where drivers[position] == nil { restart(position) }
        network.profile = NetworkProfile(dropPercent: 0, duplicatePercent: 0, maxMessageBytes: network.profile.maxMessageBytes, maxDelay: 1, spikePercent: 0)
        let healStart = tick
        var probe: (index: UInt64, leader: Int, key: UInt64, proposedAt: Int)?
        while tick - healStart < options.healBound {
            try step(chaos: false)
            tick += 1
            if let leader = currentLeader(), drivers[leader]!.core.configuration.isVoter(NodeID(leader + 1)) {
                if probe == nil || probe!.leader != leader || tick - probe!.proposedAt > 60 {
                    let data = newRequestData()
                    if let index = try? drivers[leader]!.core.propose(data) {
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

    func isApplied(_ index: UInt64, key: UInt64, byMembersOf leader: Int) -> Bool {
        guard checker.entryKey(at: index) == key else { return false }
        let needed = max(index, maxAcknowledgedIndex)
        for member in drivers[leader]!.core.configuration.members {
            guard machines[Int(member - 1)].appliedIndex >= needed else { return false }
        }
        return true
    }
}
