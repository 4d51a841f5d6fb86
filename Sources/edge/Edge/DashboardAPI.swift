import Alerts
import ByteCodec
import Chain
import ChainFollower
import ChainIndex
import Dispatch
import Foundation
import Net
import NodeConfig
import PeerTransport
import StateMachine
import Synchronization
import Telemetry
import Tenancy

/// `GET /v1/dashboard`: what the dashboard page shows, for the principal asking.
/// - The cluster view (nodes, RPC over the last hour, webhooks) is for cluster admins and
///   users who are admin or operator in an organisation. Chains are every chain for
///   cluster admins, and the chains of one's own organisations for everyone else.
/// - `?scope=node` is this node alone. Without it the node asks every peer for theirs,
///   with the same credential and in parallel (1 s each), and merges: the leader's
///   indexer progress, every node's applied head, conditions worth attention.
struct DashboardAPI: Sendable {
    let node: ChainNode
    let config: NodeConfig
    let metrics: MetricsRegistry
    let history: MetricsHistory
    let served: @Sendable () -> [ServedChain]
    let peerStatus: @Sendable () -> [UInt64: PeerStatus]
    let owner: @Sendable (UInt64) -> UInt64?
    /// For https:// peers (their CA); nil = the system trust store. A fresh connection per
    /// refresh, with a 1 s timeout: a dead peer must not hold the page.
    let peerTLS: TLSConfiguration?

    static func owns(_ path: String) -> Bool { path == "/v1/dashboard" }

    /// Followers further behind than this are a condition (entries).
    static let lagEntries: Int64 = 1000
    /// The seed's `lag_seconds > 30`.
    static let lagSeconds = 30.0

    struct View {
        let cluster: Bool
        /// nil: every chain.
        let organisations: Set<UInt64>?
    }

    static func view(_ access: AdminAccess) -> View {
        if access.isClusterAdmin { return View(cluster: true, organisations: nil) }
        let cluster = access.roles.values.contains { $0 == .admin || $0 == .operator }
        return View(cluster: cluster, organisations: Set(access.roles.keys))
    }

    func handle(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        guard req.method == "GET" else { return jsonError(405, "use GET on /v1/dashboard") }
        let view = Self.view(access)
        let local = localPart(view)
        if req.query["scope"] == "node" { return .json(JSON.serialize(.object(local)) + "\n") }
        if let scope = req.query["scope"], scope != "cluster" {
            return jsonError(400, "scope must be node or cluster, not \(boundedQuote(scope))")
        }
        return .json(JSON.serialize(.object(Self.merge(selfId: config.nodeId, local, peers: fetchPeers(req), view, nowMillis: unixMillis()))) + "\n")
    }

    // MARK: this node

    func localPart(_ view: View) -> JSONObject {
        let r = node.report
        let m = metrics.snapshot()
        var n: JSONObject = ["id": jsonNumber(config.nodeId), "role": .string("\(r.status.role)"), "term": jsonNumber(r.status.term),
                             "leaderId": jsonNumber(r.status.leader), "commitIndex": jsonNumber(r.status.committed),
                             "appliedIndex": jsonNumber(r.appliedIndex), "lastIndex": jsonNumber(r.status.lastIndex),
                             "httpURL": .string(config.httpURL), "version": .string(ProcessMetrics.version)]
        var alarms = [JSONValue]()
        if let a = r.diskAlarm { alarms.append(.string("NOSPACE: \(a.stage): \(a.error)")) }
        if let c = r.corruption { alarms.append(.string("CORRUPT: \(c)")) }
        n["alarms"] = .array(alarms)
        if let rss = m["process_resident_memory_bytes"]?.gauge() { n["rssBytes"] = jsonNumber(rss) }
        if let started = m["process_start_time_seconds"]?.value()?.number { n["startedAt"] = .number(String(Int64(started))) }
        let links = peerStatus()
        n["peers"] = .array(links.keys.sorted().map { id in
            .object(["id": jsonNumber(id), "connected": .bool(links[id]!.connected),
                     "matchIndex": r.peerMatch[id].map(jsonNumber) ?? .null])
        })
        var o: JSONObject = ["node": .object(n), "view": .string(view.cluster ? "cluster" : "organisation")]
        o["chains"] = .array(chains(view).map { .object($0) })
        o["alerts"] = .object(alerts(view))
        if view.cluster {
            o["rpc"] = .array(history.points.map { p in
                .object(["t": jsonNumber(p.unixMillis), "callsPerSecond": Self.number(p.callsPerSecond),
                         "errorRatio": p.errorRatio.map(Self.number) ?? .null,
                         "p50Ms": p.p50.map { Self.number($0 * 1000) } ?? .null, "p99Ms": p.p99.map { Self.number($0 * 1000) } ?? .null,
                         "rateLimitedPerSecond": Self.number(p.rateLimitedPerSecond),
                         "deliveriesPerSecond": Self.number(p.deliveriesPerSecond)])
            })
            var w = JSONObject()
            w["active"] = jsonNumber(m["webhook_active"]?.gauge() ?? 0)
            w["paused"] = jsonNumber(m["webhooks_paused"]?.gauge() ?? 0)
            w["backlogMaxBlocks"] = jsonNumber(m["webhook_backlog_max_blocks"]?.gauge() ?? 0)
            w["delivered"] = jsonNumber(m["webhook_deliveries_total"]?.counter(["outcome": "delivered"]) ?? 0)
            w["failed"] = jsonNumber((m["webhook_deliveries_total"]?.counter(["outcome": "failed"]) ?? 0) + (m["webhook_deliveries_total"]?.counter(["outcome": "refused"]) ?? 0))
            o["webhooks"] = .object(w)
        }
        return o
    }

