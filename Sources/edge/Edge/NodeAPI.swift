import Alerts
import Backup
import ByteCodec
import StateMachine
import NodeConfig
import Chain
import Consensus
import Foundation
import ChainFollower
import Net
import PeerTransport
import RPC
import Telemetry
import Tenancy

/// The node's HTTP surface: health, readiness and status on every listener; the read
/// API (JSON-RPC, GraphQL, REST) on the public one; admin endpoints (membership, debug
/// KV) on the admin listener when `adminListen` is set, else on the public one too.
public final class NodeAPI: Sendable {
    let node: ChainNode
    let config: NodeConfig
    let peerStatus: @Sendable () -> [UInt64: PeerStatus]
    /// Backups and log shipping on this node (nil in tests that build no agent).
    let backups: BackupAgent?
    let indexerStatus: @Sendable () -> Indexer.Status?
    /// The registry's chains as this node runs them.
    let chainStatuses: @Sendable () -> [ChainRunStatus]
    /// The node's metrics: what /status and a Prometheus scrape read.
    public let metrics: MetricsRegistry
    /// The last hour of request totals for the dashboard; `sample` adds to it.
    public let history: MetricsHistory
    /// When each chain's head last moved here: the public status's freshness.
    let movement = HeadMovement()
    let served: @Sendable () -> [ServedChain]
    /// Who owns a chain (the tenant tables, cached).
    let owner: @Sendable (UInt64) -> UInt64?
    /// Every node's JSON-RPC totals, reported to the leader: the alerts' error rate and p99.
    public let rpcReadings = RPCReadings()
    /// JSON-RPC, GraphQL and REST reads of the chain.
    let reads: ReadGateway
    let admin: AdminAPI
    /// Audit entries into the log, through the leader when a follower executed the change.
    public let auditRelay: AuditRelay
    /// Route → authenticate → hooks → handler, for every request and upgrade.
    let pipeline: RequestPipeline

    /// Which listener a request arrived on.
    public enum Listener: Sendable { case api, admin }

    /// Counts organisations' keys across the cluster; its reports travel over the peer
    /// transport (`NodeRuntime` sends and delivers them).
    public let rateLimiter: ClusterRateLimiter
    /// Per-key data-access counts, replicated in batches (`TenantMaintenance`).
    public let usage: UsageRecorder

