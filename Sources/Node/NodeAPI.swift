import Chain
import Consensus
import Foundation
import Indexer
import Net

/// The node's HTTP surface for now: health, readiness, status, the debug key-value
/// store and membership administration. Writes arriving at a follower are forwarded to
/// the leader, so clients may talk to any node.
public final class NodeAPI: Sendable {
    let node: ReplicatedNode
    let config: NodeConfig
    let peerStatus: @Sendable () -> [UInt64: (connected: Bool, queued: Int, dropped: Int)]
    let indexerStatus: @Sendable () -> Indexer.Status?
    /// Kept-alive connections to the leader, reused across forwarded requests.
    let forwardClients = ClientPool()
    /// JSON-RPC, GraphQL and REST reads of the chain.
    let reads: ReadGateway

    public init(node: ReplicatedNode, config: NodeConfig, indexerStatus: @escaping @Sendable () -> Indexer.Status? = { nil },
                peerStatus: @escaping @Sendable () -> [UInt64: (connected: Bool, queued: Int, dropped: Int)]) {
        self.node = node
        self.config = config
        self.peerStatus = peerStatus
        self.indexerStatus = indexerStatus
        reads = ReadGateway(node: node, config: config, indexerStatus: indexerStatus)
    }

    public func handle(_ req: HTTPRequest) -> HTTPResponse {
        var r = route(req)
        let rep = node.report
        r.headers.append(("X-Infrastack-Node", String(config.nodeId)))
        r.headers.append(("X-Infrastack-Applied-Index", String(rep.appliedIndex)))
        return r
    }

    func route(_ req: HTTPRequest) -> HTTPResponse {
        let path = req.path
        if let r = reads.handle(req) { return r }
        switch (req.method, path) {
        case ("GET", "/healthz"), ("HEAD", "/healthz"): return .text("ok\n")
        case ("GET", "/readyz"): return readiness()
        case ("GET", "/status"): return .json(JSON.serialize(.object(statusObject())))
        case ("GET", "/v1/cluster/members"): return members()
        case ("POST", "/v1/cluster/members"): return forwardOr(req) { self.addMember(req) }
        default: break
        }
        if path.hasPrefix("/v1/debug/kv/") {
            let key = String(path.dropFirst("/v1/debug/kv/".count)).removingPercentEncoding ?? ""
            guard !key.isEmpty, key.utf8.count <= 512 else { return error(400, "key must be 1 to 512 bytes") }
            switch req.method {
            case "PUT", "POST": return forwardOr(req) { self.put(key, req.body) }
            case "GET": return get(key, req)
            default: return error(405, "use GET or PUT on /v1/debug/kv/{key}")
            }
        }
        if path.hasPrefix("/v1/cluster/members/") {
            let rest = path.dropFirst("/v1/cluster/members/".count).split(separator: "/")
            guard let idText = rest.first, let id = UInt64(idText), id > 0 else { return error(400, "member id must be a positive integer") }
            if req.method == "POST", rest.count == 2, rest[1] == "promote" { return forwardOr(req) { self.confChange(.addVoter, id) } }
            if req.method == "DELETE", rest.count == 1 { return forwardOr(req) { self.confChange(.removeNode, id) } }
            return error(404, "use POST /v1/cluster/members/{id}/promote or DELETE /v1/cluster/members/{id}")
        }
        return error(404, "no route for \(req.method) \(path)")
    }

    func error(_ status: Int, _ message: String, _ extra: [(String, JSONValue)] = []) -> HTTPResponse {
        jsonError(status, message, extra)
    }

