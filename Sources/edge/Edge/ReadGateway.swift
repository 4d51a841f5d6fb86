import ByteCodec
import StateMachine
import NodeConfig
import Chain
import Foundation
import GraphQL
import ChainIndex
import ChainFollower
import Net
import RPC
import Synchronization
import Telemetry

/// The read surfaces of a node — JSON-RPC on `POST /`, GraphQL on `/graphql`, REST
/// under `/v1/chain/` — behind API keys and per-request consistency. Every chain of the
/// registry is addressed by its slug: `POST /<slug>` (and `/k/<key>/<slug>`, WebSocket on
/// the same paths), `/<slug>/graphql`, `/v1/chains/<slug>/…` (the REST routes of
/// `/v1/chain/…`). `/` serves the config file's `chain`, or the registry's only chain.
///
/// - default (local): answered from this node's LMDB as it is now;
/// - `X-Infrastack-Min-Block: N`: waits up to `rpc.maxWaitMillis` for this node to
///   apply block N, else 503 with a retryable error (so a load balancer tries another
///   replica and a client that just saw block N elsewhere never reads older data);
/// - `X-Infrastack-Consistency: linearizable`: a ReadIndex round through the leader,
///   then waits until this node applied at least that index.
///
/// Every answer carries `X-Infrastack-Node` and `X-Infrastack-Block` (the chain head this
/// node had applied when it started answering).
final class ReadGateway: Sendable {
    let node: ChainNode
    let config: NodeConfig
    /// The config file's chain's read services; nil when it names none.
    let chain: Services?
    let metrics: MetricsRegistry
    /// Registry chains' services by chain id, built on first use and rebuilt when the
    /// chain's record changes; with the registry as last read (at most `registryMaxAgeMillis` old).
    private let registry = Mutex<(records: [ChainRecord], readMillis: UInt64, services: [UInt64: (spec: ChainSpec, services: Services)])>(([], 0, [:]))
    static let registryMaxAgeMillis: UInt64 = 200

    struct Services: Sendable {
        let chainId: UInt64
        let eth: EthAPI
        let rpc: JSONRPCServer
        let graphQL: GraphQLService
    }

    var eth: EthAPI? { chain?.eth }

    /// The organisation owning a chain (the tenant tables, through a cache).
    let owner: @Sendable (UInt64) -> UInt64?

    init(node: ChainNode, config: NodeConfig, metrics: MetricsRegistry, indexerStatus: @escaping @Sendable () -> Indexer.Status?,
         owner: @escaping @Sendable (UInt64) -> UInt64?) {
        self.node = node
        self.owner = owner
        self.config = config
        self.metrics = metrics
        chain = config.chain.map { chain in
            Self.services(node: node, config: config, chain: chain, metrics: metrics, syncProgress: {
                guard let s = indexerStatus(), let head = s.upstreamHead, let indexed = s.indexedHead else { return nil }
                return .init(startingBlock: chain.startBlock, currentBlock: indexed, highestBlock: head)
            })
        }
        let chainLabel = MetricLabel.firstSeen("chain", max: ChainMetrics.maxChains)
        metrics.collect("rpc_subscriptions", help: "Open eth_subscribe subscriptions, by chain", kind: .gauge, labels: [chainLabel]) { [weak self] in
            (self?.allServices ?? []).map { MetricSeries(labels: [String($0.chainId)], value: .gauge(Int64($0.eth.subscriptions.count))) }
        }
        metrics.collect("rpc_filters", help: "Installed eth_newFilter / eth_newBlockFilter filters, by chain", kind: .gauge, labels: [chainLabel]) { [weak self] in
            (self?.allServices ?? []).map { MetricSeries(labels: [String($0.chainId)], value: .gauge(Int64($0.eth.filters.count))) }
        }
    }

    /// The config chain's services and every registry chain's built so far.
    var allServices: [Services] {
        (chain.map { [$0] } ?? []) + registry.withLock { $0.services.values.map(\.services) }.sorted { $0.chainId < $1.chainId }
    }

