@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Chain
import Consensus
import Foundation
import Net
import PeerTransport
import Testing
@testable import Node

/// Membership and the debug KV are admin endpoints: authenticated, separable from the
/// read port, and validated against the configuration before anything is proposed.
@Suite(.serialized) struct AdminAPITests {
    static let token = "admin-0123456789abcdef"

    // MARK: the guard's rules, one by one

    static func guard3(reachable: Set<UInt64> = [1, 2, 3], learners: Set<UInt64> = [], match: [UInt64: UInt64] = [:]) -> MembershipGuard {
        MembershipGuard(voters: [1, 2, 3], learners: learners, reachable: reachable, match: match, lastIndex: 1000)
    }

    @Test func promoteOnlyACaughtUpReachableLearner() {
        let never = Self.guard3().refusal(ConfChange(.addVoter, node: 99))
        #expect(never?.contains("node 99 is not a learner") == true, "\(never ?? "allowed")")
        #expect(Self.guard3().refusal(ConfChange(.addVoter, node: 2))?.contains("already a voter") == true)
        let behind = Self.guard3(reachable: [1, 2, 3, 4], learners: [4], match: [4: 10]).refusal(ConfChange(.addVoter, node: 4))
        #expect(behind?.contains("has not caught up: it has 10 of 1000 entries") == true, "\(behind ?? "allowed")")
        let down = Self.guard3(learners: [4], match: [4: 1000]).refusal(ConfChange(.addVoter, node: 4))
        #expect(down?.contains("not connected") == true)
        #expect(Self.guard3(reachable: [1, 2, 3, 4], learners: [4], match: [4: 950]).refusal(ConfChange(.addVoter, node: 4)) == nil)
        // Four voters need three up: promoting while two of the old ones are down is refused.
        let thin = Self.guard3(reachable: [1, 4], learners: [4], match: [4: 1000]).refusal(ConfChange(.addVoter, node: 4))
        #expect(thin?.contains("below a quorum of 3") == true, "\(thin ?? "allowed")")
    }

    @Test func removeOnlyWhatLeavesAReachableQuorum() {
        #expect(Self.guard3().refusal(ConfChange(.removeNode, node: 2)) == nil)
        // Node 3 is down: removing it is the repair; removing 2 would leave {1, 3} with only 1 up.
        #expect(Self.guard3(reachable: [1, 2]).refusal(ConfChange(.removeNode, node: 3)) == nil)
        let fatal = Self.guard3(reachable: [1, 2]).refusal(ConfChange(.removeNode, node: 2))
        #expect(fatal?.contains("would leave 1 reachable of 2 voters") == true, "\(fatal ?? "allowed")")
        #expect(Self.guard3().refusal(ConfChange(.removeNode, node: 7))?.contains("not a member") == true)
        #expect(Self.guard3(reachable: [1], learners: [5]).refusal(ConfChange(.removeNode, node: 5)) == nil, "a learner never counts towards a quorum")
        let last = MembershipGuard(voters: [1], learners: [], reachable: [1], match: [:], lastIndex: 5).refusal(ConfChange(.removeNode, node: 1))
        #expect(last?.contains("last voter") == true)
        #expect(Self.guard3().refusal(ConfChange(.addLearner, node: 3))?.contains("already a voter") == true)
    }

    // MARK: the endpoints on an in-process cluster

    static func config(_ id: UInt64, token: String? = AdminAPITests.token, debugKV: Bool = true, adminListen: Bool = false) -> NodeConfig {
        var c = NodeConfig()
        c.nodeId = id
        c.adminToken = token
        c.debugKV = debugKV
        if adminListen { c.adminListen = SocketAddress(host: "127.0.0.1", port: 9999) }
        return c
    }

    static func request(_ method: String, _ path: String, token: String? = nil, body: String = "") -> HTTPRequest {
        var headers: [(name: String, value: String)] = [("Host", "x")]
        if let token { headers.append(("Authorization", "Bearer " + token)) }
        return HTTPRequest(method: method, target: path, headers: headers, body: Array(body.utf8))
    }

    static func error(_ r: HTTPResponse) -> String { (try? JSON.parse(r.body))?["error"]?.stringValue ?? "" }

