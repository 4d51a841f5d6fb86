@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Consensus
import Foundation
import Testing
@testable import Node

@Suite(.serialized) struct ReplicatedNodeTests {
    func leader(_ nodes: [TestNode]) -> TestNode? {
        nodes.first { $0.node != nil && $0.node.report.status.role == .leader }
    }

    func put(_ nodes: [TestNode], _ key: String, _ value: String) -> UInt64? {
        for _ in 0..<50 {
            if let l = leader(nodes), case .applied(let idx) = l.node.propose(.put(key: key, value: Array(value.utf8)), timeoutMillis: 2000) { return idx }
            usleep(50_000)
        }
        return nil
    }

    @Test func threeNodesReplicateAndAgreeOnDigest() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("rn\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { leader(nodes) != nil }, "a leader is elected")
        var last: UInt64 = 0
        for i in 0..<100 { last = try #require(put(nodes, "k\(i)", "v\(i)"), "put \(i)") }
        #expect(waitUntil { nodes.allSatisfy { $0.node.report.appliedIndex >= last } })
        let digests = Set(nodes.map { $0.node.report.digest })
        #expect(digests.count == 1, "same digest at the same applied index")
        for n in nodes { #expect(try n.node.stateMachine.get("k42") == Array("v42".utf8)) }
    }

    /// What the no_leader alerts name an outage by: the term of the last leader a node knew,
    /// kept by the report itself, so it survives the leader being gone however briefly it was seen.
    @Test func aNodeLeftAloneRemembersTheTermOfItsLastLeader() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("ll\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(nodes.allSatisfy { $0.node.report.lastLeaderTerm == 0 }, "no leader known before the first election")
        #expect(waitUntil { nodes.allSatisfy { $0.node.report.status.leader != 0 } }, "every node knows the leader")
        let lone = try #require(nodes.first { $0.node.report.status.role != .leader })
        let known = lone.node.report.status.term
        #expect(lone.node.report.lastLeaderTerm == known && known > 0)
        for n in nodes where n !== lone { hub.isolate(n.id, true) }
        #expect(waitUntil { lone.node.report.status.leader == 0 }, "alone, it stops following")
        let r = lone.node.report
        #expect(r.lastLeaderTerm == known, "still the term of the leader it lost (\(r.lastLeaderTerm), knew \(known))")
        #expect(r.lastLeaderTerm <= r.status.term)
    }

    @Test func restartKeepsEverythingAndFollowerCatchesUpBySnapshot() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("rs\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3], snapshotEvery: 20) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { leader(nodes) != nil })
        // Take one follower away, write enough to compact the log past it, bring it back.
        let follower = try #require(nodes.first { $0.node.report.status.role != .leader })
        follower.stop()
        var last: UInt64 = 0
        for i in 0..<80 { last = try #require(put(nodes, "a\(i)", "\(i)")) }
        try follower.start(voters: nil, snapshotEvery: 20)
        #expect(waitUntil { follower.node.report.appliedIndex >= last }, "caught up through a snapshot")
        #expect(follower.node.report.counters.snapshotsInstalled == 1, "/status counts the install")
        #expect(try follower.node.stateMachine.get("a0") == Array("0".utf8))
        #expect(try follower.node.stateMachine.get("a79") == Array("79".utf8))
        // Restart every node: nothing committed is lost, digests still agree.
        for n in nodes { n.stop() }
        for n in nodes { try n.start(voters: nil, snapshotEvery: 20) }
        #expect(waitUntil { leader(nodes) != nil })
        last = try #require(put(nodes, "after", "restart"))
        #expect(waitUntil { nodes.allSatisfy { $0.node.report.appliedIndex >= last } })
        #expect(Set(nodes.map { $0.node.report.digest }).count == 1)
        for n in nodes { #expect(try n.node.stateMachine.get("a55") == Array("55".utf8)) }
    }

    @Test func leaderFailoverLosesNothingAcknowledged() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("rf\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        var acked = [String]()
        for round in 0..<3 {
            #expect(waitUntil { leader(nodes) != nil })
            for i in 0..<10 { if put(nodes, "r\(round)-\(i)", "x") != nil { acked.append("r\(round)-\(i)") } }
            let old = try #require(leader(nodes))
            old.stop()
            #expect(waitUntil { leader(nodes.filter { $0 !== old }) != nil }, "a new leader after stopping \(old.id)")
            try old.start(voters: nil)
        }
        let l = try #require(waitUntil { leader(nodes) != nil } ? leader(nodes) : nil)
        let idx = try #require(put(nodes, "final", "x"))
        #expect(waitUntil { nodes.allSatisfy { $0.node.report.appliedIndex >= idx } })
        for n in nodes { for k in acked { #expect(try n.node.stateMachine.get(k) != nil, "node \(n.id) lost acknowledged \(k)") } }
        #expect(l.node.linearizableReadIndex() != nil)
    }

    @Test func learnerJoinsAndIsPromoted() throws {
        let hub = LocalHub()
        var nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("rl\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { leader(nodes) != nil })
        for i in 0..<20 { _ = put(nodes, "p\(i)", "y") }
        let newcomer = TestNode(id: 4, dir: temporaryDirectory("rl4"), hub: hub)
        try newcomer.start(voters: nil)
        nodes.append(newcomer)
        let l = try #require(leader(nodes))
        #expect(l.node.propose(.setMember(.init(id: 4, raftAddress: "127.0.0.1:1", httpURL: "http://127.0.0.1:2"))) != .timedOut)
        #expect(l.node.proposeConfChange(ConfChange(.addLearner, node: 4)) == .applied(index: l.node.report.status.lastIndex))
        #expect(waitUntil { newcomer.node.report.appliedIndex >= l.node.report.appliedIndex && newcomer.node.report.appliedIndex > 0 })
        #expect(try newcomer.node.stateMachine.get("p19") == Array("y".utf8))
        var promoted = false
        for _ in 0..<50 where !promoted {
            if case .applied = l.node.proposeConfChange(ConfChange(.addVoter, node: 4)) { promoted = true } else { usleep(100_000) }
        }
        #expect(promoted)
        #expect(waitUntil { newcomer.node.report.status.conf.voters.contains(4) })
        // Remove the original leader; the remaining voters (including the newcomer) carry on.
        var removed = false
        for _ in 0..<50 where !removed {
            if let cur = leader(nodes), case .applied = cur.node.proposeConfChange(ConfChange(.removeNode, node: l.id)) { removed = true } else { usleep(100_000) }
        }
        #expect(removed)
        let rest = nodes.filter { $0.id != l.id }
        #expect(waitUntil { leader(rest) != nil })
        #expect(put(rest, "after-removal", "z") != nil)
    }
}