    public init(node: ChainNode, config: NodeConfig, metrics: MetricsRegistry = MetricsRegistry(),
                rateLimiter: ClusterRateLimiter? = nil, usage: UsageRecorder? = nil, accessLog: AccessLog? = nil,
                indexerStatus: @escaping @Sendable () -> Indexer.Status? = { nil },
                chainStatuses: @escaping @Sendable () -> [ChainRunStatus] = { [] },
                peerStatus: @escaping @Sendable () -> [UInt64: PeerStatus], backups: BackupAgent? = nil,
                peerSend: (@Sendable (UInt64, UInt8, [UInt8]) -> Void)? = nil) {
        self.backups = backups
        self.node = node
        self.config = config
        self.metrics = metrics
        RaftMetrics.register({ [node] in node.report }, in: metrics)
        let fixedChain = config.chain
        let served: @Sendable () -> [ServedChain] = { ServedChain.all(fixed: fixedChain, fixedStatus: indexerStatus(), registry: chainStatuses()) }
        ChainMetrics.register(served: served, index: node.stateMachine.chain, in: metrics)
        self.served = served
        self.peerStatus = peerStatus
        self.indexerStatus = indexerStatus
        self.chainStatuses = chainStatuses
        let cache = TenantCache(stateMachine: node.stateMachine)
        owner = { cache.owner(ofChain: $0) }
        reads = ReadGateway(node: node, config: config, metrics: metrics, indexerStatus: indexerStatus, owner: { cache.owner(ofChain: $0) })
        let history = MetricsHistory()
        self.history = history
        let dashboard = DashboardAPI(node: node, config: config, metrics: metrics, history: history, served: served, peerStatus: peerStatus, owner: { cache.owner(ofChain: $0) },
                                     peerTLS: config.nodeClientTLS)
        let admin = AdminAPI(node: node, config: config, peerConnected: { peerStatus().mapValues(\.connected) }, chainStatuses: chainStatuses,
                             dashboard: dashboard, backups: backups)
        self.admin = admin
        let adminListen = config.adminListen
        let tenantKey: @Sendable ([UInt8]) -> APIKeyRecord? = { hash in cache.key(secretHash: hash, nowMillis: unixMillis()) }
        let userByToken: @Sendable ([UInt8]) -> User? = { [node] hash in
            (try? node.stateMachine.tenantView { d, txn in try d.user(tokenHash: hash, txn) }) ?? nil
        }
        let limiter = rateLimiter ?? ClusterRateLimiter(selfId: config.nodeId, windowMillis: UInt64(config.rateLimit.windowSeconds) * 1000)
        self.rateLimiter = limiter
        let relay = AuditRelay(node: node, selfId: config.nodeId, logger: node.logger.with("module", "edge"), send: peerSend)
        auditRelay = relay
        let usage = usage ?? UsageRecorder(nodeId: config.nodeId)
        self.usage = usage
        var later: [any EdgeHook] = [UsageHook(recorder: usage)]
        if let accessLog { later.append(AccessLogHook(log: accessLog, nodeId: config.nodeId)) }
        let limits = RateLimitHook(limiter: limiter, defaultPerMinute: config.rateLimit.perMinute,
                                   members: { [node] in Set(node.report.status.conf.members) })
        pipeline = RequestPipeline(authenticator: Authenticator(apiKeys: config.apiKeys, adminToken: config.adminToken, metricsToken: config.metricsToken, tenantKey: tenantKey, userByToken: userByToken),
                                   hooks: [AuditHook(logger: node.logger.with("module", "edge"), record: { relay.record($0) }, subject: { admin.auditSubject($0) }), limits] + later,
                                   servesAdmin: { adminListen == nil || $0 == .admin },
                                   adminPrecheck: { admin.precheck($0) }, metrics: EdgeMetrics(registry: metrics))
    }

    /// The answer to `req`, possibly deferred (a replicated write answers once applied): the
    /// HTTP server's handler, which writes a deferred answer when it arrives.
    public func respond(_ req: HTTPRequest, on listener: Listener = .api) -> HTTPResponse {
        route(req, on: listener).map { [node, config] r in
            var r = r
            r.headers.append(("X-Infrastack-Node", String(config.nodeId)))
            r.headers.append(("X-Infrastack-Applied-Index", String(node.report.appliedIndex)))
            return r
        }
    }

    /// Whether the HTTP loop may answer `req` itself (`HTTPServer.InlineCheck`): one JSON-RPC
    /// call of a bounded method, at the default (local) consistency, so nothing in it waits
    /// for Raft; the upstream fallback of a state read abandons the attempt to a worker.
    public func answersInline(_ req: HTTPRequest) -> Bool {
        guard req.method == "POST", req.header("X-Infrastack-Min-Block") == nil else { return false }
        if let c = req.header("X-Infrastack-Consistency"), c.lowercased() != "local" { return false }
        guard pipeline.route(req, on: .api) == .read(.jsonRPC), let method = JSONRPCServer.singleMethod(req.body) else { return false }
        return EthAPI.boundedMethods.contains(method)
    }

    /// The final answer to `req`, waiting here for a deferred one (in-process callers).
    public func handle(_ req: HTTPRequest, on listener: Listener = .api) -> HTTPResponse {
        respond(req, on: listener).settled()
    }

    /// A WebSocket upgrade on the read surfaces, through the same pipeline as requests;
    /// nil refuses it (the HTTP handler then answers why).
    public func webSocket(_ req: HTTPRequest) -> WebSocketHandler? {
        guard case .request(let request) = pipeline.authenticate(req, on: Listener.api), case .read = request.route else { return nil }
        for hook in pipeline.hooks where hook.admit(request) != nil { return nil }
        let hooks = pipeline.hooks
        return reads.webSocket(request) { body in hooks.lazy.compactMap { $0.admitMessage(request, body) }.first }
    }

