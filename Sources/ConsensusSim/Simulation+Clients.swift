import Consensus

/// Simulated clients: writes (mostly sent to the leader) and ReadIndex reads.
extension Simulation {
    func currentLeader() -> Int? {
        var best: Int?
        for position in nodes.indices {
            guard let node = nodes[position], node.role == .leader else { continue }
            if best == nil || node.currentTerm > nodes[best!]!.currentTerm { best = position }
        }
        return best
    }

    func randomLiveNode() -> Int? {
        let start = clientRNG.below(nodes.count)
        for k in 0..<nodes.count where nodes[(start + k) % nodes.count] != nil { return (start + k) % nodes.count }
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
        guard let index = try? nodes[position]!.propose(data) else { return nil }
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
            if nodes[target]!.readIndex(context: context) {
                pendingReads[context] = checker.knownCommitted
            }
        }
    }
}
