import Alerts
import Backup
import ByteCodec
import StateMachine
import NodeConfig
import Chain
import ChainFollower
import Consensus
import Foundation
import Net

/// The node's admin plane: cluster membership, chains, organisations, members, users, API
/// keys, the audit log and the debug key-value store. Every request carries a token
/// (`Authorization: Bearer <token>` or `X-Infrastack-Admin-Token`): the configured
/// cluster-admin token or a user's personal token; what a user may do is decided per
/// organisation by `AdminAccess` (the README's role table). Arriving at a follower, a
/// request is checked here first — credential, role and body — and only then forwarded to
/// the leader with the caller's credential, which checks again.
///
///   POST   /v1/cluster/members              {id, raft, http}: add a learner
///   POST   /v1/cluster/members/{id}/promote  a caught-up learner becomes a voter
///   DELETE /v1/cluster/members/{id}          remove a voter or learner
///   PUT    /v1/debug/kv/{key}                replicated write (only with "debugKV": true)
///   GET    /v1/debug/kv/{key}[?consistency=linearizable]
///   /v1/cluster/chains…                     chain management (`ChainAdmin`)
///   GET    /v1/export/state                  a chain's state at a block, in pages (`StateExportAdmin`)
final class AdminAPI: Sendable {
    let node: ChainNode
    let config: NodeConfig
    let peerConnected: @Sendable () -> [UInt64: Bool]
    /// Kept-alive connections to the leader, reused across forwarded requests.
    let forwardClients: ClientPool
    let chains: ChainAdmin
    let orgs: OrgAdmin
    let keys: KeyAdmin
    let webhooks: WebhookAdmin
    let alerts: AlertAdmin
    let backups: BackupAdmin
    /// The dashboard's data; nil where the node API was built without one (tests).
    let dashboard: DashboardAPI?

    init(node: ChainNode, config: NodeConfig, peerConnected: @escaping @Sendable () -> [UInt64: Bool],
         chainStatuses: @escaping @Sendable () -> [ChainRunStatus] = { [] }, dashboard: DashboardAPI? = nil, backups: BackupAgent? = nil) {
        self.backups = BackupAdmin(agent: backups)
        self.node = node
        self.dashboard = dashboard
        self.config = config
        self.peerConnected = peerConnected
        chains = ChainAdmin(node: node, statuses: chainStatuses)
        orgs = OrgAdmin(node: node, fixedChain: config.chain?.chainId)
        keys = KeyAdmin(node: node)
        webhooks = WebhookAdmin(node: node, sender: WebhookSender(config), fixedChain: config.chain?.chainId,
                                nodeId: config.nodeId)
        alerts = AlertAdmin(node: node, sender: WebhookSender(config), fixedChain: config.chain?.chainId)
        forwardClients = ClientPool(tls: config.nodeClientTLS)
    }

    /// Whether a path belongs to this API (whatever the method).
    static func owns(_ method: String, _ path: String) -> Bool {
        if path.hasPrefix("/v1/debug/kv/") || path == "/v1/debug/kv" || ChainAdmin.owns(path) || OrgAdmin.owns(path) || KeyAdmin.owns(path) || AuditAdmin.owns(path)
            || UserAdmin.owns(path) || WebhookAdmin.owns(path) || AlertAdmin.owns(path) || DashboardAPI.owns(path)
            || StateExportAdmin.owns(path) || BackupAdmin.owns(path) { return true }
        if path == "/v1/cluster/members" { return method != "GET" && method != "HEAD" }
        return path.hasPrefix("/v1/cluster/members/")
    }

    /// The refusal that comes before identity: a disabled debug key-value store is not there.
    func precheck(_ req: HTTPRequest) -> HTTPResponse? {
        if req.path.hasPrefix("/v1/debug/kv"), !config.debugKV {
            return jsonError(404, "the debug key-value store is off on this node (set \"debugKV\": true to enable it)")
        }
        return nil
    }

