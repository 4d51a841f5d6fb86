import Chain
import ChainFollower
@testable import ChainIndex
@testable import Edge
import Foundation
import Net
@testable import Node
@testable import NodeConfig
import SimChain
@testable import StateMachine
import Storage
import Telemetry
import Testing

/// Chains as replicated configuration on an in-process three-node cluster: a chain seeded
/// from the config file, one added through the admin API while the first ingests, refusals
/// that name their problem, pause and resume, and a removal whose data disappears on
/// every node in bounded steps while the other chain keeps ingesting.
@Suite(.serialized) struct ChainRegistryNodeTests {
    static let token = "chain-registry-test-admin-token-0123456789"

    final class Cluster: @unchecked Sendable {
        let hub = LocalHub()
        let nodes: [TestNode]
        var supervisors: [ChainSupervisor] = []
        let simA: SimChainServer, simB: SimChainServer

        /// `seeds` gets chain A's upstream URL (the servers start first).
        init(_ name: String, seeds: (String) throws -> [ChainSeed]) throws {
            func sim(_ id: UInt64) throws -> SimChainServer {
                var o = SimChainOptions()
                o.blockTimeMillis = 0
                o.chainId = id
                o.txsPerBlock = 3
                o.seed = id
                let s = try SimChainServer(options: o)
                _ = s.start()
                return s
            }
            simA = try sim(901)
            simB = try sim(902)
            let seeds = try seeds(simA.url)
            let hub = self.hub
            nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("\(name)\($0)"), hub: hub) }
            for n in nodes {
                try n.start(voters: [1, 2, 3])
                let s = ChainSupervisor(node: n.node, seeds: seeds, fixedChain: nil,
                                        logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)), pollMillis: 20, purgeKeysPerStep: 4)
                s.start()
                supervisors.append(s)
            }
        }

        func stop() {
            supervisors.forEach { $0.stop() }
            nodes.forEach { if $0.node != nil { $0.stop() } }
            simA.stop(); simB.stop()
        }

        var leader: Int? { nodes.firstIndex { $0.node.report.status.role == .leader } }

        func head(_ i: Int, _ chain: UInt64) -> UInt64? { try? nodes[i].node.stateMachine.chain.view { try $0.head(chain) }?.number }

        func api(_ i: Int) -> NodeAPI {
            var c = NodeConfig()
            c.nodeId = nodes[i].id
            c.adminToken = ChainRegistryNodeTests.token
            let s = supervisors[i]
            return NodeAPI(node: nodes[i].node, config: c, chainStatuses: { s.statuses }, peerStatus: { [:] })
        }

        func request(_ i: Int, _ method: String, _ path: String, _ body: String = "") -> (status: Int, error: String, body: JSONValue?) {
            let req = HTTPRequest(method: method, target: path, headers: [("Host", "x"), ("Authorization", "Bearer " + ChainRegistryNodeTests.token),
                                                                           ("Content-Type", "application/json")], body: Array(body.utf8))
            let r = api(i).handle(req)
            let parsed = try? JSON.parse(r.body)
            return (r.status, parsed?["error"]?.stringValue ?? "", parsed)
        }

        /// Keys under the chain id in the per-chain tables of node i.
        func dataKeys(_ i: Int, _ chain: UInt64) throws -> Int {
            let tables = nodes[i].node.stateMachine.chain.tables
            return try nodes[i].env.read { txn in
                try tables.perChain.reduce(0) { sum, t in sum + (try txn.entries(in: t, prefix: Key(chain)).count) }
            }
        }
    }

    static func chainJSON(slug: String, id: UInt64, url: String, extra: String = "") -> String {
        #"{"slug":"\#(slug)","chainId":\#(id),"adapter":"ethereum","upstreams":["\#(url)"],"pollMillis":10\#(extra)}"#
    }

    @Test func chainsAreAddedPausedAndRemovedThroughTheLog() throws {
        let c = try Cluster("cr") { url in [try ChainSeed.parse(JSON.parse(Self.chainJSON(slug: "chain-a", id: 901, url: url)), field: "chains[0]")] }
        defer { c.stop() }
        let all = c.nodes.indices
        // Seeded once from the config: chain A indexes on every node.
        _ = c.simA.chain.mine(5)
        #expect(waitUntil(timeoutSeconds: 60) { all.allSatisfy { c.head($0, 901) == 5 } }, "the seeded chain is indexed everywhere")
        let l = try #require(c.leader)

        // Refusals name their problem, and change nothing.
        let bad = [
            (Self.chainJSON(slug: "chain-b", id: 903, url: c.simB.url), 422, "serves chain id 902, not 903"),
            (Self.chainJSON(slug: "chain-b", id: 902, url: "http://127.0.0.1:1"), 422, "unreachable"),
            (Self.chainJSON(slug: "chain-a", id: 902, url: c.simB.url), 409, "slug chain-a is chain 901's"),
            (Self.chainJSON(slug: "chain-b", id: 902, url: c.simB.url, extra: #","batchBlocks":0"#), 400, "chain.batchBlocks"),
            (Self.chainJSON(slug: "Chain_B", id: 902, url: c.simB.url), 400, "chain.slug"),
            (Self.chainJSON(slug: "chain-b", id: 902, url: c.simB.url, extra: #","parent":77"#), 400, "parent 77 is not a chain of this cluster"),
            (#"{"slug":"chain-b"}"#, 400, "chain.chainId"),
        ]
        for (body, status, problem) in bad {
            let r = c.request(l, "POST", "/v1/cluster/chains", body)
            #expect(r.status == status && r.error.contains(problem), "\(body) → \(r.status) \(r.error)")
        }
        #expect(try c.nodes[l].node.stateMachine.allChains().map(\.spec.slug) == ["chain-a"])
        #expect(c.request(l, "POST", "/v1/cluster/chains", "").status == 400)
        #expect(c.request(l, "DELETE", "/v1/cluster/chains/no-such").status == 404)

        // Added at runtime while A ingests: B indexes on every node too, with A's parent link.
        let added = c.request(l, "POST", "/v1/cluster/chains", Self.chainJSON(slug: "chain-b", id: 902, url: c.simB.url, extra: #","parent":901"#))
        #expect(added.status == 200, "\(added.error)")
        _ = c.simB.chain.mine(4)
        _ = c.simA.chain.mine(2)
        #expect(waitUntil(timeoutSeconds: 60) { all.allSatisfy { c.head($0, 902) == 4 && c.head($0, 901) == 7 } }, "both chains index")
        #expect(c.request(l, "POST", "/v1/cluster/chains", Self.chainJSON(slug: "chain-b", id: 902, url: c.simB.url)).status == 409, "added twice")

        // Every read surface addresses a chain by its slug, on any node.
        let f0 = (l + 1) % 3
        func read(_ target: String, _ method: String = "eth_blockNumber", headers: [(String, String)] = []) -> (status: Int, body: JSONValue?, block: String?) {
            let r = c.api(f0).handle(ReadGatewayTests.rpc(method, target: target, headers: headers))
            return (r.status, try? JSON.parse(r.body), r.header("X-Infrastack-Block"))
        }
        #expect(read("/chain-a").body?["result"] == .string("0x7") && read("/chain-a").block == "7")
        #expect(read("/chain-b").body?["result"] == .string("0x4") && read("/chain-b").block == "4")
        #expect(read("/chain-b", "eth_chainId").body?["result"] == .string("0x386"), "chain 902 answers as itself")
        let unknown = read("/no-such")
        #expect(unknown.status == 404 && unknown.body?["error"]?["message"]?.stringValue?.contains("no chain \"no-such\"") == true, "\(String(describing: unknown.body))")
        let root = read("/")
        #expect(root.status == 404 && root.body?["error"]?["message"]?.stringValue?.contains("address one as /<slug>") == true, "two chains and no default: / says how to address one")
        #expect(read("/chain-b", headers: [("X-Infrastack-Min-Block", "4")]).status == 200)
        #expect(read("/chain-b", headers: [("X-Infrastack-Min-Block", "40")]).status == 503, "Min-Block is the addressed chain's")
        let gql = c.api(f0).handle(HTTPRequest(method: "POST", target: "/chain-b/graphql", headers: [("Content-Type", "application/json")],
                                               body: Array(#"{"query":"{ block { number } }"}"#.utf8)))
        #expect(gql.status == 200 && (try? JSON.parse(gql.body))?["data"]?["block"]?["number"] != nil, "\(String(decoding: gql.body, as: UTF8.self))")
        let rest = c.api(f0).handle(HTTPRequest(method: "GET", target: "/v1/chains/chain-a/head"))
        #expect(rest.status == 200 && (try? JSON.parse(rest.body))?["latest"]?["number"] == .number("7"), "\(String(decoding: rest.body, as: UTF8.self))")

        // The list and /status show both, on a follower too.
        let f = (l + 1) % 3
        let listed = try #require(c.request(f, "GET", "/v1/cluster/chains").body?["chains"]?.arrayValue)
        #expect(listed.map { $0["slug"]?.stringValue } == ["chain-a", "chain-b"])
        #expect(listed.last?["parent"] == .number("901"))
        #expect(listed.allSatisfy { $0["lifecycle"]?.stringValue == "active" })
        let status = try JSON.parse(c.api(f).handle(HTTPRequest(method: "GET", target: "/status", headers: [("Authorization", "Bearer " + Self.token)])).body)
        #expect(status["chains"]?.arrayValue?.compactMap { $0["appliedHead"] } == [.number("7"), .number("4")])
        // Finality per chain, from the indexed heads: SimChain finalizes latest - 64, so block 0 here.
        for entry in status["chains"]?.arrayValue ?? [] {
            #expect(entry["finalizedHead"] == .number("0") && entry["finalityLagBlocks"] == entry["appliedHead"], "\(entry)")
            #expect(entry["finalityLagSeconds"]?.isNull == false, "seconds from the two blocks' timestamps")
        }

        // Changed: the new settings are replicated and its indexer restarts with them; the id stays.
        let changed = c.request(l, "PUT", "/v1/cluster/chains/chain-b", Self.chainJSON(slug: "chain-b", id: 902, url: c.simB.url, extra: #","parent":901,"batchBlocks":3"#))
        #expect(changed.status == 200, "\(changed.error)")
        #expect(waitUntil(timeoutSeconds: 10) { all.allSatisfy { i in
            ((try? c.nodes[i].node.stateMachine.allChains().first { $0.spec.chainId == 902 }).flatMap { $0 }.map { String(decoding: $0.spec.settings, as: UTF8.self).contains("\"batchBlocks\":3") }) ?? false
        } }, "every node has the changed settings")
        #expect(waitUntil(timeoutSeconds: 10) { (try? ChainSeed.config(of: c.supervisors[l].statuses.first { $0.record.spec.chainId == 902 }!.record.spec).batchBlocks) == 3 && c.supervisors[l].statuses.first { $0.record.spec.chainId == 902 }?.indexer != nil })
        let idChange = c.request(l, "PUT", "/v1/cluster/chains/chain-b", Self.chainJSON(slug: "chain-b", id: 903, url: c.simB.url))
        #expect(idChange.status == 400 && idChange.error.contains("a chain id cannot change"), "\(idChange.error)")
        _ = c.simB.chain.mine(1)
        #expect(waitUntil(timeoutSeconds: 60) { all.allSatisfy { c.head($0, 902) == 5 } }, "the restarted indexer goes on")

        // Paused: no block is indexed however far the upstream moves; resumed: it catches up.
        #expect(c.request(l, "POST", "/v1/cluster/chains/chain-a/pause").status == 200)
        #expect(waitUntil(timeoutSeconds: 10) { c.supervisors[l].statuses.first { $0.record.spec.chainId == 901 }.map { $0.record.state == .paused && $0.indexer == nil } ?? false })
        _ = c.simA.chain.mine(3)
        _ = c.simB.chain.mine(1)
        #expect(waitUntil(timeoutSeconds: 60) { all.allSatisfy { c.head($0, 902) == 6 } })
        Thread.sleep(forTimeInterval: 0.3)
        #expect(all.allSatisfy { c.head($0, 901) == 7 }, "a paused chain is not indexed")
        #expect(c.request(l, "POST", "/v1/cluster/chains/chain-a/resume").status == 200)
        #expect(waitUntil(timeoutSeconds: 60) { all.allSatisfy { c.head($0, 901) == 10 } }, "a resumed chain catches up")

        // Removed while B keeps ingesting, and the leader crashes mid-removal: the new leader
        // resumes the purge steps, the crashed node catches up on them, A's data goes from
        // every node and B's stays.
        let keysBefore = try c.dataKeys(l, 901)
        #expect(keysBefore > 5 * 4, "chain A's data takes several purge steps of 4 keys")
        #expect(c.request(l, "DELETE", "/v1/cluster/chains/chain-a").status == 200)
        _ = waitUntil(timeoutSeconds: 10) { ((try? c.nodes[l].node.stateMachine.allChains().first { $0.spec.chainId == 901 }?.purgedKeys) ?? 0) > 0 }
        let midway = (try? c.nodes[l].node.stateMachine.allChains().first { $0.spec.chainId == 901 }) ?? nil
        print("ChainRegistryNodeTests: leader stops at \(midway?.purgedKeys ?? 0) of \(keysBefore) keys deleted")
        c.supervisors[l].stop()
        c.nodes[l].stop()
        _ = c.simB.chain.mine(3)
        let survivors = all.filter { $0 != l }
        #expect(waitUntil(timeoutSeconds: 60) {
            survivors.allSatisfy { i in ((try? c.nodes[i].node.stateMachine.allChains().map(\.spec.slug)) ?? []) == ["chain-b"] }
        }, "the new leader finished the removal (the old one stopped at \(midway?.purgedKeys ?? 0) of \(keysBefore) keys)")
        try c.nodes[l].start(voters: nil)
        c.supervisors[l] = ChainSupervisor(node: c.nodes[l].node, seeds: [], fixedChain: nil,
                                           logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)), pollMillis: 20, purgeKeysPerStep: 4)
        c.supervisors[l].start()
        #expect(waitUntil(timeoutSeconds: 60) {
            all.allSatisfy { i in ((try? c.nodes[i].node.stateMachine.allChains().map(\.spec.slug)) ?? []) == ["chain-b"] }
        }, "the restarted node applied the rest of the removal")
        for i in all {
            #expect(try c.dataKeys(i, 901) == 0, "node \(i + 1) holds none of the removed chain's data")
            #expect(c.head(i, 901) == nil)
        }
        #expect(waitUntil(timeoutSeconds: 60) { all.allSatisfy { c.head($0, 902) == 9 } }, "the other chain kept ingesting")
        let l2 = try #require({ () -> Int? in _ = waitUntil { c.leader != nil }; return c.leader }())
        #expect(c.request(l2, "DELETE", "/v1/cluster/chains/chain-a").status == 404)

        // Every replica applied the same entries.
        #expect(waitUntil(timeoutSeconds: 20) { Set(c.nodes.map { $0.node.report.digest }).count == 1 && Set(c.nodes.map { $0.node.report.appliedIndex }).count == 1 },
                "state digests agree")
    }
}
