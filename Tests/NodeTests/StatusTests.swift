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
}