    /// An admin request the pipeline authenticated as a cluster admin or a user.
    func handle(_ request: EdgeRequest) -> HTTPResponse {
        precondition(request.principal.role >= .member, "admin handlers run for cluster admins and users only")
        let req = request.http
        let path = req.path
        let access: AdminAccess
        do { access = try AdminAccess(principal: request.principal, node: node) } catch {
            return jsonError(500, "cannot read the memberships: \(error)")
        }
        if ChainAdmin.owns(path) { return chains.handle(req, access) { local in forwardOr(req, local) } }
        if OrgAdmin.owns(path) { return orgs.handle(req, access) { local in forwardOr(req, local) } }
        if KeyAdmin.owns(path) { return keys.handle(req, access) { local in forwardOr(req, local) } }
        if AuditAdmin.owns(path) { return AuditAdmin(node: node).handle(req, access) }
        if StateExportAdmin.owns(path) { return StateExportAdmin(node: node, fixedChain: config.chain?.chainId).handle(req, access) }
        if UserAdmin.owns(path) { return UserAdmin(node: node).handle(req, access) { local in forwardOr(req, local) } }
        if WebhookAdmin.owns(path) { return webhooks.handle(req, access) { local in forwardOr(req, local) } }
        if AlertAdmin.owns(path) { return alerts.handle(req, access) { local in forwardOr(req, local) } }
        if BackupAdmin.owns(path) { return backups.handle(req, access) }
        if DashboardAPI.owns(path) {
            guard let dashboard else { return jsonError(404, "this node serves no dashboard") }
            return dashboard.handle(req, access)
        }
        if let refusal = access.requireClusterAdmin(path.hasPrefix("/v1/debug/kv") ? "use the debug key-value store" : "change the cluster's membership") {
            return refusal
        }
        if path == "/v1/cluster/members" {
            guard req.method == "POST" else { return jsonError(405, "use GET or POST on /v1/cluster/members") }
            switch Self.parseMember(req.body) {
            case .failure(let why): return jsonError(400, why.description)
            case .success(let member): return forwardOr(req) { self.addMember(member) }
            }
        }
        if path.hasPrefix("/v1/debug/kv/") {
            let key = String(path.dropFirst("/v1/debug/kv/".count)).removingPercentEncoding ?? ""
            guard !key.isEmpty, key.utf8.count <= 512 else { return jsonError(400, "key must be 1 to 512 bytes") }
            switch req.method {
            case "PUT", "POST": return forwardOr(req) { self.put(key, req.body) }
            case "GET": return get(key, req)
            default: return jsonError(405, "use GET or PUT on /v1/debug/kv/{key}")
            }
        }
        if path.hasPrefix("/v1/cluster/members/") {
            let rest = path.dropFirst("/v1/cluster/members/".count).split(separator: "/")
            guard let idText = rest.first, let id = UInt64(idText), id > 0 else { return jsonError(400, "member id must be a positive integer") }
            if req.method == "POST", rest.count == 2, rest[1] == "promote" { return forwardOr(req) { self.confChange(.addVoter, id) } }
            if req.method == "DELETE", rest.count == 1 { return forwardOr(req) { self.confChange(.removeNode, id) } }
            return jsonError(404, "use POST /v1/cluster/members/{id}/promote or DELETE /v1/cluster/members/{id}")
        }
        return jsonError(404, "no admin route for \(req.method) \(boundedQuote(path))")
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    /// A new member's record from a request body, validated on whichever node received it.
    static func parseMember(_ body: [UInt8]) -> Result<StateMachineRoot.Member, Problem> {
        guard let o = (try? JSON.parse(body))?.objectValue else { return .failure(Problem(description: "body must be a JSON object {id, raft, http}")) }
        for k in o.keys where !["id", "raft", "http"].contains(k) { return .failure(Problem(description: "unknown field \(boundedQuote(k)) (known: id, raft, http)")) }
        guard case .number(let n)? = o["id"], let id = UInt64(n), id > 0 else { return .failure(Problem(description: "id must be a positive integer")) }
        guard let raft = o["raft"]?.stringValue, (try? SocketAddress(parsing: raft)) != nil else {
            return .failure(Problem(description: "raft is required: the new node's peer address as host:port"))
        }
        guard let http = o["http"]?.stringValue, http.hasPrefix("http://") || http.hasPrefix("https://"), (try? HTTPURL(parsing: http)) != nil else {
            return .failure(Problem(description: "http is required: the new node's http(s)://host:port URL"))
        }
        return .success(StateMachineRoot.Member(id: id, raftAddress: raft, httpURL: http))
    }

    /// The organisation an admin request acts on (0: the cluster's own) and the principal's
    /// role there, for its audit entry.
    func auditSubject(_ request: EdgeRequest) -> (org: UInt64, role: String) {
        let req = request.http
        let parts = request.path.split(separator: "/").map(String.init)
        var org: UInt64 = AuditHook.organisation(in: request.path)
        if org == 0, parts.count >= 2, "/" + parts[0] + "/" + parts[1] == KeyAdmin.prefix {
            if parts.count >= 3, let id = OrgAdmin.parseId(parts[2]) {
                org = ((try? node.stateMachine.tenantView { d, txn in try d.key(id, txn) }) ?? nil)?.org ?? 0
            } else if let text = (try? JSON.parse(req.body))?["org"]?.stringValue {
                org = OrgAdmin.parseId(text) ?? 0
            }
        } else if org == 0, parts.count >= 2, "/" + parts[0] + "/" + parts[1] == WebhookAdmin.prefix {
            if parts.count >= 3, let id = OrgAdmin.parseId(parts[2]) {
                org = ((try? node.stateMachine.webhookView { d, txn in try d.webhook(id, txn) }) ?? nil)?.org ?? 0
            } else if let text = (try? JSON.parse(req.body))?["org"]?.stringValue {
                org = OrgAdmin.parseId(text) ?? 0
            }
        } else if org == 0, AlertAdmin.owns(request.path) {
            if parts.count >= 3, let id = OrgAdmin.parseId(parts[2]) {
                org = ((try? node.stateMachine.alertView { d, txn in try d.rule(id, txn) }) ?? nil)?.org ?? 0
            } else if let text = req.query["org"] ?? (try? JSON.parse(req.body))?["org"]?.stringValue {
                org = OrgAdmin.parseId(text) ?? 0
            }
        } else if org == 0, ChainAdmin.owns(request.path), parts.count >= 4 {
            if let chain = ((try? node.stateMachine.allChains()) ?? []).first(where: { $0.spec.slug == parts[3] }) {
                org = ((try? node.stateMachine.tenantView { d, txn in try d.owner(ofChain: chain.spec.chainId, txn) }) ?? nil) ?? 0
            }
        }
        var role = request.principal.role.rawValue
        if request.principal.role == .member, let user = request.principal.user,
           let r = (try? node.stateMachine.tenantView({ d, txn in try d.role(of: user, in: org, txn) })) ?? nil {
            role = r.name
        }
        return (org, role)
    }

    /// Where this node sends admin requests for the leader: its admin URL when admin
    /// endpoints live on their own listener here (and so, by convention, on every node).
    func leaderURL(_ leader: UInt64) -> String? { Self.adminURL(of: leader, config: config, node: node) }

    /// Node `id`'s admin address as this node knows it: from the config's peers, else (when
    /// admin endpoints share the HTTP listener) from the replicated member records.
    static func adminURL(of id: UInt64, config: NodeConfig, node: ChainNode) -> String? {
        if let peer = config.peers.first(where: { $0.id == id }) {
            return config.adminListen != nil ? peer.admin : peer.http
        }
        guard config.adminListen == nil else { return nil }
        return ((try? node.stateMachine.allMembers()) ?? []).first { $0.id == id }?.httpURL
    }

    /// Runs `local` on the leader; elsewhere forwards the request, credential included, once.
    func forwardOr(_ req: HTTPRequest, _ local: () -> HTTPResponse) -> HTTPResponse {
        let leader = node.report.status.leader
        if leader == config.nodeId || req.header("X-Infrastack-Forwarded") != nil { return local() }
        guard leader != 0 else { return jsonError(503, "no leader known; retry shortly", [("retryable", .bool(true))]) }
        guard let url = leaderURL(leader) else {
            return jsonError(421, "the leader is node \(leader), whose admin address this node does not know; send the request there",
                             [("leaderId", .number(String(leader)))])
        }
        var headers = [("X-Infrastack-Forwarded", String(config.nodeId)), ("Content-Type", req.header("Content-Type") ?? "application/octet-stream")]
        if let t = Authenticator.presentedAdminToken(req) { headers.append(("X-Infrastack-Admin-Token", t)) }
        // The leader records the change in the audit log with the client's address, not ours.
        headers.append(("X-Infrastack-Client", APIKeys.host(req.remote)))
        if let id = req.header("X-Request-Id") { headers.append(("X-Request-Id", id)) }
        do {
            let client = try forwardClients.take(url)
            defer { forwardClients.give(back: client, url) }
            let r = try client.request(req.method, req.target, headers: headers, body: req.body)
            return HTTPResponse(status: r.status, headers: r.headers.filter { !["content-length", "connection", "x-infrastack-node", "x-infrastack-applied-index"].contains($0.name.lowercased()) } + [("X-Infrastack-Forwarded-To", String(leader))], body: r.body)
        } catch {
            return jsonError(503, "forwarding to leader \(leader) at \(url) failed: \(error)", [("retryable", .bool(true))])
        }
    }

    func outcomeResponse(_ outcome: ChainNode.ProposeOutcome) -> HTTPResponse {
        Self.response(outcome) { [config] index in .json("{\"index\":\(index),\"node\":\(config.nodeId)}\n") }
    }

    /// A replicated write's outcome as every admin endpoint answers it; `applied` builds
    /// the success answer from the entry's index.
    static func response(_ outcome: ChainNode.ProposeOutcome, applied: (UInt64) -> HTTPResponse) -> HTTPResponse {
        switch outcome {
        case .applied(let index): return applied(index)
        case .notLeader(let l): return jsonError(503, "not the leader (leader is \(l)); retry", [("leaderId", .number(String(l))), ("retryable", .bool(true))])
        case .rejected(let why): return jsonError(409, why, [("retryable", .bool(true))])
        case .unavailable(let why): return jsonError(507, why, [("retryable", .bool(true))])
        case .timedOut: return jsonError(504, "not applied within the timeout; the change may still commit", [("retryable", .bool(true))])
        }
    }

    /// Answered once the write is applied here; no thread waits for it meanwhile.
    func put(_ key: String, _ value: [UInt8]) -> HTTPResponse {
        let answer = DeferredResponse()
        node.propose(.put(key: key, value: value)) { [self] outcome in answer.fulfil(outcomeResponse(outcome)) }
        return .later(answer)
    }

    func get(_ key: String, _ req: HTTPRequest) -> HTTPResponse {
        if req.query["consistency"] == "linearizable" {
            guard node.linearizableReadIndex() != nil else { return jsonError(503, "could not confirm a linearizable read point; retry", [("retryable", .bool(true))]) }
        }
        do {
            guard let v = try node.stateMachine.get(key) else { return jsonError(404, "key not found") }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: v)
        } catch {
            return jsonError(500, "read failed: \(error)")
        }
    }

    /// Adds a learner: first its addresses (replicated), then the configuration change.
    func addMember(_ member: StateMachineRoot.Member) -> HTTPResponse {
        let change = ConfChange(.addLearner, node: member.id)
        if let why = guardNow().refusal(change) { return jsonError(409, why) }
        let first = node.propose(.setMember(member))
        guard case .applied = first else { return outcomeResponse(first) }
        return confChange(.addLearner, member.id)
    }

    func confChange(_ kind: ConfChange.Kind, _ id: UInt64) -> HTTPResponse {
        let change = ConfChange(kind, node: id)
        if let why = guardNow().refusal(change) { return jsonError(409, why) }
        return outcomeResponse(node.proposeConfChange(change))
    }

    /// What the leader knows now: configuration, reachable peers, replication progress.
    func guardNow() -> MembershipGuard {
        let r = node.report
        let connected = peerConnected()
        var reachable: Set<UInt64> = [config.nodeId]
        for (id, up) in connected where up { reachable.insert(id) }
        return MembershipGuard(voters: Set(r.status.conf.voters), learners: Set(r.status.conf.learners), reachable: reachable,
                               match: r.peerMatch, lastIndex: r.status.lastIndex)
    }
}