    func readiness() -> HTTPResponse {
        let r = node.report
        if r.status.leader == 0 { return error(503, "no leader known") }
        if r.appliedIndex < r.status.committed { return error(503, "applied \(r.appliedIndex) of \(r.status.committed) committed entries") }
        return .text("ready\n")
    }

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
        o["counters"] = .object(["readies": .number(String(r.readies)), "entriesPersisted": .number(String(r.entriesPersisted)),
                                 "messagesSent": .number(String(r.messagesSent)), "entriesApplied": .number(String(r.entriesApplied)),
                                 "persistMicros": .number(String(r.persistMicros)), "applyMicros": .number(String(r.applyMicros)),
                                 "leaderChanges": .number(String(r.leaderChanges))])
        var list = [JSONValue]()
        for id in r.status.conf.members where id != config.nodeId {
            var p = JSONObject()
            p["id"] = .number(String(id))
            if let m = r.peerMatch[id] {
                p["matchIndex"] = .number(String(m))
                p["lag"] = .number(String(r.status.lastIndex > m ? r.status.lastIndex - m : 0))
            } else {
                p["matchIndex"] = .null
                p["lag"] = .null
            }
            if let s = peers[id] {
                p["connected"] = .bool(s.connected)
                p["queuedMessages"] = .number(String(s.queued))
                p["droppedMessages"] = .number(String(s.dropped))
            }
            list.append(.object(p))
        }
        o["peers"] = .array(list)
        if let ix = indexerStatus() {
            func num(_ v: UInt64?) -> JSONValue { v.map { .number(String($0)) } ?? .null }
            func dbl(_ v: Double?) -> JSONValue { v.map { .number(String(format: "%.2f", $0)) } ?? .null }
            var i = JSONObject()
            i["chainId"] = .number(String(config.chain?.chainId ?? 0))
            i["state"] = .string(ix.state)
            i["upstream"] = .string(ix.upstream)
            i["upstreamHead"] = num(ix.upstreamHead)
            i["indexedHead"] = num(ix.indexedHead)
            i["lagBlocks"] = num(ix.lagBlocks)
            i["lagSeconds"] = dbl(ix.lagSeconds)
            i["blocksPerSecond"] = dbl(ix.blocksPerSecond)
            i["txPerSecond"] = dbl(ix.txPerSecond)
            i["etaSeconds"] = dbl(ix.etaSeconds)
            i["blocksIndexed"] = num(ix.blocksIndexed)
            i["reorgs"] = .number(String(ix.reorgs))
            i["refusedBlocks"] = .number(String(ix.refusedBlocks))
            i["stateSource"] = .string(ix.stateSource)
            i["lastAlert"] = ix.lastAlert.map { .string($0) } ?? .null
            if let cid = config.chain?.chainId, let h = try? node.stateMachine.chain.head(cid) {
                i["appliedHead"] = .number(String(h.number))
                i["appliedHeadHash"] = .string(h.hash.hex)
            }
            o["indexer"] = .object(i)
        }
        if let eth = reads.eth { o["rpc"] = eth.statusJSON }
        return o
    }

    /// URL of the leader's HTTP endpoint, when known.
    func leaderURL() -> String? {
        let leader = node.report.status.leader
        if leader == config.nodeId { return config.httpURL }
        if let p = config.peers.first(where: { $0.id == leader }) { return p.http }
        return ((try? node.stateMachine.allMembers()) ?? []).first { $0.id == leader }?.httpURL
    }

    /// Runs `local` on the leader; elsewhere forwards the request to the leader once.
    func forwardOr(_ req: HTTPRequest, _ local: () -> HTTPResponse) -> HTTPResponse {
        let leader = node.report.status.leader
        if leader == config.nodeId || req.header("X-Infrastack-Forwarded") != nil { return local() }
        guard leader != 0, let url = leaderURL() else { return error(503, "no leader known; retry shortly", [("retryable", .bool(true))]) }
        do {
            let client = try forwardClients.take(url)
            defer { forwardClients.give(back: client, url) }
            let r = try client.request(req.method, req.target, headers: [("X-Infrastack-Forwarded", String(config.nodeId)), ("Content-Type", req.header("Content-Type") ?? "application/octet-stream")], body: req.body)
            return HTTPResponse(status: r.status, headers: r.headers.filter { !["content-length", "connection", "x-infrastack-node", "x-infrastack-applied-index"].contains($0.name.lowercased()) } + [("X-Infrastack-Forwarded-To", String(leader))], body: r.body)
        } catch {
            return self.error(503, "forwarding to leader \(leader) at \(url) failed: \(error)", [("retryable", .bool(true))])
        }
    }

    func outcomeResponse(_ outcome: ReplicatedNode.ProposeOutcome) -> HTTPResponse {
        switch outcome {
        case .applied(let index): return .json("{\"index\":\(index),\"node\":\(config.nodeId)}\n")
        case .notLeader(let l): return error(503, "not the leader (leader is \(l)); retry", [("leaderId", .number(String(l))), ("retryable", .bool(true))])
        case .rejected(let why): return error(409, why, [("retryable", .bool(true))])
        case .timedOut: return error(504, "not applied within the timeout; the write may still commit", [("retryable", .bool(true))])
        }
    }

    func put(_ key: String, _ value: [UInt8]) -> HTTPResponse {
        outcomeResponse(node.propose(.put(key: key, value: value)))
    }

    func get(_ key: String, _ req: HTTPRequest) -> HTTPResponse {
        if req.query["consistency"] == "linearizable" {
            guard node.linearizableReadIndex() != nil else { return error(503, "could not confirm a linearizable read point; retry", [("retryable", .bool(true))]) }
        }
        do {
            guard let v = try node.stateMachine.get(key) else { return error(404, "key not found") }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: v)
        } catch {
            return self.error(500, "read failed: \(error)")
        }
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

    /// Adds a learner: first its addresses (replicated), then the configuration change.
    func addMember(_ req: HTTPRequest) -> HTTPResponse {
        guard let o = (try? JSON.parse(req.body))?.objectValue else { return error(400, "body must be a JSON object {id, raft, http}") }
        guard case .number(let n)? = o["id"], let id = UInt64(n), id > 0 else { return error(400, "id must be a positive integer") }
        guard let raft = o["raft"]?.stringValue, (try? SocketAddress(parsing: raft)) != nil else { return error(400, "raft must be host:port") }
        guard let http = o["http"]?.stringValue, http.hasPrefix("http://") else { return error(400, "http must be an http:// URL") }
        let first = node.propose(.setMember(.init(id: id, raftAddress: raft, httpURL: http)))
        guard case .applied = first else { return outcomeResponse(first) }
        return confChange(.addLearner, id)
    }

    func confChange(_ kind: ConfChange.Kind, _ id: UInt64) -> HTTPResponse {
        outcomeResponse(node.proposeConfChange(ConfChange(kind, node: id)))
    }
}

/// A small pool of kept-alive HTTP clients per URL, so forwarding does not pay a TCP
/// connect per request. A client is used by one thread at a time.
final class ClientPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [String: [HTTPClient]] = [:]

    func take(_ url: String) throws -> HTTPClient {
        lock.lock()
        if var list = idle[url], let c = list.popLast() { idle[url] = list; lock.unlock(); return c }
        lock.unlock()
        return try HTTPClient(url: url, timeoutMillis: 10_000)
    }

    func give(back c: HTTPClient, _ url: String) {
        lock.lock()
        defer { lock.unlock() }
        if idle[url, default: []].count < 64 { idle[url, default: []].append(c) }
    }
}

/// The node's error body, the same on every endpoint: {"error": message, …extra}.
func jsonError(_ status: Int, _ message: String, _ extra: [(String, JSONValue)] = []) -> HTTPResponse {
    var o: JSONObject = ["error": .string(message)]
    for (k, v) in extra { o[k] = v }
    return .json(JSON.serialize(.object(o)) + "\n", status: status)
}
