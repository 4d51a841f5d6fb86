@testable import StateMachine
@testable import Edge
import ByteCodec
import Foundation
import Synchronization
import Telemetry
import Tenancy
import Testing

/// A change a follower runs itself (a backup there) is audited through the leader: Raft
/// forwards no proposals, so without the relay the entry was dropped with a warning.
@Suite struct AuditRelayTests {
    func requestIds(_ n: TestNode) -> Set<String> {
        Set(((try? n.node.stateMachine.tenantView { d, txn in try d.audit.records(after: 0, limit: 1000, txn) }) ?? []).map(\.entry.requestId))
    }

    func entry(_ id: String) -> AuditEntry {
        AuditEntry(atMillis: 1, actor: "admin", role: "clusterAdmin", action: "POST /v1/admin/backups", outcome: 201, source: "127.0.0.1", requestId: id)
    }

    @Test func aFollowersEntryIsProposedByTheLeaderAndOnlyAuditEntriesAreRelayed() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("audit-relay-\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { for n in nodes { n.stop() } }
        #expect(waitUntil { nodes.filter { $0.node.report.status.role == .leader }.count == 1 })
        let leader = nodes.first { $0.node.report.status.role == .leader }!
        let follower = nodes.first { $0.id != leader.id }!
        #expect(waitUntil { follower.node.report.status.leader == leader.id })

        let sink = Logger.Sink(capture: true)
        let relays = Mutex<[UInt64: AuditRelay]>([:])
        let sent = Mutex<[(UInt64, UInt8)]>([])
        for n in nodes {
            let from = n.id
            let relay = AuditRelay(node: n.node, selfId: n.id, logger: Logger(component: "node", sink: sink).with("node", n.id)) { to, type, payload in
                sent.withLock { $0.append((to, type)) }
                guard let target = relays.withLock({ $0[to] }) else { return }
                try? target.receive(from: from, payload)
            }
            relays.withLock { $0[n.id] = relay }
        }

        relays.withLock { $0[follower.id]! }.record(entry("relayed"))
        #expect(waitUntil { nodes.allSatisfy { requestIds($0).contains("relayed") } }, "the follower's entry is in every node's audit log")
        #expect(sent.withLock { $0.map(\.0) } == [leader.id] && sent.withLock { $0.map(\.1) } == [AuditRelay.frameType], "one frame, to the leader")

        // The leader records its own without a frame.
        relays.withLock { $0[leader.id]! }.record(entry("local"))
        #expect(waitUntil { nodes.allSatisfy { requestIds($0).contains("local") } })
        #expect(sent.withLock { $0.count } == 1)

        // With no peer link (tests, tools) a follower's entry is not recorded, and says so.
        AuditRelay(node: follower.node, selfId: follower.id, logger: Logger(component: "node", sink: sink), send: nil).record(entry("unsent"))
        #expect(waitUntil { sink.lines.contains { $0.contains("audit_entry_not_recorded") && $0.contains("notLeader") } })
        #expect(!requestIds(leader).contains("unsent"))

        // A frame holding any other tenant change is refused, not proposed.
        let leaderRelay = relays.withLock { $0[leader.id]! }
        #expect(throws: DecodeError.self) { try leaderRelay.receive(from: follower.id, TenantCommand.compactAudit(beforeMillis: 1, limit: 10).encoded()) }
        #expect(throws: DecodeError.self) { try leaderRelay.receive(from: follower.id, [0xFF, 0x00]) }
        // A follower handed an entry (leadership moved) drops it and says so.
        try relays.withLock { $0[follower.id]! }.receive(from: leader.id, TenantCommand.audit(entry("late")).encoded())
        #expect(sink.lines.contains { $0.contains("this node no longer leads") })
    }
}