    @Test func everyAdminEndpointNeedsTheToken() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("adm\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { nodes.contains { $0.node.report.status.role == .leader } })
        let leader = try #require(nodes.first { $0.node.report.status.role == .leader })
        let api = NodeAPI(node: leader.node, config: Self.config(leader.id), peerStatus: { [:] })
        let before = leader.node.report.status.conf

        for (method, path, body) in [("POST", "/v1/cluster/members/99/promote", ""), ("DELETE", "/v1/cluster/members/2", ""),
                                     ("POST", "/v1/cluster/members", #"{"id":5,"raft":"127.0.0.1:1","http":"http://127.0.0.1:2"}"#),
                                     ("PUT", "/v1/debug/kv/a", "x"), ("GET", "/v1/debug/kv/a", "")] {
            let missing = api.handle(Self.request(method, path, body: body))
            #expect(missing.status == 401, "\(method) \(path) without a token: \(missing.status)")
            #expect(missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let wrong = api.handle(Self.request(method, path, token: "admin-wrong-wrong-wrong", body: body))
            #expect(wrong.status == 401 && Self.error(wrong).contains("not valid"), "\(method) \(path) with a wrong token: \(wrong.status)")
            #expect(api.earlyRefusal(Self.request(method, path))?.status == 401, "refused before the body arrives")
        }
        #expect(leader.node.report.status.conf == before, "nothing changed")
        // An API key is not an admin token, and /healthz or /status need neither.
        #expect(api.handle(Self.request("GET", "/status")).status == 200)
        #expect(api.earlyRefusal(Self.request("POST", "/")) == nil, "reads are not admin requests")

        // With the token: the write goes through; promoting a never-added node is refused with the reason.
        #expect(api.handle(Self.request("PUT", "/v1/debug/kv/a", token: Self.token, body: "x")).status == 200)
        #expect(api.handle(Self.request("GET", "/v1/debug/kv/a", token: Self.token)).body == Array("x".utf8))
        let ghost = api.handle(Self.request("POST", "/v1/cluster/members/99/promote", token: Self.token))
        #expect(ghost.status == 409)
        #expect(Self.error(ghost).contains("node 99 is not a learner"), "\(Self.error(ghost))")
        let noAddress = api.handle(Self.request("POST", "/v1/cluster/members", token: Self.token, body: #"{"id":5}"#))
        #expect(noAddress.status == 400 && Self.error(noAddress).contains("raft is required"), "\(Self.error(noAddress))")
        #expect(leader.node.report.status.conf == before, "refused changes propose nothing")

        // Removing a voter while another is unreachable would leave no reachable quorum.
        let others = nodes.map(\.id).filter { $0 != leader.id }
        let partial = NodeAPI(node: leader.node, config: Self.config(leader.id), peerStatus: {
            let somewhere = try! SocketAddress(parsing: "127.0.0.1:1")
            return [others[0]: PeerStatus(address: somewhere, connected: true), others[1]: PeerStatus(address: somewhere, connected: false)]
        })
        let thin = partial.handle(Self.request("DELETE", "/v1/cluster/members/\(others[0])", token: Self.token))
        #expect(thin.status == 409 && Self.error(thin).contains("below a quorum"), "\(Self.error(thin))")
        #expect(leader.node.report.status.conf == before)
    }

    @Test func disabledUnlessConfiguredAndSeparableFromTheReadPort() throws {
        let hub = LocalHub()
        let n = TestNode(id: 1, dir: temporaryDirectory("adm-solo"), hub: hub)
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })

        let noToken = NodeAPI(node: n.node, config: Self.config(1, token: nil), peerStatus: { [:] })
        let r = noToken.handle(Self.request("POST", "/v1/cluster/members/1/promote", token: "anything-at-all-really"))
        #expect(r.status == 401 && Self.error(r).contains("token is not valid"), "without a configured admin token only users' tokens open the admin plane: \(Self.error(r))")

        let noKV = NodeAPI(node: n.node, config: Self.config(1, debugKV: false), peerStatus: { [:] })
        let kv = noKV.handle(Self.request("PUT", "/v1/debug/kv/a", token: Self.token, body: "x"))
        #expect(kv.status == 404 && Self.error(kv).contains("debug key-value store is off"), "\(Self.error(kv))")

        let split = NodeAPI(node: n.node, config: Self.config(1, adminListen: true), peerStatus: { [:] })
        let onPublic = split.handle(Self.request("PUT", "/v1/debug/kv/a", token: Self.token, body: "x"), on: .api)
        #expect(onPublic.status == 404 && Self.error(onPublic).contains("admin address"), "\(Self.error(onPublic))")
        #expect(split.earlyRefusal(Self.request("PUT", "/v1/debug/kv/a"), on: .api) == nil, "the public port answers 404 after the body, not 401")
        #expect(split.handle(Self.request("PUT", "/v1/debug/kv/a", token: Self.token, body: "x"), on: .admin).status == 200)
        #expect(split.handle(Self.request("GET", "/healthz"), on: .admin).status == 200)
    }

    @Test func configValidatesTheAdminFields() throws {
        func parse(_ extra: JSONObject, env: [String: String] = [:]) throws -> NodeConfig {
            var o: JSONObject = ["nodeId": .number("1"), "clusterId": .string("c"), "dataDir": .string("/tmp/x"), "secret": .string("0123456789abcdef0123")]
            for (k, v) in extra.pairs { o[k] = v }
            let path = temporaryDirectory("cfg") + "/node.json"
            try JSON.serialize(.object(o)).write(toFile: path, atomically: true, encoding: .utf8)
            return try NodeConfig.load(path: path, environment: env)
        }
        func problem(_ extra: JSONObject) -> String {
            do { _ = try parse(extra); return "accepted" } catch { return "\(error)" }
        }
        #expect(problem(["adminToken": .string("short")]).contains("config field adminToken"))
        #expect(problem(["adminListen": .string("127.0.0.1:8001")]).contains("config field adminListen"))
        #expect(problem(["debugKV": .string("yes")]).contains("config field debugKV"))
        #expect(problem(["mapSizeMiB": .number("64"), "mapLimitMiB": .number("32")]).contains("config field mapLimitMiB: must be at least mapSizeMiB (64)"))
        #expect(problem(["mapLimitMiB": .number("0")]).contains("config field mapLimitMiB"))
        #expect(try parse(["mapSizeMiB": .number("64"), "mapLimitMiB": .number("128")]).mapLimitMiB == 128)
        #expect(problem(["peers": .array([.object(["id": .number("2"), "raft": .string("127.0.0.1:7002"), "http": .string("http://127.0.0.1:8002"),
                                                   "admin": .string("ftp://x")])])]).contains("config field peers[0].admin"))
        #expect(problem(["apiKeys": .array([.string(Self.token)]), "adminToken": .string(Self.token)]).contains("must differ from every API key"))
        // Raft traffic leaving the machine needs TLS, or an explicit opt-out.
        #expect(problem(["raftListen": .string("10.0.1.10:7001")]).contains("config field peerTLS: is required when peer links leave this machine"))
        #expect(problem(["raftListen": .string("10.0.1.10:7001"), "insecurePlainPeers": .bool(true)]) == "accepted")
        #expect(problem(["peerTLS": .object(["caFile": .string("/etc/hostname"), "certFile": .string("/etc/hostname")])]).contains("config field peerTLS.keyFile"))
        #expect(problem(["httpTLS": .object(["certFile": .string("/nonexistent.pem"), "keyFile": .string("/etc/hostname")])]).contains("config field httpTLS.certFile"))
        #expect(problem(["chain": .object(["chainId": .number("1"), "upstreams": .array([.string("ftp://x")])])]).contains("config field chain.upstreams[0]"))
        #expect(problem(["chain": .object(["chainId": .number("1"), "upstreams": .array([.object(["url": .string("http://x:1"), "caFile": .string("/etc/hostname")])])])])
            .contains("apply to https:// and wss:// URLs only"))
        // Chains that seed the registry: each field named with its position.
        func chain(_ id: Int, _ slug: String, _ extra: JSONObject = [:]) -> JSONValue {
            var o: JSONObject = ["slug": .string(slug), "chainId": .number(String(id)), "upstreams": .array([.string("http://127.0.0.1:8545")])]
            for (k, v) in extra.pairs { o[k] = v }
            return .object(o)
        }
        #expect(problem(["chains": .object([:])]).contains("config field chains: must be an array"))
        #expect(problem(["chains": .array([chain(1, "Bad_Slug")])]).contains("config field chains[0].slug"))
        #expect(problem(["chains": .array([.object(["chainId": .number("1")])])]).contains("config field chains[0].slug: is required"))
        #expect(problem(["chains": .array([chain(1, "a"), chain(2, "b", ["batchBlocks": .number("0")])])]).contains("config field chains[1].batchBlocks"))
        #expect(problem(["chains": .array([chain(1, "a"), chain(1, "b")])]).contains("config field chains[1].chainId: chain 1 is listed twice"))
        #expect(problem(["chains": .array([chain(1, "a"), chain(2, "a")])]).contains("config field chains[1].slug: slug a is listed twice"))
        #expect(problem(["chains": .array([chain(1, "a", ["parent": .number("1")])])]).contains("config field chains[0].parent: is the chain's own id"))
        #expect(problem(["chains": .array([chain(1, "a", ["nope": .bool(true)])])]).contains("config field chains[0].nope: unknown field"))
        #expect(problem(["chain": .object(["chainId": .number("1"), "upstreams": .array([.string("http://x:1")])]), "chains": .array([chain(1, "a")])])
            .contains("config field chains: chain 1 is also the \"chain\" field's"))
        let seeded = try parse(["chains": .array([chain(10, "op-a", ["parent": .number("1")]), chain(1, "l1")])])
        #expect(seeded.chains.map(\.spec.slug) == ["op-a", "l1"] && seeded.chains[0].spec.parent == 1 && seeded.chain == nil)
        #expect(try ChainSeed.config(of: seeded.chains[0].spec).chainId == 10, "the stored settings parse back on every node")
        // Webhook delivery settings, each named.
        #expect(problem(["webhooks": .object(["maxAttempts": .number("0")])]).contains("config field webhooks.maxAttempts"))
        #expect(problem(["webhooks": .object(["timeoutMillis": .string("5s")])]).contains("config field webhooks.timeoutMillis"))
        #expect(problem(["webhooks": .object(["caFile": .string("/nonexistent.pem")])]).contains("config field webhooks.caFile"))
        #expect(problem(["webhooks": .object(["retries": .number("3")])]).contains("config field webhooks.retries: unknown field"))
        let w = try parse(["webhooks": .object(["maxAttempts": .number("3"), "concurrency": .number("4"), "timeoutMillis": .number("900"), "caFile": .string("/etc/hostname")])])
        #expect(w.webhookMaxAttempts == 3 && w.webhookConcurrency == 4 && w.webhookTimeoutMillis == 900 && w.webhookCAFile == "/etc/hostname")
        // Backup settings, each named.
        #expect(problem(["backup": .object([:])]).contains("config field backup.to: is required"))
        #expect(problem(["backup": .object(["to": .string("s3://Bad_Bucket/x")])]).contains("config field backup.to"))
        #expect(problem(["backup": .object(["to": .string("ftp://host/x")])]).contains("config field backup.to"))
        #expect(problem(["backup": .object(["to": .string("/b"), "everyMinutes": .number("0")])]).contains("config field backup.everyMinutes"))
        #expect(problem(["backup": .object(["to": .string("/b"), "takenBy": .string("me")])]).contains("config field backup.takenBy"))
        #expect(problem(["backup": .object(["to": .string("/b"), "shipLogs": .string("yes")])]).contains("config field backup.shipLogs"))
        #expect(problem(["backup": .object(["to": .string("/b"), "every": .number("5")])]).contains("config field backup.every: unknown field"))
        let b = try parse(["backup": .object(["to": .string("/b"), "everyMinutes": .number("60"), "keep": .number("3"), "takenBy": .string("any"),
                                              "shipEverySeconds": .number("10"), "shipEveryMiB": .number("4")])]).backup
        #expect(b?.to == "/b" && b?.everyMinutes == 60 && b?.keep == 3 && b?.takenBy == .any && b?.shipEverySeconds == 10 && b?.shipEveryMiB == 4 && b?.shipLogs == true)
        let c = try parse(["adminToken": .string("from-the-file-0123456")], env: ["INFRASTACK_ADMIN_TOKEN": Self.token])
        #expect(c.adminToken == Self.token, "the environment overrides the file")
        #expect(c.debugKV == false, "the debug KV is off by default")
    }
}