    /// A refusal decided from the request head alone, before its body is read (the answer
    /// to `Expect: 100-continue`): an admin request without a valid token.
    public func earlyRefusal(_ head: HTTPRequest, on listener: Listener = .api) -> HTTPResponse? {
        pipeline.earlyRefusal(head, on: listener)
    }

    func route(_ req: HTTPRequest, on listener: Listener) -> HTTPResponse {
        pipeline.handle(req, on: listener) { request in
            switch request.route {
            case .admin: return admin.handle(request)
            case .read: return reads.handle(request)
            case .node: return nodeRoute(request.http)
            case .metrics: return scrape(request.http)
            case .status: return status(request)
            }
        }
    }

    /// Health, readiness, status and the member list.
    func nodeRoute(_ req: HTTPRequest) -> HTTPResponse {
        let path = req.path
        switch (req.method, path) {
        case ("GET", "/healthz"), ("HEAD", "/healthz"): return .text("ok\n")
        case ("GET", "/readyz"): return readiness()
        case ("GET", "/dashboard"), ("GET", "/dashboard/"): return DashboardPage.response
        case ("GET", "/v1/cluster/members"): return members()
        default: return error(404, "no route for \(req.method) \(boundedQuote(path))")
        }
    }

    /// The registry in the format the scraper's `Accept` asks for (Prometheus text by default).
    func scrape(_ req: HTTPRequest) -> HTTPResponse {
        let format = MetricsSnapshot.Exposition(accept: req.header("Accept"))
        return HTTPResponse(status: 200, headers: [("Content-Type", format.contentType)], body: Array(metrics.snapshot().text(format).utf8))
    }

    func error(_ status: Int, _ message: String, _ extra: [(String, JSONValue)] = []) -> HTTPResponse {
        jsonError(status, message, extra)
    }

    func readiness() -> HTTPResponse {
        let r = node.report
        if let c = r.corruption { return error(503, "stopped: \(c)") }
        if let a = r.diskAlarm { return error(503, "disk alarm: \(a.message)") }
        if r.status.leader == 0 { return error(503, "no leader known") }
        if r.appliedIndex < r.status.committed { return error(503, "applied \(r.appliedIndex) of \(r.status.committed) committed entries") }
        return .text("ready\n")
    }

    /// `GET /status`: the detailed JSON to a credential that may scrape (or on an open node),
    /// the public summary to anyone else and to `?view=summary`.
    func status(_ request: EdgeRequest) -> HTTPResponse {
        let view = request.http.query["view"]
        guard view == nil || view == "summary" || view == "detail" else {
            return error(400, "view is summary or detail, not \(boundedQuote(view ?? ""))")
        }
        let credentialed = pipeline.authenticator.metricsOpen || Authenticator.presentedAdminToken(request.http) != nil
        guard credentialed, view != "summary" else {
            if view == "detail" { return error(401, "the detailed /status needs Authorization: Bearer <the metrics token, the admin token or a cluster admin's token>") }
            let now = unixMillis()
            return .json(JSON.serialize(.object(publicStatus(nowMillis: now).json(nowMillis: now))))
        }
        return .json(JSON.serialize(.object(statusObject())))
    }

    /// Takes the periodic samples: the dashboard's request history and when heads moved.
    /// `NodeRuntime` calls it every `history.intervalSeconds`.
    public func sample(nowMillis: UInt64) {
        history.record(MetricsHistory.sample(metrics.snapshot(), unixMillis: nowMillis))
        _ = publicStatus(nowMillis: nowMillis)
    }

    /// What the public status page may know (see `PublicStatus`).
    func publicStatus(nowMillis: UInt64) -> PublicStatus {
        let r = node.report
        let ids = served().map(\.chainId)
        let heads = ServedChain.appliedHeads(ids, node.stateMachine.chain)
        let moved = movement.observe(heads.mapValues(\.number), nowMillis: nowMillis)
        return PublicStatus(nodeId: config.nodeId, clusterId: config.clusterId, role: "\(r.status.role)", leaderId: r.status.leader, term: r.status.term,
                            commitIndex: r.status.committed, appliedIndex: r.appliedIndex, diskAlarm: r.diskAlarm != nil, corrupt: r.corruption != nil,
                            chains: ids.map { PublicStatus.Chain(chainId: $0, appliedHead: heads[$0]?.number, headTimestamp: heads[$0]?.timestamp ?? nil, movedMillis: moved[$0]) })
    }

