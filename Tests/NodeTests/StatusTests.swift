import Upstream
@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Chain
import Foundation
import ChainFollower
import Net
import PeerTransport
import Telemetry
import Testing
@testable import Node

/// /status is read by `infrastack status`, cluster/status, bench/ and the Python tests: built
/// from typed snapshots now, it must keep every field they read, with the same types.
@Suite(.serialized) struct StatusTests {
    static func number(_ v: JSONValue?) -> UInt64? {
        if case .number(let n)? = v { return UInt64(n) }
        return nil
    }

    @Test func statusKeepsTheFieldsItsReadersUse() throws {
        let c = try ReadGatewayTests.Cluster("st")
        defer { c.stop() }
        _ = c.sim.chain.mine(3)
        #expect(waitUntil(timeoutSeconds: 60) { c.nodes.allSatisfy { c.head($0) == 3 } })
        let i = try #require({ () -> Int? in _ = waitUntil { c.follower != nil }; return c.nodes.firstIndex { $0 === c.follower } }())
        let n = c.nodes[i], ix = c.indexers[i]
        var config = NodeConfig()
        config.nodeId = n.id
        config.chain = Indexer.Config(chainId: ReadGatewayTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: c.sim.url)])
        let others = c.nodes.map(\.id).filter { $0 != n.id }
        let address = try SocketAddress(parsing: "127.0.0.1:7002")
        let links = [others[0]: PeerStatus(address: address, connected: true, inboundConnected: true, queuedMessages: 1, queuedBytes: 64,
                                           droppedMessages: 2, sentMessages: 10, receivedMessages: 9, sentBytes: 200, receivedBytes: 180,
                                           connectionsEstablished: 2),
                     others[1]: PeerStatus(address: address, lastError: "connect failed: connection refused", reconnectAttempts: 3)]
        let metrics = MetricsRegistry()
        let api = NodeAPI(node: n.node, config: config, metrics: metrics, indexerStatus: { ix.status }, peerStatus: { links })
        for _ in 0..<3 { #expect(api.handle(ReadGatewayTests.rpc("eth_blockNumber")).status == 200) }
        _ = api.handle(ReadGatewayTests.rpc("eth_noSuchMethod"))

        let s = try JSON.parse(api.handle(HTTPRequest(method: "GET", target: "/status")).body)
        for k in ["nodeId", "pid", "term", "leaderId", "commitIndex", "appliedIndex", "lastIndex", "snapshotIndex"] {
            #expect(Self.number(s[k]) != nil, "\(k) is a number")
        }
        for k in ["clusterId", "role", "stateDigest", "httpURL"] { #expect(s[k]?.stringValue != nil, "\(k) is a string") }
        #expect(s["voters"]?.arrayValue?.count == 3 && s["learners"]?.arrayValue != nil && s["alarms"]?.arrayValue == [])
        #expect(s["adminURL"] != nil)
        for k in ["readies", "entriesPersisted", "messagesSent", "entriesApplied", "persistMicros", "applyMicros", "leaderChanges",
                  "logSyncs", "logBytesSynced"] {
            #expect(Self.number(s["counters"]?[k]) != nil, "counters.\(k)")
        }

        // Peers: replication progress and the whole link, not three fields of it.
        let peers = try #require(s["peers"]?.arrayValue)
        #expect(peers.count == 2)
        for p in peers {
            #expect(Self.number(p["id"]) != nil && p["matchIndex"] != nil && p["lag"] != nil)
            #expect(p["connected"]?.boolValue != nil && Self.number(p["queuedMessages"]) != nil && Self.number(p["droppedMessages"]) != nil)
        }
        let up = try #require(peers.first { Self.number($0["id"]) == others[0] })
        #expect(up["state"] == .string("connected") && up["inboundConnected"] == .bool(true))
        #expect(Self.number(up["sentMessages"]) == 10 && Self.number(up["receivedMessages"]) == 9)
        #expect(Self.number(up["sentBytes"]) == 200 && Self.number(up["receivedBytes"]) == 180 && Self.number(up["queuedBytes"]) == 64)
        #expect(Self.number(up["connections"]) == 2 && Self.number(up["droppedMessages"]) == 2 && up["lastError"] == .null)
        let down = try #require(peers.first { Self.number($0["id"]) == others[1] })
        #expect(down["state"] == .string("reconnecting") && down["connected"] == .bool(false))
        #expect(down["lastError"] == .string("connect failed: connection refused") && Self.number(down["reconnectAttempts"]) == 3)

        // The indexer: its state as the text operators know, plus the case alone.
        let x = try #require(s["indexer"])
        #expect(x["state"] == .string("standby (not leader)") && x["stateKind"] == .string("notLeader"), "a follower's indexer waits")
        #expect(Self.number(x["chainId"]) == ReadGatewayTests.chainId && Self.number(x["appliedHead"]) == 3)
        #expect(x["appliedHeadHash"]?.stringValue?.hasPrefix("0x") == true)
        #expect(x["stateSource"]?.stringValue.map { ["unknown", "prestateTracer", "probe", "none"].contains($0) } == true)
        for k in ["upstream", "headSignal"] { #expect(x[k]?.stringValue != nil, "indexer.\(k)") }
        for k in ["reorgs", "refusedBlocks"] { #expect(Self.number(x[k]) != nil, "indexer.\(k)") }
        for k in ["upstreamHead", "indexedHead", "lagBlocks", "lagSeconds", "blocksPerSecond", "txPerSecond", "etaSeconds", "blocksIndexed", "lastAlert", "upstreams"] {
            #expect(x[k] != nil, "indexer.\(k)")
        }

        // RPC: counts per method, the same series the registry exposes.
        let rpc = try #require(s["rpc"])
        #expect(Self.number(rpc["methods"]?["eth_blockNumber"]?["calls"]) == 3 && Self.number(rpc["methods"]?["eth_blockNumber"]?["errors"]) == 0)
        #expect(Self.number(rpc["methods"]?["eth_noSuchMethod"]?["errors"]) == 1)
        #expect(Self.number(rpc["requests"]) == 4 && Self.number(rpc["errors"]) == 1)
        #expect(Self.number(rpc["filters"]) == 0 && Self.number(rpc["subscriptions"]) == 0 && rpc["forwarding"]?.boolValue != nil)
        #expect(Self.number(rpc["rejectedUpstreamProofs"]) == 0)
        let m = metrics.snapshot()
        let chain = String(ReadGatewayTests.chainId)
        #expect(m["rpc_requests_total"]?.counter(["chain": chain, "method": "eth_blockNumber", "outcome": "ok"]) == 3)
        #expect(m["rpc_requests_total"]?.counter(["chain": chain, "method": "eth_noSuchMethod", "outcome": "error"]) == 1)
        #expect(m["rpc_request_duration_seconds"]?.histogram(["chain": chain, "method": "eth_blockNumber"])?.count == 3)
    }

    @Test func raftCountersReadTheSameFromTheReportAndTheRegistry() throws {
        let hub = LocalHub()
        let n = TestNode(id: 1, dir: temporaryDirectory("raft-metrics"), hub: hub)
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        for k in 0..<5 { #expect(n.node.propose(.put(key: "k\(k)", value: [UInt8(k)])) != .timedOut) }
        let registry = MetricsRegistry()
        RaftMetrics.register({ n.node.report }, in: registry)
        let before = RaftCounters(n.node.report)
        let s = registry.snapshot()
        let after = RaftCounters(n.node.report)
        let readies = try #require(s["raft_readies_total"]?.counter())
        let applied = try #require(s["raft_entries_applied_total"]?.counter())
        #expect(before.readies <= readies && readies <= after.readies && readies >= 5, "\(before.readies) ≤ \(readies) ≤ \(after.readies)")
        #expect(before.entriesApplied <= applied && applied <= after.entriesApplied && applied >= 5)
        // Each of the five writes was its own Ready here, each synced once with its bytes.
        let syncs = try #require(s["raft_log_syncs_total"]?.counter())
        let synced = try #require(s["raft_log_synced_bytes_total"]?.counter())
        #expect(before.logSyncs <= syncs && syncs <= after.logSyncs && syncs >= 5, "\(before.logSyncs) ≤ \(syncs) ≤ \(after.logSyncs)")
        #expect(synced >= 5 && after.logBytesSynced >= synced)
        #expect(s["raft_is_leader"]?.gauge() == 1)
        #expect(s["raft_term"]?.gauge() == Int64(n.node.report.status.term))
    }

    /// Without a credential, /status is the public status page: health and each chain's
    /// freshness, and nothing else (no upstream, address, slug, counter or digest).
    @Test func anonymousStatusIsThePublicSummary() throws {
        let c = try ReadGatewayTests.Cluster("stp")
        defer { c.stop() }
        _ = c.sim.chain.mine(2)
        #expect(waitUntil(timeoutSeconds: 60) { c.nodes.allSatisfy { c.head($0) == 2 } })
        let n = c.nodes[0]
        var config = NodeConfig()
        config.nodeId = n.id
        config.adminToken = "admin-secret-for-status"
        config.metricsToken = "metrics-secret-for-status"
        config.chain = Indexer.Config(chainId: ReadGatewayTests.chainId, adapter: EthereumAdapter(),
                                      upstreams: [UpstreamEndpoint(url: "http://127.0.0.1:9/v3/project-key-in-the-path")])
        let api = NodeAPI(node: n.node, config: config, peerStatus: { [:] })
        func get(_ target: String, _ token: String? = nil) -> HTTPResponse {
            api.handle(HTTPRequest(method: "GET", target: target, headers: token.map { [("Authorization", "Bearer " + $0)] } ?? []))
        }

        let anon = get("/status")
        #expect(anon.status == 200)
        let s = try JSON.parse(anon.body)
        #expect(Set(s.objectValue?.pairs.map(\.0) ?? []) == ["status", "nodeId", "clusterId", "role", "leaderId", "term", "commitIndex", "appliedIndex", "problems", "chains", "detail"])
        let chain = try #require(s["chains"]?.arrayValue?.first)
        #expect(Set(chain.objectValue?.pairs.map(\.0) ?? []) == ["chainId", "appliedHead", "headTimestamp", "headAgeSeconds", "freshness"])
        #expect(Self.number(chain["chainId"]) == ReadGatewayTests.chainId && Self.number(chain["appliedHead"]) == 2)
        // SimChain's timestamps are from 2023; the head moved a moment ago, so the data is fresh.
        #expect(chain["freshness"]?.stringValue == "fresh", "\(chain)")
        #expect(s["status"]?.stringValue == "ok", "\(s)")
        let text = String(decoding: anon.body, as: UTF8.self)
        for secret in ["project-key", "127.0.0.1", "stateDigest", "pid", "upstream"] { #expect(!text.contains(secret), "the summary shows \(secret)") }

        // The detailed JSON: to the metrics token, the admin token; a summary when asked.
        for token in ["metrics-secret-for-status", "admin-secret-for-status"] {
            let d = try JSON.parse(get("/status", token).body)
            #expect(d["stateDigest"]?.stringValue != nil && d["peers"] != nil && d["httpURL"] != nil)
            #expect(try JSON.parse(get("/status?view=summary", token).body)["stateDigest"] == nil)
        }
        // A wrong token is refused, not quietly answered with less; so is a detail asked without one.
        let wrong = get("/status", "not-a-token")
        #expect(wrong.status == 401 && String(decoding: wrong.body, as: UTF8.self).contains("detailed /status"))
        #expect(get("/status?view=detail").status == 401)
        #expect(get("/status?view=everything").status == 400)
    }

    @Test func publicStatusJudgesFreshnessAndHealth() {
        let now: UInt64 = 1_800_000_000_000
        var p = PublicStatus(nodeId: 1, clusterId: "c", role: "follower", leaderId: 2, term: 3, commitIndex: 10, appliedIndex: 10,
                             diskAlarm: false, corrupt: false,
                             chains: [.init(chainId: 1, appliedHead: 5, headTimestamp: now / 1000 - 5, movedMillis: now - 600_000)])
        #expect(p.json(nowMillis: now)["status"]?.stringValue == "ok")
        #expect(PublicStatus.freshness(p.chains[0], nowMillis: now).age == 5)
        // Old timestamps and no movement for longer than the limit: stale, and the node degraded.
        p.chains[0].headTimestamp = now / 1000 - 3600
        #expect(PublicStatus.freshness(p.chains[0], nowMillis: now) == (.stale, 600))
        #expect(p.json(nowMillis: now)["status"]?.stringValue == "degraded")
        // Moved just now: fresh whatever the timestamps say.
        p.chains[0].movedMillis = now - 1000
        #expect(PublicStatus.freshness(p.chains[0], nowMillis: now).0 == .fresh)
        p.chains.append(.init(chainId: 2, appliedHead: nil, headTimestamp: nil, movedMillis: nil))
        #expect(PublicStatus.freshness(p.chains[1], nowMillis: now).0 == .empty)
        #expect(p.json(nowMillis: now)["status"]?.stringValue == "ok", "a chain not started yet is no fault")
        p.commitIndex = 5000
        #expect(p.json(nowMillis: now)["status"]?.stringValue == "degraded")
        p.leaderId = 0
        #expect(p.json(nowMillis: now)["status"]?.stringValue == "down")
        #expect(p.json(nowMillis: now)["problems"]?.arrayValue?.contains(.string("no leader known")) == true)
    }

    @Test func headMovementKeepsTheTimeAHeadLastChanged() {
        let m = HeadMovement()
        #expect(m.observe([1: 10, 2: 3], nowMillis: 1000) == [1: 1000, 2: 1000])
        #expect(m.observe([1: 10, 2: 4], nowMillis: 5000) == [1: 1000, 2: 5000])
        #expect(m.observe([1: 11], nowMillis: 9000) == [1: 9000])
        #expect(m.observe([1: 11, 2: 4], nowMillis: 9500) == [1: 9000, 2: 9500], "a chain gone and back counts as moved")
    }
}
