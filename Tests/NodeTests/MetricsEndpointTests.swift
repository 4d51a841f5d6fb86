import Chain
import ChainFollower
@testable import Edge
import Foundation
import Net
@testable import NodeConfig
import Telemetry
import Testing
import Upstream

/// GET /metrics: who may scrape it, the two formats, and the series a loaded node shows.
@Suite(.serialized) struct MetricsEndpointTests {
    static let metricsToken = "metrics-scrape-token-0123456789"

    static func scrape(_ api: NodeAPI, token: String? = nil, accept: String? = nil, on listener: NodeAPI.Listener = .api) -> HTTPResponse {
        var headers: [(name: String, value: String)] = [("Host", "x")]
        if let token { headers.append(("Authorization", "Bearer " + token)) }
        if let accept { headers.append(("Accept", accept)) }
        return api.handle(HTTPRequest(method: "GET", target: "/metrics", headers: headers), on: listener)
    }

    /// Sample lines by name and labels, as `name{labels}` → value.
    static func samples(_ body: [UInt8]) -> [String: Double] {
        var out = [String: Double]()
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    @Test func onlyTheMetricsTokenOrAClusterAdminMayScrape() throws {
        let hub = LocalHub()
        let n = TestNode(id: 1, dir: temporaryDirectory("metrics-auth"), hub: hub)
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        var config = AdminAPITests.config(1)
        config.metricsToken = Self.metricsToken
        config.apiKeys = ["read-key-0123456789abcdef"]
        let api = NodeAPI(node: n.node, config: config, peerStatus: { [:] })

        let none = Self.scrape(api)
        #expect(none.status == 401 && AdminAPITests.error(none).contains("token is required for /metrics"), "\(AdminAPITests.error(none))")
        #expect(none.header("WWW-Authenticate")?.hasPrefix("Bearer realm=\"infrastack-metrics\"") == true)
        let readKey = Self.scrape(api, token: "read-key-0123456789abcdef")
        #expect(readKey.status == 401 && AdminAPITests.error(readKey).contains("may not read /metrics"), "an API key does not scrape")
        #expect(Self.scrape(api, token: "metrics-wrong-token-0123456789").status == 401)

        let ok = Self.scrape(api, token: Self.metricsToken)
        #expect(ok.status == 200 && ok.header("Content-Type") == MetricsSnapshot.prometheusContentType)
        #expect(Self.samples(ok.body)["raft_is_leader"] == 1)
        #expect(Self.scrape(api, token: AdminAPITests.token).status == 200, "the admin token scrapes too")
        #expect(Self.scrape(api, token: Self.metricsToken, on: .admin).status == 200, "served on the admin listener as well")

        // The metrics token opens nothing else.
        let orgs = api.handle(AdminAPITests.request("GET", "/v1/orgs", token: Self.metricsToken))
        #expect(orgs.status == 401, "the scrape credential is not an admin credential: \(orgs.status)")
        let read = api.handle(ReadGatewayTests.rpc("eth_blockNumber", headers: [("Authorization", "Bearer " + Self.metricsToken)]))
        #expect(read.status == 401, "nor a read key: \(read.status)")

        // A development node with neither token serves /metrics to anyone.
        let open = NodeAPI(node: n.node, config: AdminAPITests.config(1, token: nil), peerStatus: { [:] })
        #expect(Self.scrape(open).status == 200)
    }

    @Test func openMetricsWhenAskedAndPrometheusTextOtherwise() throws {
        let hub = LocalHub()
        let n = TestNode(id: 1, dir: temporaryDirectory("metrics-format"), hub: hub)
        try n.start(voters: [1])
        defer { n.stop() }
        let api = NodeAPI(node: n.node, config: AdminAPITests.config(1, token: nil), peerStatus: { [:] })
        let om = Self.scrape(api, accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        #expect(om.header("Content-Type") == MetricsSnapshot.openMetricsContentType)
        let text = String(decoding: om.body, as: UTF8.self)
        #expect(text.hasSuffix("# EOF\n"))
        #expect(text.contains("# TYPE edge_requests counter\n") && text.contains("edge_requests_total{"), "a counter's family is named without _total")
        let refused = Self.scrape(api, accept: "application/openmetrics-text;q=0, text/plain")
        #expect(refused.header("Content-Type") == MetricsSnapshot.prometheusContentType, "q=0 refuses OpenMetrics")
        #expect(!String(decoding: refused.body, as: UTF8.self).contains("# EOF"))
    }

    @Test func aServingNodeShowsItsChainRaftAndReadSeries() throws {
        let c = try ReadGatewayTests.Cluster("metrics")
        defer { c.stop() }
        _ = c.sim.chain.mine(3)
        #expect(waitUntil(timeoutSeconds: 60) { c.nodes.allSatisfy { c.head($0) == 3 } })
        let n = c.nodes[0]
        var config = NodeConfig()
        config.nodeId = n.id
        config.chain = Indexer.Config(chainId: ReadGatewayTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: c.sim.url)])
        let registry = MetricsRegistry()
        let api = NodeAPI(node: n.node, config: config, metrics: registry, indexerStatus: { c.indexers[0].status }, peerStatus: { [:] })
        for _ in 0..<3 { #expect(api.handle(ReadGatewayTests.rpc("eth_blockNumber")).status == 200) }
        _ = api.handle(ReadGatewayTests.rpc("eth_noSuchMethod"))
        _ = api.handle(HTTPRequest(method: "GET", target: "/no/such/path"))

        let s = Self.samples(Self.scrape(api).body)
        let chain = "chain=\"\(ReadGatewayTests.chainId)\""
        #expect(s["rpc_requests_total{\(chain),method=\"eth_blockNumber\",outcome=\"ok\"}"] == 3)
        #expect(s["rpc_requests_total{\(chain),method=\"eth_noSuchMethod\",outcome=\"error\"}"] == 1)
        #expect(s["rpc_request_duration_seconds_count{\(chain),method=\"eth_blockNumber\"}"] == 3)
        #expect(s["edge_requests_total{surface=\"jsonrpc\",code=\"2xx\"}"] == 4, "a JSON-RPC error is an HTTP 200")
        #expect(s["edge_requests_total{surface=\"node\",code=\"4xx\"}"] == 1)
        #expect(s["chain_applied_head{\(chain)}"] == 3)
        let stamp = try #require(s["chain_applied_head_timestamp_seconds{\(chain)}"])
        let block = try n.node.stateMachine.chain.view { try $0.block(ReadGatewayTests.chainId, number: 3, fullTransactions: false) }
        let own = try #require(try block?.objectValue?.quantity("timestamp"))
        #expect(stamp == Double(own), "the head's own timestamp")
        // An entry (a lease, a tenant-usage flush) may apply between the scrape and now.
        let applied = try #require(s["raft_applied_index"])
        #expect(applied >= 1 && applied <= Double(n.node.report.appliedIndex), "scraped \(applied), applied now \(n.node.report.appliedIndex)")
        #expect(s["rpc_subscriptions{\(chain)}"] == 0)
        #expect(s["indexer_state{\(chain),state=\"idle\"}"] != nil || s["indexer_state{\(chain),state=\"following\"}"] != nil
                || s["indexer_state{\(chain),state=\"notLeader\"}"] != nil)
    }
}