    /// What the alert rules are judged against this round (on the leader): each served
    /// chain's indexer lag and refusals, the cluster's JSON-RPC error rate and p99 per chain
    /// over the last minute, the furthest follower's lag.
    func alertReadings(nowMillis: UInt64) -> AlertReadings {
        let r = node.report
        let list = served()
        let status = publicStatus(nowMillis: nowMillis)
        let window = rpcReadings.window(nowMillis: nowMillis, node: config.nodeId)
        var readings = AlertReadings()
        for c in list {
            var m = [AlertMetric: Double]()
            if let s = c.indexer, r.status.role == .leader {
                if let l = s.lagSeconds { m[.lagSeconds] = l }
                if let b = s.lagBlocks { m[.lagBlocks] = Double(b) }
                m[.refusedBlocks] = Double(s.refusedBlocks)
            }
            // No indexer here (or no upstream head known): the applied head's own age.
            if m[.lagSeconds] == nil, let seen = status.chains.first(where: { $0.chainId == c.chainId }),
               let age = PublicStatus.freshness(seen, nowMillis: nowMillis).age {
                m[.lagSeconds] = Double(age)
            }
            // Known once every node's traffic of the last window is in; no calls is no errors.
            if let window {
                m[.errorRate] = window[c.chainId]?.errorRate ?? 0
                m[.p99LatencyMs] = window[c.chainId]?.p99Millis.map { $0.isFinite ? $0 : 1e9 } ?? 0
            }
            readings.chains[c.chainId] = m
            if let o = owner(c.chainId) { readings.owners[c.chainId] = o }
        }
        let others = r.status.conf.members.filter { $0 != config.nodeId }
        if r.status.role == .leader, !others.isEmpty {
            readings.cluster[.followerLagEntries] = Double(others.map { id in r.peerMatch[id].map { r.status.lastIndex > $0 ? r.status.lastIndex - $0 : 0 } ?? r.status.lastIndex }.max()!)
        }
        return readings
    }

    /// Built-in alerting's leader half; `NodeRuntime` ticks it every second.
    public func alertNotifier() -> AlertNotifier {
        AlertNotifier(node: node, sender: WebhookSender(config), clusterId: config.clusterId, logger: node.logger.with("module", "alerts"), metrics: metrics,
                      maxAttempts: config.webhookMaxAttempts, readings: { [self] in alertReadings(nowMillis: unixMillis()) })
    }

    /// The `no_leader` alerts, on every node.
    public func noLeaderWatch(send: @escaping @Sendable (_ peer: UInt64, _ type: UInt8, _ payload: [UInt8]) -> Void) -> NoLeaderWatch {
        NoLeaderWatch(node: node, sender: WebhookSender(config), clusterId: config.clusterId, logger: node.logger.with("module", "alerts"), send: send)
    }

