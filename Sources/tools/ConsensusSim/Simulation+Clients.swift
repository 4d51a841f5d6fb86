import Consensus

/// Simulated clients: writes (mostly sent to the leader) and ReadIndex reads.
extension Simulation {
    func currentLeader() -> Int? {
        var best: Int?
        for position in drivers.indices {
            guard let node = drivers[position]?.core, node.role == .leader else { continue }
            if best == nil || node.currentTerm > drivers[best!]!.core.currentTerm { best = position }
        }
        return best
    }

    func randomLiveNode() -> Int? {
        let start = clientRNG.below(drivers.count)
        for k in 0..<drivers.count where drivers[(start + k) % drivers.count] != nil { return (start + k) % drivers.count }
        return nil
    }

    func newRequestData() -> [UInt8] {
        let id = nextRequestID
        nextRequestID += 1
        return (0..<8).map { UInt8(truncatingIfNeeded: id >> UInt64(56 - 8 * $0)) }
    }

    @discardableResult
    func propose(at position: Int) -> UInt64? {
        let data = newRequestData()
        guard let index = try? drivers[position]!.core.propose(data) else { return nil }
        pendingProposals[SimStateMachine.key(of: Entry(term: 0, index: 0, data: data))] = NodeID(position + 1)
        stats.proposalsAccepted += 1
        return index
    }

    func clientTraffic() {
        if clientRNG.chance(30, in: 100) {
            let target = clientRNG.chance(8, in: 10) ? currentLeader() : randomLiveNode()
            if let target { propose(at: target) }
        }
        if clientRNG.chance(10, in: 100), let target = randomLiveNode() {
            let context = nextRequestID
            nextRequestID += 1
            if drivers[target]!.core.readIndex(context: context) {
                pendingReads[context] = checker.knownCommitted
            }
        }
    }
}