/// A committed entry that does not decode stops every replica loudly — no apply around it,
/// no more writes — and each says so in /readyz and /status instead of serving on.
@Suite(.serialized) struct CorruptStateTests {
    @Test func anUndecodableCommittedEntryStopsEveryReplica() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("corrupt\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { nodes.contains { $0.node.report.status.role == .leader } })
        let leader = try #require(nodes.first { $0.node.report.status.role == .leader })
        #expect(leader.node.propose(.put(key: "before", value: [1])) != .timedOut)
        let before = leader.node.report.appliedIndex
        // Op 0xEE is no command: a bug, or a newer node's format.
        _ = leader.node.propose(raw: [0xEE, 1, 2, 3], timeoutMillis: 2000)
        #expect(waitUntil { nodes.allSatisfy { $0.node.report.corruption != nil } }, "every replica stopped at the entry")
        // The bad entry is the first one past what each replica applied (a leader's no-op may
        // come between the put and it), and every replica stopped at that same entry.
        let stoppedAt = Set(nodes.map { $0.node.report.appliedIndex })
        #expect(stoppedAt.count == 1 && stoppedAt.first! >= before, "every replica applied the same entries: \(stoppedAt)")
        for n in nodes {
            let r = n.node.report
            #expect(r.corruption?.contains("committed entry \(r.appliedIndex + 1) ") == true, "node \(n.id): \(r.corruption ?? "running")")
            let api = NodeAPI(node: n.node, config: AdminAPITests.config(n.id), peerStatus: { [:] })
            let ready = api.handle(AdminAPITests.request("GET", "/readyz"))
            #expect(ready.status == 503 && AdminAPITests.error(ready).contains("does not decode"), "node \(n.id) /readyz")
            let status = try JSON.parse(api.handle(AdminAPITests.request("GET", "/status", token: AdminAPITests.token)).body)
            #expect(status["alarms"]?.arrayValue?.first?["alarm"] == .string("CORRUPT"))
        }
        if case .unavailable(let why) = leader.node.propose(.put(key: "after", value: [2])) {
            #expect(why.contains("stopped"))
        } else {
            Issue.record("a stopped node must refuse writes")
        }
    }
}