    /// The built-in alerts' incidents this principal may see: those firing, and the latest
    /// that resolved (the tables are replicated, so any node's copy is the cluster's).
    func alerts(_ view: View) -> JSONObject {
        let read = try? node.stateMachine.alertView { d, txn in
            let visible = { (i: AlertIncident) in view.organisations.map { $0.contains(i.org) } ?? true }
            let open = try d.openIncidents(txn).filter(visible).sorted { $0.id > $1.id }
            let resolved = Array(try d.recentIncidents(txn, limit: 500).filter { !$0.isOpen && visible($0) }.prefix(Self.resolvedShown))
            let rules = try Set((open + resolved).map(\.rule)).reduce(into: [UInt64: AlertRule]()) { $0[$1] = try d.rule($1, txn) }
            return (open, resolved, rules)
        }
        guard let (open, resolved, rules) = read else { return ["firing": .array([]), "resolved": .array([]), "error": .string("the alert tables could not be read")] }
        return ["firing": .array(open.map { AlertAdmin.json($0, rules[$0.rule]) }), "resolved": .array(resolved.map { AlertAdmin.json($0, rules[$0.rule]) })]
    }

    static let resolvedShown = 10

    /// The chains this principal may see, with this node's applied head and, where this
    /// node runs the chain's indexer, its progress.
    func chains(_ view: View) -> [JSONObject] {
        var list = served()
        if let orgs = view.organisations { list = list.filter { owner($0.chainId).map(orgs.contains) ?? false } }
        let heads = ServedChain.appliedHeads(list.map(\.chainId), node.stateMachine.chain)
        let leading = node.report.status.role == .leader
        return list.map { c in
            let h = heads[c.chainId]
            var o: JSONObject = ["chainId": jsonNumber(c.chainId), "slug": .string(c.slug),
                                 "appliedHead": h.map { jsonNumber($0.number) } ?? .null,
                                 "appliedHeadTimestamp": h?.timestamp.map(jsonNumber) ?? .null]
            // Only the leader's indexer runs; a follower's status is what it last saw leading.
            if leading, let s = c.indexer {
                o["indexer"] = .object(["state": .string(s.state.description), "stateKind": .string(s.state.kind.rawValue),
                                        "startBlock": jsonNumber(c.startBlock),
                                        "upstreamHead": s.upstreamHead.map(jsonNumber) ?? .null, "indexedHead": s.indexedHead.map(jsonNumber) ?? .null,
                                        "lagBlocks": s.lagBlocks.map(jsonNumber) ?? .null, "lagSeconds": s.lagSeconds.map(Self.number) ?? .null,
                                        "blocksPerSecond": Self.number(s.blocksPerSecond), "txPerSecond": Self.number(s.txPerSecond),
                                        "etaSeconds": s.etaSeconds.map(Self.number) ?? .null, "refusedBlocks": jsonNumber(s.refusedBlocks),
                                        "reorgs": jsonNumber(s.reorgs)])
            }
            return o
        }
    }

    static func number(_ v: Double) -> JSONValue {
        v.isFinite ? .number(String(format: "%.3f", v)) : .string(v > 0 ? "+Inf" : "-Inf")
    }

    // MARK: the other nodes

    /// Every other member's `?scope=node` part, by id; nil where it did not answer.
    func fetchPeers(_ req: HTTPRequest) -> [UInt64: JSONObject?] {
        let me = config.nodeId
        let members = node.report.status.conf.members.filter { $0 != me }.sorted()
        let urls = members.map { AdminAPI.adminURL(of: $0, config: config, node: node) }
        let token = Authenticator.presentedAdminToken(req)
        let out = Mutex<[UInt64: JSONObject?]>([:])
        DispatchQueue.concurrentPerform(iterations: members.count) { i in
            var part: JSONObject?
            if let url = urls[i], let token {
                do {
                    let client = try HTTPClient(url: url, timeoutMillis: 1000, tls: peerTLS)
                    let r = try client.request("GET", "/v1/dashboard?scope=node", headers: [("X-Infrastack-Admin-Token", token)])
                    if r.status == 200 { part = try JSON.parse(r.body).objectValue }
                } catch {
                    part = nil
                }
            }
            out.withLock { $0[members[i]] = part }
        }
        return out.withLock { $0 }
    }

    // MARK: merging