    /// The detailed status: what `infrastack status`, the scripts and the tests read.
    public func statusObject() -> JSONObject {
        let r = node.report
        let peers = peerStatus()
        var o = JSONObject()
        o["nodeId"] = .number(String(config.nodeId))
        o["clusterId"] = .string(config.clusterId)
        o["pid"] = .number(String(getpid()))
        o["role"] = .string("\(r.status.role)")
        o["term"] = .number(String(r.status.term))
        o["leaderId"] = .number(String(r.status.leader))
        o["commitIndex"] = .number(String(r.status.committed))
        o["appliedIndex"] = .number(String(r.appliedIndex))
        o["lastIndex"] = .number(String(r.status.lastIndex))
        o["snapshotIndex"] = .number(String(r.status.snapshotIndex))
        o["stateDigest"] = .string(Hex.encode(r.digest))
        o["voters"] = .array(r.status.conf.voters.map { .number(String($0)) })
        o["learners"] = .array(r.status.conf.learners.map { .number(String($0)) })
        o["httpURL"] = .string(config.httpURL)
        o["adminURL"] = config.adminURL.map { .string($0) } ?? .null
        var alarms = [JSONValue]()
        if let a = r.diskAlarm {
            alarms.append(.object(["alarm": .string("NOSPACE"), "stage": .string(a.stage), "error": .string(a.error),
                                   "sinceMillis": .number(String(a.sinceMillis)), "probes": .number(String(a.probes)),
                                   "droppedMessages": .number(String(a.droppedMessages))]))
        }
        if let c = r.corruption { alarms.append(.object(["alarm": .string("CORRUPT"), "error": .string(c)])) }
        o["alarms"] = .array(alarms)
        if let backups { o["backup"] = BackupAdmin.json(backups.status, backups.settings) }
        o["counters"] = RaftCounters(r).statusJSON
        o["peers"] = .array(r.status.conf.members.filter { $0 != config.nodeId }.map { id in
            PeerStatusEntry(id: id, matchIndex: r.peerMatch[id], lastIndex: r.status.lastIndex, link: peers[id]).statusJSON
        })
        if let ix = indexerStatus() {
            var i: JSONObject = ["chainId": .number(String(config.chain?.chainId ?? 0))]
            for (k, v) in ix.statusFields.pairs { i[k] = v }
            if let cid = config.chain?.chainId, let h = try? node.stateMachine.chain.view({ try $0.head(cid) }) {
                i["appliedHead"] = .number(String(h.number))
                i["appliedHeadHash"] = .string(h.hash.hex)
                let f = try? node.stateMachine.chain.view { try $0.finality(cid) }
                i["finalityLagBlocks"] = f?.lagBlocks.map(jsonNumber) ?? .null
                i["finalityLagSeconds"] = f?.lagSeconds.map(jsonNumber) ?? .null
            }
            o["indexer"] = .object(i)
        }
        o["chains"] = .array(chainStatuses().map { run in
            ChainStatusEntry(run: run, index: node.stateMachine.chain).statusJSON
        })
        if let eth = reads.eth { o["rpc"] = eth.status.statusJSON }
        let m = metrics.snapshot()
        if let open = m["http_open_connections"]?.gauge(), let inline = m["http_inline_answers_total"]?.counter() {
            o["http"] = .object(["openConnections": jsonNumber(open), "inFlight": jsonNumber(m["http_requests_in_flight"]?.gauge() ?? 0),
                                 "inlineAnswers": jsonNumber(inline)])
        }
        return o
    }

    func members() -> HTTPResponse {
        let r = node.report
        let dir = (try? node.stateMachine.allMembers()) ?? []
        var list = [JSONValue]()
        for id in r.status.conf.members {
            var o: JSONObject = ["id": .number(String(id)), "role": .string(r.status.conf.isVoter(id) ? "voter" : "learner")]
            if let m = dir.first(where: { $0.id == id }) { o["raft"] = .string(m.raftAddress); o["http"] = .string(m.httpURL) }
            else if id == config.nodeId { o["raft"] = .string(config.raftListen.description); o["http"] = .string(config.httpURL) }
            else if let p = config.peers.first(where: { $0.id == id }) { o["raft"] = .string(p.raft.description); o["http"] = .string(p.http) }
            list.append(.object(o))
        }
        return .json(JSON.serialize(.object(["members": .array(list)])) + "\n")
    }
}

/// Kept-alive HTTP clients to other nodes, per URL, for forwarding admin requests.
struct ClientPool: Sendable {
    private let pool = IdlePool<HTTPClient>(capacityPerKey: 64)
    /// For https:// URLs of other nodes (their CA); nil = the system trust store.
    let tls: TLSConfiguration?

    init(tls: TLSConfiguration? = nil) { self.tls = tls }

    func take(_ url: String) throws -> HTTPClient {
        try pool.take(url) { try HTTPClient(url: url, timeoutMillis: 10_000, tls: tls) }
    }

    func give(back c: HTTPClient, _ url: String) { pool.giveBack(c, url) }
}

/// The node's error body, the same on every endpoint: {"error": message, …extra}.
func jsonError(_ status: Int, _ message: String, _ extra: [(String, JSONValue)] = []) -> HTTPResponse {
    var o: JSONObject = ["error": .string(message)]
    for (k, v) in extra { o[k] = v }
    return .json(JSON.serialize(.object(o)) + "\n", status: status)
}