    static func services(node: ChainNode, config: NodeConfig, chain: Indexer.Config, metrics: MetricsRegistry,
                         syncProgress: @escaping @Sendable () -> EthAPI.SyncProgress?) -> Services {
        var c = EthAPI.Config(chainId: chain.chainId)
        c.maxLogBlockRange = config.rpc.maxLogBlockRange
        c.maxLogResults = config.rpc.maxLogResults
        let forwarder = config.rpc.forward ? Forwarder(endpoints: chain.upstreams, logger: node.logger.with("module", "rpc")) : nil
        let eth = EthAPI(config: c, index: node.stateMachine.chain, feed: node.stateMachine.chainFeed, forwarder: forwarder, metrics: metrics, syncProgress: syncProgress)
        var forward: (@Sendable (String, [JSONValue]) throws -> JSONValue)? = nil
        if let forwarder { forward = { method, params in try forwarder.call(method, params) } }
        let rpc = JSONRPCServer(maxBatch: config.rpc.maxBatch, logger: node.logger.with("module", "rpc"), stats: eth.stats) { method, params in
            try eth.encodedCall(method, params)
        }
        return Services(chainId: chain.chainId, eth: eth, rpc: rpc,
                        graphQL: GraphQLService(index: node.stateMachine.chain, chainId: chain.chainId, forward: forward))
    }

    /// Where a read path points: the chain's services (nil: no such chain, with why) and
    /// the path as that chain's surfaces know it (`/`, `/graphql`, `/v1/chain/…`).
    struct Target {
        var services: Services?
        var path: String
        var problem: String
    }

    /// The chain a read path addresses, by its first segment (or `/v1/chains/<slug>`).
    func target(_ path: String) -> Target {
        if let (slug, rest) = Self.slugPath(path) {
            switch registryServices(slug) {
            case .success(let s): return Target(services: s, path: rest, problem: "")
            case .failure(let why): return Target(services: nil, path: rest, problem: why.description)
            }
        }
        if let chain { return Target(services: chain, path: path, problem: "") }
        let records = registryRecords().filter { $0.state == .active }
        if records.count == 1, case .success(let s) = registryServices(records[0].spec.slug) { return Target(services: s, path: path, problem: "") }
        let why = records.isEmpty ? "this node follows no chain (no chain section in its config, none in the chain registry)"
            : "this cluster follows \(records.count) chains: address one as /<slug> (\(records.map(\.spec.slug).joined(separator: ", ")))"
        return Target(services: nil, path: path, problem: why)
    }

