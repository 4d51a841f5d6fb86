import Backup
import StateMachine
import ReplicatedLog
import Edge
import NodeConfig
import Chain
import Consensus
import Foundation
import ChainFollower
import Net
import PeerTransport
import Storage
import Synchronization
import Telemetry

extension PeerTransport: MessageTransport {}

/// A running node: LMDB environment, Raft driver, peer transport and HTTP server, wired
/// together from a `NodeConfig`. `start()` binds every port before returning, so a
/// misconfigured address fails at start with a clear error.
public final class NodeRuntime: @unchecked Sendable {
    public let config: NodeConfig
    public let logger: Logger
    let env: Environment
    let raftLoop: EventLoop
    let httpLoop: EventLoop
    /// Further loops serving HTTP connections (none on a one-core machine).
    let moreHTTPLoops: [EventLoop]
    public let node: ChainNode
    let transport: PeerTransport
    var http: HTTPServer!
    /// The admin listener, when `adminListen` is configured.
    var adminHTTP: HTTPServer?
    public private(set) var indexer: Indexer?
    /// The registry's chains: one indexer each (see `ChainSupervisor`).
    var chains: ChainSupervisor!
    /// Every metric of this node; /status reads it, and so will /metrics.
    public let metrics = MetricsRegistry()
    /// Backups on request and on schedule, and log shipping on the leader.
    public let backups: BackupAgent

