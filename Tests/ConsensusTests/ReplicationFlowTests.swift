import Consensus
import ConsensusSim
import Testing

/// Flow control and backtracking, observed on the wire.
@Suite struct ReplicationFlowTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// With acknowledgements from node 3 lost, the leader stops after its in-flight window
    /// instead of streaming every new entry; node 2, which acknowledges, gets them all.
    @Test func inflightWindowCapsUnacknowledgedAppends() throws {
        let window = 4
        let c = ScriptedCluster(voters: 3) {
            $0.maxInflightMessages = window
            $0.maxMessageBytes = 1  // one entry per append
        }
        #expect(c.elect(1))
        c.settle()
        var appendsTo: [NodeID: Int] = [:]
        c.intercept = { message in
            if message.kind == .append && !message.entries.isEmpty { appendsTo[message.to, default: 0] += 1 }
            return !(message.kind == .appendResponse && message.from == 3)
        }
        for k in 0..<20 { try c.propose(1, bytes("e\(k)")) }
        c.settle()
        #expect(appendsTo[3] == window, "unacknowledged appends to node 3: \(appendsTo[3] ?? 0)")
        #expect(appendsTo[2] == 20)
        #expect(c.appliedData[2]!.count == 20)
    }

    /// The byte limit caps the window too: entries of ~100 bytes against a 300-byte budget.
    @Test func inflightByteBudgetCapsUnacknowledgedAppends() throws {
        let c = ScriptedCluster(voters: 3) {
            $0.maxInflightBytes = 300
            $0.maxMessageBytes = 1
        }
        #expect(c.elect(1))
        c.settle()
        var appendsTo3 = 0
        c.intercept = { message in
            if message.kind == .append && message.to == 3 && !message.entries.isEmpty { appendsTo3 += 1 }
            return !(message.kind == .appendResponse && message.from == 3)
        }
        for k in 0..<20 { try c.propose(1, Array(repeating: UInt8(k), count: 100)) }
        c.settle()
        #expect(appendsTo3 >= 1 && appendsTo3 <= 2, "appends in flight to node 3: \(appendsTo3)")
    }

    /// A follower holding a long divergent suffix (an old leader's uncommitted entries) is
    /// repaired in a few round trips thanks to the conflict term/index hints, not one
    /// rejection per entry.
    @Test func fastBacktrackingSkipsWholeConflictingTerm() throws {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        c.settle()
        c.isolate(1)
        for k in 0..<50 { try c.propose(1, bytes("stale \(k)")) }  // never committed
        c.settle()
        c.allowOnly([2, 3])
        c.run(ticks: 40)  // leases expire; 2 and 3 elect one of themselves
        let leader = try #require(c.leader)
        #expect(leader != 1)
        for k in 0..<30 { try c.propose(leader, bytes("fresh \(k)")) }
        c.settle()
        // Hand leadership over, so the leader that repairs node 1 starts probing at the end
        // of its (long) log, deep inside node 1's divergent suffix.
        let repairer: NodeID = leader == 2 ? 3 : 2
        c.transferLeadership(from: leader, to: repairer)
        c.settle()
        #expect(c.leader == repairer)
        var rejections = 0
        c.intercept = { message in
            if message.kind == .appendResponse && message.from == 1 && message.reject { rejections += 1 }
            return true
        }
        c.healNetwork()
        c.run(ticks: 10)
        #expect(c.status(1).role == .follower)
        #expect(c.status(1).lastIndex == c.status(repairer).lastIndex)
        #expect(c.stateDigest(1) == c.stateDigest(repairer))
        #expect(!c.appliedData[1]!.contains(bytes("stale 0")))
        #expect(rejections <= 3, "took \(rejections) rejected appends to find the match point")
    }

    /// Proposals stepped between two Readies leave in one append per follower, and the
    /// acknowledgements of a round advance the commit index with one update per follower.
    @Test func proposalsAndCommitUpdatesBatchPerFollower() throws {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        c.settle()
        let indices = try c.propose(1, batch: (0..<10).map { bytes("w\($0)") })
        let appends = c.inFlight.filter { $0.kind == .append }
        #expect(appends.count == 2, "one append per follower, not one per proposal: \(appends.map { "\($0.to): \($0.entries.count)" })")
        for a in appends { #expect(a.entries.map(\.index) == indices) }

        c.deliverRound()                 // the appends reach both followers, which persist and acknowledge
        #expect(c.inFlight.filter { $0.kind == .appendResponse }.count == 2)
        c.deliverRound(to: [1])          // both acknowledgements reach the leader in one round
        let updates = c.inFlight.filter { $0.kind == .append && $0.from == 1 }
        #expect(updates.count == 2, "one commit update per follower: \(updates.map { "\($0.to) commit \($0.commit)" })")
        for u in updates { #expect(u.commit == indices.last!) }
        c.settle()
        for id in c.ids { #expect(c.appliedData[id]!.suffix(10) == (0..<10).map { bytes("w\($0)") }) }
    }
}
