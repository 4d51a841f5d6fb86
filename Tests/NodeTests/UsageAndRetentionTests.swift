@testable import StateMachine
@testable import Edge
@testable import NodeConfig
import ByteCodec
import Chain
import Foundation
import Net
import Synchronization
import Telemetry
import Tenancy
import Testing
import TestSupport

/// Per-key usage from every node into the log, each call counted once whatever is resent;
/// retention deleting old audit entries and usage rows while the chain still verifies; the
/// optional access log: a line per read, no secret in it, rotated at its size.
@Suite(.serialized) struct UsageAndRetentionTests {
    typealias G = ReadGatewayTests

    @Test func everyNodesCallsAreCountedOnce() throws {
        let c = try G.Cluster("usage")
        defer { c.stop() }
        _ = c.sim.chain.mine(2)
        #expect(waitUntil(timeoutSeconds: 60) { c.nodes.allSatisfy { c.head($0) == 2 } })
        let leader = try #require(c.nodes.first { $0.node.report.status.role == .leader })
        let follower = try #require(c.nodes.first { $0.id != leader.id })
        func api(_ n: TestNode) -> NodeAPI {
            var config = c.api(n).config
            config.adminToken = AdminAPITests.token
            return NodeAPI(node: n.node, config: config, peerStatus: { [:] })
        }
        let (leaderAPI, followerAPI) = (api(leader), api(follower))
        func admin(_ method: String, _ path: String, _ body: String = "") -> JSONValue {
            (try? JSON.parse(leaderAPI.handle(AdminAPITests.request(method, path, token: AdminAPITests.token, body: body)).body)) ?? .null
        }
        let org = try #require(admin("POST", "/v1/orgs", #"{"name":"acme"}"#)["id"]?.stringValue)
        guard case .applied = leader.node.propose(raw: TenantCommand.assignChain(chainId: G.chainId, org: OrgAdmin.parseId(org)!).encoded(), timeoutMillis: 5000) else {
            Issue.record("assigning the chain"); return
        }
        let key = admin("POST", "/v1/api-keys", "{\"org\":\"\(org)\",\"name\":\"ci\"}")
        let (secret, keyId) = (try #require(key["secret"]?.stringValue), try #require(key["id"]?.stringValue))
        #expect(waitUntil { followerAPI.handle(G.rpc("eth_chainId", headers: [("X-API-Key", secret)])).status == 200 })
        // The wait above made calls too: count from a clean slate.
        followerAPI.usage.seal(nowMillis: unixMillis())
        let warmup = followerAPI.usage.unapplied().flatMap(\.rows).reduce(0) { $0 + $1.calls }

        for _ in 0..<7 { #expect(leaderAPI.handle(G.rpc("eth_blockNumber", headers: [("X-API-Key", secret)])).status == 200) }
        for _ in 0..<5 { #expect(followerAPI.handle(G.rpc("eth_chainId", headers: [("X-API-Key", secret)])).status == 200) }
        var bad = G.rpc("eth_getBlockByNumber", headers: [("X-API-Key", secret)])
        bad.body = Array(#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["nope",false]}"#.utf8)
        for _ in 0..<3 { _ = followerAPI.handle(bad) }

        // The follower sends its batches to the leader (twice: a resend must not count twice).
        let sent = Mutex<[[UInt8]]>([])
        let log = Logger(component: "test", sink: Logger.Sink(capture: true))
        let atFollower = TenantMaintenance(node: follower.node, recorder: followerAPI.usage, auditRetentionDays: 365, usageRetentionDays: 30, logger: log,
                                           send: { peer, type, payload in
                                               #expect(peer == leader.id && type == UsageRecorder.frameType)
                                               sent.withLock { $0.append(payload) }
                                           })
        let atLeader = TenantMaintenance(node: leader.node, recorder: leaderAPI.usage, auditRetentionDays: 365, usageRetentionDays: 30, logger: log, send: { _, _, _ in })
        let now = unixMillis()
        atFollower.tick(nowMillis: now)
        for m in sent.withLock({ $0 }) + sent.withLock({ $0 }) { try leaderAPI.usage.receive(from: follower.id, m) }
        atLeader.tick(nowMillis: now + 1)
        func totals() -> [String: (UInt64, UInt64)] {
            let rows = (try? follower.node.stateMachine.tenantView { d, txn in try d.usage.rows(of: OrgAdmin.parseId(keyId)!, since: 0, until: .max, limit: 1000, txn) }) ?? []
            return rows.reduce(into: [:]) { t, r in let x = t[r.method] ?? (0, 0); t[r.method] = (x.0 + r.calls, x.1 + r.errors) }
        }
        #expect(waitUntil { totals()["eth_blockNumber"]?.0 == 7 })
        let t = totals()
        #expect(t["eth_chainId"]?.0 == 5 + UInt64(warmup), "\(t)")
        #expect(t["eth_getBlockByNumber"]?.0 == 3 && t["eth_getBlockByNumber"]?.1 == 3, "errors counted: \(t)")
        // Acknowledged: the next ticks propose nothing new, and a stale resend changes nothing.
        atFollower.tick(nowMillis: now + 2)
        #expect(followerAPI.usage.message() == nil, "the follower saw its batch applied and dropped it")
        for m in sent.withLock({ $0 }) { try leaderAPI.usage.receive(from: follower.id, m) }
        atLeader.tick(nowMillis: now + 3)
        let again = totals()
        #expect(again["eth_blockNumber"]?.0 == 7 && again["eth_chainId"]?.0 == t["eth_chainId"]?.0, "\(again)")
        // Through the API, with the last use.
        let usage = try JSON.parse(followerAPI.handle(AdminAPITests.request("GET", "/v1/api-keys/\(keyId)/usage?since=0", token: AdminAPITests.token)).body)
        #expect(usage["totals"]?["eth_blockNumber"]?["calls"] == .number("7") && usage["lastUsedAt"]?.stringValue != nil, "\(usage)")
        #expect(followerAPI.handle(AdminAPITests.request("GET", "/v1/api-keys/\(keyId)/usage?since=x", token: AdminAPITests.token)).status == 400)
        // A node may not send another node's batches.
        let forged = UsageRecorder(nodeId: 99)
        forged.record(key: 1, method: "m", error: false, nowMillis: now)
        forged.seal(nowMillis: now)
        #expect(throws: DecodeError.self) { try leaderAPI.usage.receive(from: follower.id, forged.message()!) }
    }

    @Test func retentionDeletesOldEntriesAndTheChainStillVerifies() throws {
        let n = TestNode(id: 1, dir: temporaryDirectory("retention"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        let day: UInt64 = 86_400_000
        let now = 1_000 * day
        for i in 0..<30 {
            let at = i < 20 ? now - 40 * day + UInt64(i) : now - UInt64(30 - i)
            guard case .applied = n.node.propose(raw: TenantCommand.audit(AuditEntry(atMillis: at, actor: "a", role: "admin", action: "POST /x/\(i)", outcome: 200,
                                                                                     source: "s", requestId: "r")).encoded(), timeoutMillis: 5000) else { Issue.record("audit"); return }
        }
        let old = UsageBatch(node: 2, seq: 1, rows: [UsageRow(key: 5, minute: (now - 40 * day) / 60_000, method: "eth_call", calls: 3, errors: 0),
                                                     UsageRow(key: 5, minute: (now - day) / 60_000, method: "eth_call", calls: 4, errors: 1)], lastUsed: [5: now - day])
        _ = n.node.propose(raw: TenantCommand.usage([old]).encoded(), timeoutMillis: 5000)
        let m = TenantMaintenance(node: n.node, recorder: UsageRecorder(nodeId: 1), auditRetentionDays: 30, usageRetentionDays: 30,
                                  logger: Logger(component: "test", sink: Logger.Sink(capture: true)), send: { _, _, _ in })
        m.retain(nowMillis: now)
        let (v, kept, rows) = try n.node.stateMachine.tenantView { d, txn in
            (try d.audit.verify(txn), try d.audit.records(after: 0, limit: 100, txn), try d.usage.rows(of: 5, since: 0, until: .max, limit: 10, txn))
        }
        #expect(v.firstBroken == nil && v.entries == 10 && v.compactedThrough == 20, "\(v)")
        #expect(kept.first?.seq == 21 && kept.allSatisfy { $0.entry.atMillis >= now - 30 * day })
        #expect(rows.map(\.calls) == [4], "only the recent usage row is kept: \(rows)")
        // The chain goes on from the anchor.
        _ = n.node.propose(raw: TenantCommand.audit(AuditEntry(atMillis: now, actor: "a", role: "admin", action: "POST /y", outcome: 200, source: "s", requestId: "r")).encoded(), timeoutMillis: 5000)
        let after = try n.node.stateMachine.tenantView { d, txn in (try d.audit.verify(txn), try d.audit.last(txn)) }
        #expect(after.0.firstBroken == nil && after.0.entries == 11 && after.1?.seq == 31)
    }

    @Test func theAccessLogHasALinePerReadAndNoSecret() throws {
        let c = try G.Cluster("access")
        defer { c.stop() }
        #expect(waitUntil { c.nodes.contains { $0.node.report.status.role == .leader } })
        let n = c.nodes[0]
        let dir = temporaryDirectory("access-log")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var settings = NodeConfig.AccessLogSettings(path: dir + "/access.log")
        settings.maxBytes = 1 << 16
        settings.keep = 2
        let log = try AccessLog(settings)
        let key = "dev-secret-0123456789abcdef"
        let api = NodeAPI(node: n.node, config: c.api(n, keys: [key]).config, accessLog: log, peerStatus: { [:] })
        for i in 0..<1500 {
            _ = api.handle(G.rpc(i % 2 == 0 ? "eth_chainId" : "eth_blockNumber", target: "/k/\(key)"))
            if i % 100 == 0 { log.flush() }
        }
        log.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["access.log", "access.log.1", "access.log.2"], "rotated, two kept: \(files)")
        var lines = [JSONValue]()
        for f in files {
            let text = try String(contentsOfFile: dir + "/" + f, encoding: .utf8)
            #expect(!text.contains(key), "\(f) holds no secret")
            #expect((try FileManager.default.attributesOfItem(atPath: dir + "/" + f)[.size] as? NSNumber)?.intValue ?? 0 <= settings.maxBytes + 8192)
            lines += text.split(separator: "\n").compactMap { try? JSON.parse(Array($0.utf8)) }
        }
        let last = try #require(lines.last { $0["method"] == .string("eth_blockNumber") })
        #expect(last["status"] == .number("200") && last["path"] == .string("/") && last["surface"] == .string("jsonRPC") && last["node"] == .number("1"), "\(last)")
        #expect(lines.count > 300 && lines.count < 1500, "the oldest rotated away: \(lines.count)")
    }
}