    public init(config: NodeConfig, sink: Logger.Sink? = nil) throws {
        self.config = config
        let level = Logger.Level(name: config.logLevel) ?? .info
        logger = Logger(component: "node", sink: sink ?? Logger.Sink(minimum: level)).with("node", config.nodeId)
        do {
            try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        } catch {
            throw NodeConfig.Invalid(field: "dataDir", problem: "cannot create \(config.dataDir): \(error.localizedDescription)")
        }
        var envOptions = Environment.Options()
        envOptions.mapSize = config.mapSizeMiB << 20
        envOptions.maximumMapSize = config.mapLimitMiB << 20
        // Commits do not fsync by themselves; RaftLogStore forces a sync after every log write,
        // before any message that depends on it is sent. Apply transactions are therefore
        // durable no later than the next log write; a crash that loses one only means the
        // entries are applied again from the durable log, and since the applied index lives
        // in the same transaction as their effects they are never applied twice or half.
        // (LMDB keeps its integrity without per-commit fsync; only durability is deferred.)
        envOptions.unsafeModes = [.noSync]
        env = try Environment(path: config.dataDir, options: envOptions)
        raftLoop = try EventLoop(name: "raft")
        httpLoop = try EventLoop(name: "http")
        // One serving loop per core (the first also accepts): cheap reads are answered on
        // the loops themselves, so one loop alone would hold reads to one core.
        moreHTTPLoops = try (1..<max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))).map { try EventLoop(name: "http-\($0)") }
        var opts = ChainNode.Options(id: config.nodeId, randomSeed: UInt64.random(in: 1...UInt64.max))
        opts.tickMillis = config.tickMillis
        opts.electionTicks = config.electionTicks
        opts.heartbeatTicks = config.heartbeatTicks
        opts.snapshotEvery = config.snapshotEvery
        let peers = Dictionary(uniqueKeysWithValues: config.peers.map { ($0.id, $0.raft) })
        let logStore = try RaftLogStore(env: env, metrics: metrics)
        let root = try StateMachineRoot(env: env)
        node = try ChainNode(options: opts, store: logStore, stateMachine: root,
                                  bootstrapVoters: config.bootstrap ? [config.nodeId] + config.peers.map(\.id) : nil,
                                  configuredPeers: peers, loop: raftLoop, logger: logger.with("module", "raft"), dataDir: config.dataDir,
                                  metrics: metrics)
        let reportOf = node
        do {
            backups = try BackupAgent(env: env, log: logStore, root: root, clusterId: config.clusterId, nodeId: config.nodeId, dataDir: config.dataDir,
                                      settings: config.backup, report: { reportOf.report }, logger: logger.with("module", "backup"), metrics: metrics)
        } catch {
            throw NodeConfig.Invalid(field: "backup.to", problem: "\(error)")
        }
        var peerTLS: PeerTransport.TLS? = nil
        if let f = config.peerTLS {
            do { peerTLS = try PeerTransport.TLS(caFile: f.caFile, certificateFile: f.certFile, privateKeyFile: f.keyFile) } catch {
                throw NodeConfig.Invalid(field: "peerTLS", problem: error.description)
            }
        }
        transport = PeerTransport(nodeID: config.nodeId, clusterID: config.clusterId, secret: config.secret,
                                      listen: config.raftListen, peers: peers, loop: raftLoop,
                                      logger: Logger(component: "peer", sink: logger.sink, context: logger.context), limits: .init(), tls: peerTLS)
    }

    public func start() throws {
        raftLoop.start()
        httpLoop.start()
        for l in moreHTTPLoops { l.start() }
        let node = self.node
        let limiter = ClusterRateLimiter(selfId: config.nodeId, windowMillis: UInt64(config.rateLimit.windowSeconds) * 1000)
        let limiterLog = logger.with("module", "edge")
        let lastComplaint = Mutex<UInt64>(0)
        let usage = UsageRecorder(nodeId: config.nodeId)
        let rpcReadings = Mutex<RPCReadings?>(nil), outages = Mutex<NoLeaderWatch?>(nil), audits = Mutex<AuditRelay?>(nil)
        transport.onMessage = { from, type, payload in
            let now = unixMillis()
            do {
                switch type {
                case ClusterRateLimiter.frameType: try limiter.receive(from: from, payload, nowMillis: now)
                case UsageRecorder.frameType: try usage.receive(from: from, payload)
                case RPCReadings.frameType: try rpcReadings.withLock { $0 }?.receive(from: from, payload, nowMillis: now)
                case NoLeaderWatch.frameType: try outages.withLock { $0 }?.receive(from: from, payload)
                case AuditRelay.frameType: try audits.withLock { $0 }?.receive(from: from, payload)
                default: node.receive(from: from, type: type, payload: payload)
                }
            } catch {
                // A peer with another window setting would say so ten times a second.
                if lastComplaint.withLock({ last in defer { if now > last + 10_000 { last = now } }; return now > last + 10_000 }) {
                    limiterLog.warn("peer_report_refused", [("peer", from), ("type", type), ("error", "\(error)")])
                }
            }
        }
        transport.onPeerUnreachable = { peer in node.peerUnreachable(peer) }
        try transport.start()
        node.start(transport: transport)
        let peers = self.transport
        if let chain = config.chain {
            for u in chain.upstreams where u.tls?.insecureSkipVerify == true {
                logger.warn("upstream_tls_verification_disabled", [("upstream", u.redacted), ("why", "insecureSkipVerify is set: any certificate is accepted (test setups only)")])
            }
            let ix = Indexer(config: chain, index: node.stateMachine.chain, host: node, logger: logger.with("module", "indexer"))
            indexer = ix
            ix.start()
        }
        let chains = ChainSupervisor(node: node, seeds: config.chains, fixedChain: config.chain?.chainId, logger: logger.with("module", "indexer"))
        self.chains = chains
        chains.start()
        let indexer = self.indexer
        peers.registerMetrics(in: metrics)
        ProcessMetrics.register(in: metrics)
        StorageMetrics.register(env: env, dataDir: config.dataDir, in: metrics)
        let accessLog: AccessLog?
        do { accessLog = try config.accessLog.map { try AccessLog($0) } } catch {
            throw NodeConfig.Invalid(field: "accessLog.path", problem: "\(error)")
        }
        self.accessLog = accessLog
        let api = NodeAPI(node: node, config: config, metrics: metrics, rateLimiter: limiter, usage: usage, accessLog: accessLog, indexerStatus: { indexer?.status }, chainStatuses: { chains.statuses },
                          peerStatus: { peers.status() }, backups: backups,
                          peerSend: { [transport] peer, type, payload in transport.send(to: peer, type: type, payload: payload) })
        audits.withLock { $0 = api.auditRelay }
        let httpTLS = try config.httpTLS.map { try Self.httpTLSContext($0) }
        http = try HTTPServer(address: config.httpListen, loop: httpLoop, moreLoops: moreHTTPLoops, handler: { req in api.respond(req) },
                              webSocket: { req in api.webSocket(req) }, shouldContinue: { head in api.earlyRefusal(head) },
                              inline: { req in api.answersInline(req) }, tls: httpTLS)
        http.registerMetrics(in: metrics)
        http.start()
        startHistorySampling(api)
        if let a = config.adminListen {
            adminHTTP = try HTTPServer(address: a, loop: httpLoop, handler: { req in api.respond(req, on: .admin) },
                                       shouldContinue: { head in api.earlyRefusal(head, on: .admin) }, tls: httpTLS)
            adminHTTP?.start()
        }
        if let files = config.httpTLS { watchForCertificateReload(files) }
        if config.bootstrapAdmin { startBootstrapAdmin() }
        startRateShare(limiter)
        startTenantMaintenance(usage)
        startWebhookDelivery()
        backups.start()
        rpcReadings.withLock { $0 = api.rpcReadings }
        outages.withLock { $0 = startAlerting(api) }
        if let accessLog { startAccessLogFlush(accessLog) }
        logger.info("started", [("raft", transport.boundAddress.description), ("http", http.address.description), ("httpLoops", http.loops.count),
                                ("admin", adminHTTP?.address.description ?? "on http"), ("adminToken", config.adminToken == nil ? "none (admin endpoints refused)" : "configured"),
                                ("debugKV", config.debugKV), ("peerLinks", config.peerTLS == nil ? "plain TCP" : "TLS 1.3"),
                                ("https", config.httpTLS != nil), ("dataDir", config.dataDir), ("peers", config.peers.count)])
    }

    /// Usage batches into the log every 10 s, retention hourly on the leader.
    private var maintenanceTimer: DispatchSourceTimer?
    private func startTenantMaintenance(_ usage: UsageRecorder) {
        let transport = self.transport
        let maintenance = TenantMaintenance(node: node, recorder: usage, auditRetentionDays: config.auditRetentionDays,
                                            usageRetentionDays: config.usageRetentionDays, logger: logger.with("module", "edge"),
                                            send: { peer, type, payload in transport.send(to: peer, type: type, payload: payload) })
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "tenant-maintenance"))
        let every = Int(UsageRecorder.flushMillis)
        timer.schedule(deadline: .now() + .milliseconds(every), repeating: .milliseconds(every), leeway: .milliseconds(100))
        timer.setEventHandler { maintenance.tick(nowMillis: unixMillis()) }
        timer.resume()
        maintenanceTimer = timer
    }

    /// Webhook deliveries, ten rounds a second (they do anything only on the leader).
    private var webhookTimer: DispatchSourceTimer?
    private func startWebhookDelivery() {
        let deliverer = WebhookDeliverer(node: node, config: config, logger: logger.with("module", "webhooks"), metrics: metrics)
        let rounds = DispatchQueue(label: "webhook-delivery-rounds")
        let timer = DispatchSource.makeTimerSource(queue: rounds)
        timer.schedule(deadline: .now() + .milliseconds(100), repeating: .milliseconds(100), leeway: .milliseconds(20))
        timer.setEventHandler { deliverer.tick(nowMillis: unixMillis()) }
        timer.resume()
        webhookTimer = timer
        // A block applied starts a round at once (coalesced), instead of up to a tick later.
        let woken = Atomic<Bool>(false)
        node.stateMachine.chainFeed.subscribe { _ in
            guard !woken.exchange(true, ordering: .acquiringAndReleasing) else { return }
            rounds.async {
                woken.store(false, ordering: .releasing)
                deliverer.tick(nowMillis: unixMillis())
            }
        }
    }

    /// Built-in alerting: every node reports its JSON-RPC totals to the leader every 5 s and
    /// watches for no leader every second; the leader judges and notifies every second.
    private var alertTimer: DispatchSourceTimer?
    private func startAlerting(_ api: NodeAPI) -> NoLeaderWatch {
        let (node, transport, me, metrics) = (self.node, self.transport, config.nodeId, self.metrics)
        let notifier = api.alertNotifier()
        let watch = api.noLeaderWatch(send: { peer, type, payload in transport.send(to: peer, type: type, payload: payload) })
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "alerts"))
        let lastReport = Mutex<UInt64>(0)
        timer.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1), leeway: .milliseconds(100))
        timer.setEventHandler {
            let now = unixMillis()
            if lastReport.withLock({ last in defer { if now >= last + RPCReadings.reportMillis { last = now } }; return now >= last + RPCReadings.reportMillis }) {
                let leader = node.report.status.leader
                if leader != 0, let payload = api.rpcReadings.report(metrics.snapshot(), node: me, leader: leader, nowMillis: now) {
                    transport.send(to: leader, type: RPCReadings.frameType, payload: payload)
                }
            }
            watch.tick(nowMillis: now)
            notifier.tick(nowMillis: now)
        }
        timer.resume()
        alertTimer = timer
        return watch
    }

    /// The dashboard's last hour and the public status's head movement: a sample every 10 s.
    private var historyTimer: DispatchSourceTimer?
    private func startHistorySampling(_ api: NodeAPI) {
        api.sample(nowMillis: unixMillis())
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "metrics-history"))
        let every = api.history.intervalSeconds * 1000
        timer.schedule(deadline: .now() + .milliseconds(every), repeating: .milliseconds(every), leeway: .milliseconds(200))
        timer.setEventHandler { api.sample(nowMillis: unixMillis()) }
        timer.resume()
        historyTimer = timer
    }

    private var accessLog: AccessLog?
    private var accessLogTimer: DispatchSourceTimer?
    private func startAccessLogFlush(_ log: AccessLog) {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "access-log"))
        timer.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200), leeway: .milliseconds(50))
        timer.setEventHandler { log.flush() }
        timer.resume()
        accessLogTimer = timer
    }

    /// Every node's counts of organisations' keys reach its peers ten times a second.
    private var rateShareTimer: DispatchSourceTimer?
    private func startRateShare(_ limiter: ClusterRateLimiter) {
        let (node, transport, me) = (self.node, self.transport, config.nodeId)
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "rate-share"))
        let interval = Int(ClusterRateLimiter.shareIntervalMillis)
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval), leeway: .milliseconds(10))
        timer.setEventHandler {
            let report = limiter.report(nowMillis: unixMillis())
            for peer in node.report.status.conf.members where peer != me { transport.send(to: peer, type: ClusterRateLimiter.frameType, payload: report) }
        }
        timer.resume()
        rateShareTimer = timer
    }

    /// Tries every half second, off the loops, until the cluster has a user.
    private var bootstrapTimer: DispatchSourceTimer?
    private func startBootstrapAdmin() {
        let bootstrap = BootstrapAdmin(node: node, dataDir: config.dataDir, logger: logger.with("module", "edge"))
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "bootstrap-admin"))
        timer.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(500))
        // The handler holds the timer until it cancels it: once there is a user.
        timer.setEventHandler { if bootstrap.step() { timer.cancel() } }
        timer.resume()
        bootstrapTimer = timer
    }

    static func httpTLSContext(_ f: NodeConfig.HTTPTLSFiles) throws -> TLSContext {
        var c = TLSConfiguration(role: .server)
        c.certificateFile = f.certFile
        c.privateKeyFile = f.keyFile
        do { return try TLSContext(c) } catch { throw NodeConfig.Invalid(field: "httpTLS", problem: error.description) }
    }

    /// SIGHUP reloads the HTTPS certificate and key (a renewed certificate without a restart);
    /// a reload that fails keeps the current ones and says why.
    private var reloadSignal: DispatchSourceSignal?
    private func watchForCertificateReload(_ files: NodeConfig.HTTPTLSFiles) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [weak self] in
            guard let self else { return }
            do {
                let context = try Self.httpTLSContext(files)
                self.http.reloadTLS(context)
                self.adminHTTP?.reloadTLS(context)
                self.logger.info("http_tls_reloaded", [("certFile", files.certFile)])
            } catch {
                self.logger.error("http_tls_reload_failed", [("error", "\(error)"), ("keeping", "the certificate loaded before")])
            }
        }
        source.resume()
        reloadSignal = source
    }

    public var httpAddress: SocketAddress { http.address }

    /// Graceful stop: finish in-flight HTTP requests, stop Raft, close storage.
    public func stop() {
        bootstrapTimer?.cancel()
        rateShareTimer?.cancel()
        maintenanceTimer?.cancel()
        webhookTimer?.cancel()
        accessLogTimer?.cancel()
        historyTimer?.cancel()
        alertTimer?.cancel()
        indexer?.stop()
        chains?.stop()
        http?.shutdown(timeoutMillis: 3000)
        adminHTTP?.shutdown(timeoutMillis: 1000)
        node.stop()
        transport.stop()
        let done = DispatchSemaphore(value: 0)
        raftLoop.execute { done.signal() }
        _ = done.wait(timeout: .now() + 3)
        raftLoop.stop()
        httpLoop.stop()
        for l in moreHTTPLoops { l.stop() }
        accessLog?.close()
        env.close()
        logger.info("stopped")
    }
}