    /// The cluster's picture from this node's part and the peers' (nil: no answer).
    static func merge(selfId: UInt64, _ local: JSONObject, peers: [UInt64: JSONObject?], _ view: View, nowMillis: UInt64) -> JSONObject {
        precondition(peers[selfId] == nil, "a node is not its own peer")
        var parts: [UInt64: JSONObject] = [selfId: local]
        for (id, p) in peers { if let p { parts[id] = p } }
        let ids = ([selfId] + peers.keys).sorted()
        func int(_ v: JSONValue?) -> Int64? { if case .number(let n)? = v { return Int64(n) }; return nil }
        func real(_ v: JSONValue?) -> Double? { if case .number(let n)? = v { return Double(n) }; return nil }
        func nodeField(_ id: UInt64, _ k: String) -> JSONValue? { parts[id]?["node"]?.objectValue?[k] }
        let leader = ids.compactMap { id in nodeField(id, "role")?.stringValue == "leader" ? id : nil }.first
        let maxApplied = ids.compactMap { int(nodeField($0, "appliedIndex")) }.max() ?? 0
        var conditions = [JSONValue]()
        func condition(_ name: String, _ severity: String, _ message: String) {
            conditions.append(.object(["condition": .string(name), "severity": .string(severity), "message": .string(message)]))
        }
        var o: JSONObject = ["generatedAt": jsonNumber(nowMillis), "servedBy": jsonNumber(selfId),
                             "view": .string(view.cluster ? "cluster" : "organisation"), "leaderId": leader.map(jsonNumber) ?? .null]
        if view.cluster {
            let links = local["node"]?.objectValue?["peers"]?.arrayValue ?? []
            o["nodes"] = .array(ids.map { id in
                var n: JSONObject = parts[id]?["node"]?.objectValue ?? ["id": jsonNumber(id), "role": .string("unknown")]
                n["reachable"] = .bool(parts[id] != nil)
                if let applied = int(n["appliedIndex"]) { n["lagEntries"] = jsonNumber(maxApplied - applied) }
                if id != selfId {
                    let link = links.first { int($0.objectValue?["id"]) == Int64(id) }?.objectValue
                    n["link"] = .string(link?["connected"]?.boolValue == true ? "connected" : "disconnected")
                } else {
                    n["link"] = .string("self")
                }
                return .object(n)
            })
            if leader == nil { condition("no_leader", "critical", "no node reports itself leader: writes and ingest are stopped") }
            for id in ids {
                guard parts[id] != nil else { condition("node_unreachable", "warning", "node \(id) did not answer within a second"); continue }
                for a in nodeField(id, "alarms")?.arrayValue ?? [] { condition("node_alarm", "critical", "node \(id): \(a.stringValue ?? "")") }
                if let applied = int(nodeField(id, "appliedIndex")), maxApplied - applied > Self.lagEntries {
                    condition("follower_lag", "warning", "node \(id) is \(maxApplied - applied) entries behind")
                }
            }
            let hooks = leader.flatMap { parts[$0]?["webhooks"]?.objectValue } ?? local["webhooks"]?.objectValue
            o["webhooks"] = hooks.map { .object($0) } ?? .null
            if let paused = int(hooks?["paused"]), paused > 0 { condition("webhooks_paused", "warning", "\(paused) webhook(s) paused") }
            o["rpc"] = .object(ids.reduce(into: JSONObject()) { r, id in r[String(id)] = parts[id]?["rpc"] ?? .array([]) })
        }
        // Chains: the leader's indexer, every node's applied head.
        let leaderChains = leader.flatMap { parts[$0]?["chains"]?.arrayValue } ?? []
        o["chains"] = .array((local["chains"]?.arrayValue ?? []).compactMap { $0.objectValue }.map { c in
            var c = c
            let cid = int(c["chainId"])
            let lead = leaderChains.compactMap(\.objectValue).first { int($0["chainId"]) == cid }
            c["indexer"] = lead?["indexer"] ?? .null
            c["appliedHeads"] = .object(ids.reduce(into: JSONObject()) { h, id in
                let mine = parts[id]?["chains"]?.arrayValue?.compactMap(\.objectValue).first { int($0["chainId"]) == cid }
                h[String(id)] = mine?["appliedHead"] ?? .null
            })
            let name = (c["slug"]?.stringValue).flatMap { $0.isEmpty ? nil : $0 } ?? "chain \(cid ?? 0)"
            if let ix = lead?["indexer"]?.objectValue {
                if let refused = int(ix["refusedBlocks"]), refused > 0 { condition("refused_blocks", "critical", "\(name): \(refused) upstream block(s) failed verification") }
                if ix["stateKind"]?.stringValue == "halted" { condition("indexer_halted", "critical", "\(name): \(ix["state"]?.stringValue ?? "halted")") }
                if let lag = real(ix["lagSeconds"]), lag > Self.lagSeconds {
                    condition("lag_seconds", "warning", "\(name): the indexed head is \(Int(lag)) s old")
                }
            }
            return .object(c)
        })
        o["alerts"] = local["alerts"] ?? .null
        for i in local["alerts"]?["firing"]?.arrayValue ?? [] {
            condition("alert_firing", i["severity"]?.stringValue ?? "warning", i["summary"]?.stringValue ?? "an alert fires")
        }
        o["conditions"] = .array(conditions)
        return o
    }
}