    /// `/<slug>`, `/<slug>/graphql`, `/v1/chains/<slug>/…` → (slug, the chain-local path).
    static func slugPath(_ path: String) -> (String, String)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if parts.count >= 3, parts.first == "v1", parts.dropFirst().first == "chains" {
            let slug = String(parts.dropFirst(2).first!)
            let rest = parts.dropFirst(3).joined(separator: "/")
            return ChainSpec.slugProblem(slug) == nil ? (slug, "/v1/chain" + (rest.isEmpty ? "" : "/" + rest)) : nil
        }
        guard let first = parts.first, !first.isEmpty, ChainSpec.slugProblem(String(first)) == nil else { return nil }
        if parts.count == 1 { return (String(first), "/") }
        if parts.count == 2, parts.last == "graphql" { return (String(first), "/graphql") }
        return nil
    }

    struct NoChain: Error, CustomStringConvertible { let description: String }

    func registryRecords() -> [ChainRecord] {
        let now = EventLoop.nowMillis()
        if let fresh = registry.withLock({ now &- $0.readMillis <= Self.registryMaxAgeMillis && $0.readMillis != 0 ? $0.records : nil }) { return fresh }
        let records = (try? node.stateMachine.allChains()) ?? []
        registry.withLock { $0.records = records; $0.readMillis = now }
        return records
    }

    func registryServices(_ slug: String) -> Result<Services, NoChain> {
        guard let record = registryRecords().first(where: { $0.spec.slug == slug }) else {
            return .failure(NoChain(description: "no chain \(boundedQuote(slug)) in this cluster (see GET /v1/cluster/chains)"))
        }
        guard record.state != .removing else { return .failure(NoChain(description: "chain \(slug) is being removed")) }
        if let built = registry.withLock({ $0.services[record.spec.chainId] }), built.spec == record.spec { return .success(built.services) }
        let indexer: Indexer.Config
        do { indexer = try ChainSeed.config(of: record.spec) } catch {
            return .failure(NoChain(description: "chain \(slug) cannot be served here: \(error)"))
        }
        // Calls are counted per chain (the chain label), on the node's registry.
        let s = Self.services(node: node, config: config, chain: indexer, metrics: metrics, syncProgress: { nil })
        registry.withLock { $0.services[record.spec.chainId] = (record.spec, s) }
        return .success(s)
    }


    /// An organisation's key reaches only the chains its organisation owns; cluster-wide
    /// credentials reach every chain.
    func visible(_ chain: Services, to principal: Principal) -> Bool {
        guard let org = principal.organisation else { return true }
        return owner(chain.chainId) == org
    }

    /// The same answer as for a chain that is not there, so a key learns nothing of other
    /// organisations' chains.
    static func notYours(_ path: String) -> String { "no chain at \(boundedQuote(path)) for this API key" }

    /// Methods that send a transaction, refused to a read-only key.
    static let writeMethods: Set<String> = ["eth_sendRawTransaction", "eth_sendTransaction"]

    static let readOnly: @Sendable (String) -> RPCError? = { method in
        writeMethods.contains(method) ? RPCError(code: -32003, message: "this API key may only read (permissions: read); \(method) needs a read+write key") : nil
    }

    enum Surface { case jsonRPC, graphQL, rest }

    static func surface(_ method: String, _ path: String) -> Surface? {
        let local = slugPath(path)?.1 ?? path
        if local == "/" && method == "POST" { return .jsonRPC }
        if local == "/graphql" { return .graphQL }
        if local.hasPrefix("/v1/chain") { return .rest }
        return nil
    }

    /// JSON-RPC over WebSocket on `/` (or `/k/<key>`): every method, plus eth_subscribe.
    /// nil refuses the upgrade (the HTTP handler then answers: 401 for a missing key).
    /// `admitMessage` may refuse a message (a rate limit): it is answered with that error.
    func webSocket(_ request: EdgeRequest, admitMessage: @escaping @Sendable ([UInt8]) -> RPCError? = { _ in nil }) -> WebSocketHandler? {
        let t = target(request.path)
        guard t.path == "/", let chain = t.services, visible(chain, to: request.principal) else { return nil }
        let eth = chain.eth
        let caller = request.principal.caller
        let mayWrite = request.principal.mayWrite
        let maxBatch = config.rpc.maxBatch
        let logger = node.logger.with("module", "rpc-ws")
        // Some clients (web3.py) send their JSON in binary frames; both are served alike.
        let serve: @Sendable (WebSocket, [UInt8]) -> Void = { ws, body in
            if let refusal = admitMessage(body) {
                ws.send(text: String(decoding: JSONRPCServer.envelope(id: (try? JSON.parse(body))?["id"] ?? .null, error: refusal), as: UTF8.self))
                return
            }
            let server = JSONRPCServer(maxBatch: maxBatch, logger: logger, stats: eth.stats) { method, params in
                try eth.encodedCall(method, params, connection: ws.id) { [weak ws] note in ws?.send(text: note) }
            }
            if let answer = server.respond(to: body, caller: caller, refuse: mayWrite ? nil : Self.readOnly) { ws.send(text: String(decoding: answer, as: UTF8.self)) }
        }
        return WebSocketHandler(onText: { ws, text in serve(ws, Array(text.utf8)) }, onBinary: serve, onClose: { ws, _ in
            eth.subscriptions.connectionClosed(ws.id)
        })
    }

    /// The answer for an authenticated read request: consistency first, then the surface.
    func handle(_ request: EdgeRequest) -> HTTPResponse {
        let req = request.http, caller = request.principal.caller
        guard let surface = Self.surface(req.method, request.path) else {
            return jsonError(404, "no read route for \(req.method) \(boundedQuote(request.path))")
        }
        let t = target(request.path)
        guard let chain = t.services else { return Self.refusal(surface, 404, .server(t.problem)) }
        guard visible(chain, to: request.principal) else { return Self.refusal(surface, 404, .server(Self.notYours(request.path))) }
        let path = t.path
        if let refusal = consistency(req, surface, chain) { return refusal }
        let head = try? chain.eth.request { try $0.head()?.number }
        var r: HTTPResponse
        switch surface {
        case .jsonRPC:
            r = chain.rpc.respond(to: req.body, caller: caller, refuse: request.principal.mayWrite ? nil : Self.readOnly).map { HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: $0) } ?? HTTPResponse(status: 200)
        case .graphQL:
            let (status, body) = chain.graphQL.handleHTTP(method: req.method, queryItems: req.query, body: req.body, contentType: req.header("Content-Type"),
                                                          mutationsAllowed: request.principal.mayWrite)
            r = .json(body, status: status)
            if status == 405 { r.headers.append(("Allow", "GET, POST")) }
        case .rest:
            var routed = req
            routed.target = path + (req.target.contains("?") ? "?" + (req.target.split(separator: "?", maxSplits: 1).last.map(String.init) ?? "") : "")
            r = ChainAPI(eth: chain.eth).handle(routed) ?? jsonError(404, "no route for \(req.method) \(path)")
        }
        r.headers.append(("X-Infrastack-Block", head.map(String.init) ?? ""))
        return r
    }

    /// A request refused before any method ran, in the surface's own error shape: a
    /// JSON-RPC error envelope, or `{"error": …}`. 503s are retryable and say so.
    static func refusal(_ surface: Surface, _ status: Int, _ e: RPCError) -> HTTPResponse {
        var r: HTTPResponse
        if surface == .jsonRPC {
            r = HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: JSONRPCServer.envelope(id: .null, error: e))
        } else {
            r = jsonError(status, e.message, status == 503 ? [("retryable", .bool(true))] : [])
        }
        if status == 503 { r.headers.append(("Retry-After", "1")) }
        return r
    }

    /// nil when the request may be answered now; otherwise the refusal.
    func consistency(_ req: HTTPRequest, _ surface: Surface, _ chain: Services) -> HTTPResponse? {
        let wait = config.rpc.maxWaitMillis
        func refuse(_ e: RPCError) -> HTTPResponse { Self.refusal(surface, 503, e) }
        if let mode = req.header("X-Infrastack-Consistency")?.lowercased(), mode != "local" {
            guard mode == "linearizable" else {
                return Self.refusal(surface, 400, RPCError(code: -32600, message: "X-Infrastack-Consistency must be local or linearizable"))
            }
            guard let idx = node.linearizableReadIndex(timeoutMillis: max(wait, 100)), node.waitApplied(idx, timeoutMillis: max(wait, 100)) else {
                return refuse(RPCError(code: -32011, message: "a linearizable read needs a leader with a quorum and none answered in time; retry",
                                       data: .object(["retryable": .bool(true)])))
            }
        }
        if let text = req.header("X-Infrastack-Min-Block") {
            let wanted: UInt64
            if let n = UInt64(text) { wanted = n } else if let n = try? Hex.decodeQuantity(text) { wanted = n } else {
                return Self.refusal(surface, 400, RPCError(code: -32600, message: "X-Infrastack-Min-Block must be a block number (decimal or 0x hex)"))
            }
            let deadline = Date().addingTimeInterval(Double(wait) / 1000)
            var applied = try? chain.eth.request { try $0.head()?.number }
            while (applied ?? 0) < wanted || applied == nil {
                guard Date() < deadline else { return refuse(.notYetApplied(wanted: wanted, applied: applied)) }
                usleep(2000)
                applied = try? chain.eth.request { try $0.head()?.number }
            }
        }
        return nil
    }
}
