import Upstream
@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Chain
import Foundation
import ChainIndex
import ChainFollower
import Net
import SimChain
import Telemetry
import Tenancy
import Testing
@testable import Node

/// The read surface of a replica in a three-node cluster indexing a SimChain: response
/// headers, the min-block wait, linearizable reads through the leader, and API keys.
@Suite(.serialized) struct ReadGatewayTests {
    static let chainId: UInt64 = 1337

    final class Cluster: @unchecked Sendable {
        let hub = LocalHub()
        let nodes: [TestNode]
        let sim: SimChainServer
        var indexers: [Indexer] = []

        init(_ name: String) throws {
            var o = SimChainOptions()
            o.blockTimeMillis = 0
            o.chainId = ReadGatewayTests.chainId
            o.txsPerBlock = 4
            sim = try SimChainServer(options: o)
            let url = sim.start()
            let hub = self.hub
            nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("\(name)\($0)"), hub: hub) }
            for n in nodes {
                try n.start(voters: [1, 2, 3])
                var cfg = Indexer.Config(chainId: ReadGatewayTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: url)])
                cfg.pollMillis = 10
                let ix = Indexer(config: cfg, index: n.node.stateMachine.chain, host: n.node, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)))
                ix.start()
                indexers.append(ix)
            }
        }

        func stop() {
            indexers.forEach { $0.stop() }
            nodes.forEach { if $0.node != nil { $0.stop() } }
            sim.stop()
        }

        var follower: TestNode? { nodes.first { $0.node.report.status.role == .follower && $0.node.report.status.leader != 0 } }

        func head(_ n: TestNode) -> UInt64? { try? n.node.stateMachine.chain.view { try $0.head(ReadGatewayTests.chainId) }?.number }

        func api(_ n: TestNode, keys: [String] = [], maxWait: Int = 300) -> NodeAPI {
            var c = NodeConfig()
            c.nodeId = n.id
            c.chain = Indexer.Config(chainId: ReadGatewayTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: sim.url)])
            c.apiKeys = keys
            c.rpc.maxWaitMillis = maxWait
            return NodeAPI(node: n.node, config: c, peerStatus: { [:] })
        }
    }

    static func rpc(_ method: String, target: String = "/", headers: [(String, String)] = []) -> HTTPRequest {
        HTTPRequest(method: "POST", target: target, headers: [("Content-Type", "application/json")] + headers.map { (name: $0.0, value: $0.1) },
                    body: Array(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":[]}"#.utf8))
    }

    @Test func headersMinBlockAndLinearizableReads() throws {
        let c = try Cluster("rg")
        defer { c.stop() }
        _ = c.sim.chain.mine(5)
        let f = try #require({ () -> TestNode? in _ = waitUntil { c.follower != nil }; return c.follower }())
        #expect(waitUntil(timeoutSeconds: 60) { c.head(f) == 5 }, "the follower applied the indexed chain")
        let api = c.api(f)

        let r = api.handle(Self.rpc("eth_blockNumber"))
        #expect(r.status == 200)
        #expect(r.header("X-Infrastack-Node") == String(f.id))
        #expect(r.header("X-Infrastack-Block") == "5")
        #expect(try JSON.parse(r.body)["result"] == .string("0x5"))

        // At least block N: waits for the apply when N arrives in time ...
        let miner = Thread { usleep(50_000); _ = c.sim.chain.mine(3) }
        miner.start()
        let waited = c.api(f, maxWait: 30_000).handle(Self.rpc("eth_blockNumber", headers: [("X-Infrastack-Min-Block", "8")]))
        let waitedResult = try JSON.parse(waited.body)["result"]
        #expect(waited.status == 200 && waitedResult == .string("0x8"))
        #expect(Int(waited.header("X-Infrastack-Block") ?? "") ?? 0 >= 8)
        // ... and otherwise answers a retryable error naming both blocks.
        let early = api.handle(Self.rpc("eth_blockNumber", headers: [("X-Infrastack-Min-Block", "0x3e8")]))
        #expect(early.status == 503 && early.header("Retry-After") == "1")
        let e = try JSON.parse(early.body)["error"]
        #expect(e?["code"] == .number("-32010") && e?["data"]?["retryable"] == .bool(true), "\(String(decoding: early.body, as: UTF8.self))")
        let junk = api.handle(Self.rpc("eth_blockNumber", headers: [("X-Infrastack-Min-Block", "soon")]))
        #expect(junk.status == 400)

        // Linearizable: a ReadIndex round through the leader; impossible when cut off.
        let lin = api.handle(Self.rpc("eth_blockNumber", headers: [("X-Infrastack-Consistency", "linearizable")]))
        #expect(lin.status == 200, "\(String(decoding: lin.body, as: UTF8.self))")
        c.hub.isolate(f.id, true)
        let cut = api.handle(Self.rpc("eth_blockNumber", headers: [("X-Infrastack-Consistency", "linearizable")]))
        let cutCode = try JSON.parse(cut.body)["error"]?["code"]
        #expect(cut.status == 503 && cutCode == .number("-32011"))
        // A local read from the same isolated replica still answers.
        #expect(api.handle(Self.rpc("eth_chainId")).status == 200)
        c.hub.isolate(f.id, false)
        #expect(api.handle(Self.rpc("eth_blockNumber", headers: [("X-Infrastack-Consistency", "quorum")])).status == 400)
        _ = api.handle(Self.rpc("eth_noSuchMethod"))
        // /status counts what clients asked and what failed.
        let rpcStatus = api.statusObject()["rpc"]
        guard case .number(let calls)? = rpcStatus?["methods"]?["eth_blockNumber"]?["calls"], case .number(let failed)? = rpcStatus?["methods"]?["eth_noSuchMethod"]?["errors"] else {
            Issue.record("no rpc section in /status: \(rpcStatus.map { JSON.serialize($0) } ?? "nil")"); return
        }
        #expect(Int(calls)! >= 2 && failed == "1", "refused requests (503, 400) never reach a method; the rest are counted")
    }

    @Test func apiKeysGuardEveryReadSurface() throws {
        let c = try Cluster("rk")
        defer { c.stop() }
        _ = c.sim.chain.mine(2)
        #expect(waitUntil(timeoutSeconds: 60) { c.nodes.allSatisfy { c.head($0) == 2 } })
        let key = "dev-0123456789abcdef"
        let api = c.api(c.nodes[0], keys: [key])
        #expect(api.handle(Self.rpc("eth_chainId")).status == 401)
        #expect(try JSON.parse(api.handle(Self.rpc("eth_chainId")).body)["error"]?["code"] == .number("-32001"))
        #expect(api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", "wrong-0123456789abcdef")])).status == 401)
        #expect(api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", key)])).status == 200)
        #expect(api.handle(Self.rpc("eth_chainId", headers: [("Authorization", "Bearer \(key)")])).status == 200)
        #expect(api.handle(Self.rpc("eth_chainId", target: "/k/\(key)")).status == 200)
        #expect(api.handle(Self.rpc("eth_chainId", target: "/k/nope-0123456789abcdef")).status == 401)
        #expect(api.handle(HTTPRequest(method: "GET", target: "/k/\(key)/v1/chain/head")).status == 200)
        #expect(api.handle(HTTPRequest(method: "GET", target: "/v1/chain/blocks/1")).status == 401)
        #expect(api.handle(HTTPRequest(method: "GET", target: "/v1/chain/blocks/1", headers: [(name: "X-API-Key", value: key)])).status == 200)
        // GraphQL: POST and GET, keyed like the rest, answering from the same index.
        let gql = #"{"query":"{ chainID block(number: 2) { number hash parent { hash } } }"}"#
        #expect(api.handle(HTTPRequest(method: "POST", target: "/graphql", headers: [(name: "Content-Type", value: "application/json")], body: Array(gql.utf8))).status == 401)
        let g = api.handle(HTTPRequest(method: "POST", target: "/k/\(key)/graphql", headers: [(name: "Content-Type", value: "application/json")], body: Array(gql.utf8)))
        #expect(g.status == 200, "\(String(decoding: g.body, as: UTF8.self))")
        let data = try JSON.parse(g.body)["data"]
        let stored = try #require(try c.nodes[0].node.stateMachine.chain.view { try $0.block(Self.chainId, number: 2, fullTransactions: false) })
        #expect(data?["block"]?["hash"] == stored["hash"] && data?["block"]?["parent"]?["hash"] == stored["parentHash"])
        #expect(data?["chainID"] != nil && data?["block"]?["number"] == .number("2"))
        let viaGet = api.handle(HTTPRequest(method: "GET", target: "/k/\(key)/graphql?query=%7B%20block(number%3A%201)%20%7B%20number%20%7D%20%7D"))
        let viaGetNumber = try JSON.parse(viaGet.body)["data"]?["block"]?["number"]
        #expect(viaGet.status == 200 && viaGetNumber == .number("1"))
        let mutation = api.handle(HTTPRequest(method: "GET", target: "/k/\(key)/graphql?query=mutation%20%7B%20sendRawTransaction(data%3A%20%220x00%22)%20%7D"))
        #expect(mutation.status == 405 && mutation.header("Allow") == "GET, POST")
        // Operations endpoints stay reachable for probes and the CLI.
        #expect(api.handle(HTTPRequest(method: "GET", target: "/healthz")).status == 200)
        #expect(api.handle(HTTPRequest(method: "GET", target: "/status")).status == 200)
    }

    /// An organisation's API key (created, rotated and revoked through `/v1/api-keys`) reads
    /// only the chains its organisation owns, on every node; another organisation's key gets
    /// the answer of a chain that is not there; a revoked key is refused everywhere once the
    /// revocation applied; after a rotation the old secret works within its grace period.
    /// An organisation key's limit, as a client meets it on one node that hears from no
    /// peer (so it admits only its third of the limit): RateLimit headers on every answer,
    /// then 429 with Retry-After, JSON-RPC -32005 with the facts in `data`, REST's
    /// `{"error"}` with them; another key and config-file keys are not affected.
    @Test func organisationKeysAreRateLimited() throws {
        let c = try Cluster("rl")
        defer { c.stop() }
        #expect(waitUntil { c.nodes.contains { $0.node.report.status.role == .leader } })
        let leader = try #require(c.nodes.first { $0.node.report.status.role == .leader })
        var config = c.api(leader, keys: ["dev-0123456789abcdef"]).config
        config.adminToken = AdminAPITests.token
        let api = NodeAPI(node: leader.node, config: config, peerStatus: { [:] })
        func adminCall(_ method: String, _ path: String, _ body: String = "") -> JSONValue {
            (try? JSON.parse(api.handle(AdminAPITests.request(method, path, token: AdminAPITests.token, body: body)).body)) ?? .null
        }
        let org = try #require(adminCall("POST", "/v1/orgs", #"{"name":"acme","config":{"rateLimitPerMinute":60}}"#)["id"]?.stringValue)
        let orgId = try #require(OrgAdmin.parseId(org))
        guard case .applied = leader.node.propose(raw: TenantCommand.assignChain(chainId: Self.chainId, org: orgId).encoded(), timeoutMillis: 5000) else {
            Issue.record("assigning the chain"); return
        }
        let limited = try #require(adminCall("POST", "/v1/api-keys", "{\"org\":\"\(org)\",\"name\":\"ci\",\"rateLimitPerMinute\":30}")["secret"]?.stringValue)
        let orgDefault = try #require(adminCall("POST", "/v1/api-keys", "{\"org\":\"\(org)\",\"name\":\"web\"}")["secret"]?.stringValue)
        // 30 a minute across three nodes; this one hears from none: its share is 10.
        var remaining = [String]()
        for _ in 0..<10 {
            let r = api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", limited)]))
            #expect(r.status == 200)
            #expect(r.header("RateLimit-Limit") == "30")
            remaining.append(r.header("RateLimit-Remaining") ?? "-")
        }
        #expect(remaining == (0..<10).reversed().map(String.init), "\(remaining)")
        let refused = api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", limited)]))
        #expect(refused.status == 429 && refused.header("RateLimit-Remaining") == "0")
        let retry = Int(refused.header("Retry-After") ?? "") ?? 0
        #expect((1...60).contains(retry) && refused.header("RateLimit-Reset") == String(retry))
        let e = try JSON.parse(refused.body)["error"]
        #expect(e?["code"] == .number("-32005") && e?["data"]?["limit"] == .number("30") && e?["data"]?["retryAfterSeconds"] == .number(String(retry)), "\(String(describing: e))")
        #expect(e?["message"]?.stringValue?.contains("rate limit exceeded") == true)
        let rest = api.handle(HTTPRequest(method: "GET", target: "/v1/chain/head", headers: [(name: "X-API-Key", value: limited)]))
        let restBody = try JSON.parse(rest.body)
        #expect(rest.status == 429 && restBody["limit"] == .number("30"), "REST: \(rest.status)")
        // The organisation's own setting (60 a minute: a share of 20) for a key without one.
        let web = (0..<25).map { _ in api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", orgDefault)])).status }
        #expect(web.filter { $0 == 200 }.count == 20 && web.filter { $0 == 429 }.count == 5, "\(web)")
        // Development keys are not limited.
        #expect((0..<50).allSatisfy { _ in api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", "dev-0123456789abcdef")])).status == 200 })
        #expect(adminCall("PUT", "/v1/orgs/\(org)/config", #"{"rateLimitPerMinute":0}"#)["error"]?.stringValue?.contains("rateLimitPerMinute must be") == true)
    }

    @Test func organisationKeysReachOnlyTheirOwnChains() throws {
        let c = try Cluster("ok")
        defer { c.stop() }
        _ = c.sim.chain.mine(2)
        #expect(waitUntil(timeoutSeconds: 60) { c.nodes.allSatisfy { c.head($0) == 2 } })
        let leader = try #require(c.nodes.first { $0.node.report.status.role == .leader })
        var admin = c.api(leader, keys: ["dev-0123456789abcdef"]).config
        admin.adminToken = AdminAPITests.token
        let adminAPI = NodeAPI(node: leader.node, config: admin, peerStatus: { [:] })
        func adminCall(_ method: String, _ path: String, _ body: String = "") -> (Int, JSONValue) {
            let r = adminAPI.handle(AdminAPITests.request(method, path, token: AdminAPITests.token, body: body))
            return (r.status, (try? JSON.parse(r.body)) ?? .null)
        }
        let acme = try #require(adminCall("POST", "/v1/orgs", #"{"name":"acme"}"#).1["id"]?.stringValue)
        let globex = try #require(adminCall("POST", "/v1/orgs", #"{"name":"globex"}"#).1["id"]?.stringValue)
        let (s1, k1) = adminCall("POST", "/v1/api-keys", "{\"org\":\"\(acme)\",\"name\":\"ci\"}")
        #expect(s1 == 201, "\(k1)")
        let acmeSecret = try #require(k1["secret"]?.stringValue)
        let acmeKeyId = try #require(k1["id"]?.stringValue)
        let globexSecret = try #require(adminCall("POST", "/v1/api-keys", "{\"org\":\"\(globex)\",\"name\":\"ci\"}").1["secret"]?.stringValue)
        for (body, why) in [("{\"org\":\"\(acme)\",\"name\":\"ci\"}", "a key named ci already"), ("{\"org\":\"\(acme)\"}", "name is required"),
                            ("{\"org\":\"\(acme)\",\"name\":\"x\",\"cidrs\":[\"10.0.0.0/33\"]}", "not a CIDR"),
                            ("{\"org\":\"\(acme)\",\"name\":\"x\",\"permissions\":\"all\"}", "permissions must be"),
                            ("{\"org\":\"00000000000000ff\",\"name\":\"x\"}", "no organisation"), ("{\"name\":\"x\",\"secret\":\"s\"}", "unknown field")] {
            let (s, e) = adminCall("POST", "/v1/api-keys", body)
            #expect([400, 404, 409].contains(s) && e["error"]?.stringValue?.contains(why) == true, "\(body): \(s) \(e)")
        }
        #expect(adminCall("GET", "/v1/api-keys?org=\(acme)").1["keys"]?.arrayValue?.count == 1)
        #expect(!String(decoding: adminAPI.handle(AdminAPITests.request("GET", "/v1/api-keys?org=\(acme)", token: AdminAPITests.token)).body, as: UTF8.self).contains("isk_"),
                "a listing never shows a secret")

        // The chain belongs to acme: acme's key reads it on every node, globex's does not see it.
        let acmeId = try #require(OrgAdmin.parseId(acme))
        let assigned = leader.node.propose(raw: TenantCommand.assignChain(chainId: Self.chainId, org: acmeId).encoded(), timeoutMillis: 5000)
        guard case .applied = assigned else { Issue.record("assigning the chain: \(assigned)"); return }
        #expect(waitUntil { c.nodes.allSatisfy { n in c.api(n, keys: ["dev-0123456789abcdef"]).handle(Self.rpc("eth_chainId", headers: [("X-API-Key", acmeSecret)])).status == 200 } })
        for n in c.nodes {
            let api = c.api(n, keys: ["dev-0123456789abcdef"])
            #expect(api.handle(Self.rpc("eth_blockNumber", target: "/k/\(acmeSecret)")).status == 200)
            let other = api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", globexSecret)]))
            #expect(other.status == 404, "another organisation's key: \(other.status)")
            #expect(String(decoding: other.body, as: UTF8.self).contains("no chain at"))
            #expect(api.handle(HTTPRequest(method: "GET", target: "/v1/chain/blocks/1", headers: [(name: "X-API-Key", value: globexSecret)])).status == 404)
            #expect(api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", "dev-0123456789abcdef")])).status == 200, "config keys stay cluster-wide")
            var send = Self.rpc("eth_chainId", headers: [("X-API-Key", acmeSecret)])
            send.body = Array(#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}"#.utf8)
            #expect(try JSON.parse(api.handle(send).body)["error"]?["code"] == .number("-32003"), "a read-only key sends no transaction")
        }

        // Rotation: both secrets work within the grace period; then revocation stops both everywhere.
        let (rs, rotated) = adminCall("POST", "/v1/api-keys/\(acmeKeyId)/rotate", #"{"graceSeconds":3600}"#)
        #expect(rs == 200 && rotated["previousSecretValidUntil"]?.stringValue != nil, "\(rotated)")
        let newSecret = try #require(rotated["secret"]?.stringValue)
        #expect(newSecret != acmeSecret)
        let api0 = c.api(leader, keys: ["dev-0123456789abcdef"])
        #expect(api0.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", acmeSecret)])).status == 200)
        #expect(api0.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", newSecret)])).status == 200)
        let revokeStarted = Date()
        #expect(adminCall("DELETE", "/v1/api-keys/\(acmeKeyId)").0 == 200)
        #expect(waitUntil { c.nodes.allSatisfy { n in
            let api = c.api(n, keys: ["dev-0123456789abcdef"])
            return api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", newSecret)])).status == 401
                && api.handle(Self.rpc("eth_chainId", headers: [("X-API-Key", acmeSecret)])).status == 401
        } })
        // Reported, not asserted (no wall-clock thresholds in unit tests): the issue asks for < 1 s.
        print("revocation refused on all 3 nodes \(Int(Date().timeIntervalSince(revokeStarted) * 1000)) ms after the DELETE was sent")
        #expect(adminCall("DELETE", "/v1/api-keys/\(acmeKeyId)").0 == 409)
        #expect(adminCall("GET", "/v1/api-keys/\(acmeKeyId)").1["revokedAt"]?.stringValue != nil)
        // On a node open to anyone, a revoked key is still refused, not read as no key at all.
        let open = c.api(leader).handle(Self.rpc("eth_chainId", headers: [("X-API-Key", newSecret)]))
        #expect(open.status == 401 && String(decoding: open.body, as: UTF8.self).contains("revoked, rotated out"))
        #expect(c.api(leader).handle(Self.rpc("eth_chainId")).status == 200, "the open node still answers without a key")
    }
}
