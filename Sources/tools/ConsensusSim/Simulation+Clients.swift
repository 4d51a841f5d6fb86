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

    /// Reads go to any live node, as through a load balancer; while a leader is stale,
    /// half of them reach it, since that is where a stale read would come from.
    func readTarget() -> Int? {
        for item in active {
            guard case .staleLeader = events[item.event].kind, drivers[item.resolved] != nil else { continue }
            if clientRNG.chance(1, in: 2) { return item.resolved }
        }
        return randomLiveNode()
    }

    /// A stale leader's timers do not fire while its event lasts.
    func clockStalled(_ position: Int) -> Bool {
        active.contains { item in
            if case .staleLeader = events[item.event].kind { return item.resolved == position }
            return false
        }
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
        let key = SimStateMachine.key(of: Entry(term: 0, index: 0, data: data))
        pendingProposals[key] = NodeID(position + 1)
        writeHandles[key] = history.invokeWrite(at: tick)
        stats.proposalsAccepted += 1
        return index
    }

    func clientTraffic() {
        if clientRNG.chance(30, in: 100) {
            let target = clientRNG.chance(8, in: 10) ? currentLeader() : randomLiveNode()
            if let target { propose(at: target) }
        }
        if clientRNG.chance(10, in: 100), let target = readTarget() {
            let context = nextRequestID
            nextRequestID += 1
            if drivers[target]!.core.readIndex(context: context) {
                pendingReads[context] = (target, tick, checker.knownCommitted)
            }
        }
    }
}
