import Foundation
import Net
import RPC

/// Which handler a request is for, decided from method and path before anything else.
enum EdgeRoute: Equatable, Sendable {
    /// The admin plane: the cluster-admin token or a user's personal token.
    case admin
    /// JSON-RPC, GraphQL or REST over the chain: an API key (when keys are configured).
    case read(ReadGateway.Surface)
    /// Health, readiness, status and the member list: open on every listener.
    case node
    /// `GET /metrics`, on every listener: the metrics token or a cluster-admin credential.
    case metrics
    /// `GET /status`, on every listener: the public summary to anyone, the detailed JSON to
    /// those who may scrape /metrics.
    case status
}

/// A request as the pipeline knows it after authentication.
struct EdgeRequest: Sendable {
    let http: HTTPRequest
    let route: EdgeRoute
    /// The path with any `/k/<key>` prefix removed.
    let path: String
    let principal: Principal

    /// What a read asks for, as usage counts and the access log name it: the JSON-RPC method
    /// (`batch` for a batch), `graphql`, or `rest`; nil for other routes.
    var readMethod: String? {
        guard case .read(let surface) = route else { return nil }
        switch surface {
        case .jsonRPC: return JSONRPCServer.singleMethod(http.body) ?? "batch"
        case .graphQL: return "graphql"
        case .rest: return "rest"
        }
    }
}

/// The authenticate step's answer: the request to serve, or the refusal to send.
enum Authenticated: Sendable {
    case request(EdgeRequest)
    case refused(HTTPResponse)
}

/// Steps every authenticated request passes, whatever its surface: limits refuse, audit
/// records, metrics count. They see the principal, never a secret.
protocol EdgeHook: Sendable {
    /// A refusal, or nil to let the request on.
    func admit(_ request: EdgeRequest) -> HTTPResponse?
    /// `admit`, plus headers for the answer when the request goes on (a limit's remainder).
    func admitting(_ request: EdgeRequest) -> (refusal: HTTPResponse?, headers: [(String, String)])
    /// A refusal of one message (`body`) on an open WebSocket, or nil.
    func admitMessage(_ request: EdgeRequest, _ body: [UInt8]) -> RPCError?
    func completed(_ request: EdgeRequest, _ response: HTTPResponse)
    /// An admitted request whose inline attempt was abandoned: it runs again on a worker
    /// and passes the hooks again there, so what `admit` counted is taken back.
    func abandoned(_ request: EdgeRequest)
}

extension EdgeHook {
    func admitting(_ request: EdgeRequest) -> (refusal: HTTPResponse?, headers: [(String, String)]) { (admit(request), []) }
    func admitMessage(_ request: EdgeRequest, _ body: [UInt8]) -> RPCError? { nil }
    func abandoned(_ request: EdgeRequest) {}
}

/// The one way into the node over HTTP or WebSocket, in this order: route → authenticate
/// (a `Principal`) → hooks (limits, audit, metrics) → the handler, which for reads checks
/// the requested consistency before it answers. No surface authenticates on its own.
struct RequestPipeline: Sendable {
    let authenticator: Authenticator
    let hooks: [any EdgeHook]
    /// Whether a listener serves admin requests (false on the public one with `adminListen`).
    let servesAdmin: @Sendable (NodeAPI.Listener) -> Bool
    /// Refusals that come before identity: a disabled debug key-value store is 404 to all.
    let adminPrecheck: @Sendable (HTTPRequest) -> HTTPResponse?
    /// Answers by surface and status; nil in tests that need none.
    var metrics: EdgeMetrics? = nil

    func route(_ req: HTTPRequest, on listener: NodeAPI.Listener) -> EdgeRoute {
        if AdminAPI.owns(req.method, req.path) { return .admin }
        if req.path == "/metrics", req.method == "GET" || req.method == "HEAD" { return .metrics }
        if req.path == "/status", req.method == "GET" { return .status }
        guard listener == .api else { return .node }
        let keyed = req.path.hasPrefix("/k/")
        if let s = ReadGateway.surface(req.method, keyed ? Self.strippedKeyPath(req.path) : req.path) { return .read(s) }
        if keyed || req.header("Upgrade")?.lowercased() == "websocket" { return .read(.jsonRPC) }
        return .node
    }

    /// Authenticates `req` for its route. The result is the request to serve, or the
    /// refusal to send: in the surface's own error shape for reads.
    func authenticate(_ req: HTTPRequest, on listener: NodeAPI.Listener) -> Authenticated {
        let route = route(req, on: listener)
        switch route {
        case .admin:
            guard servesAdmin(listener) else {
                return .refused(jsonError(404, "admin endpoints are served on this node's admin address (adminListen), not here"))
            }
            if let refusal = adminPrecheck(req) { return .refused(refusal) }
            switch authenticator.admin(req) {
            case .success(let p): return .request(EdgeRequest(http: req, route: route, path: req.path, principal: p))
            case .failure(let r): return .refused(Self.response(r))
            }
        case .read(let surface):
            switch authenticator.reader(req) {
            case .success(let (p, path)): return .request(EdgeRequest(http: req, route: route, path: path, principal: p))
            case .failure(let r):
                if req.header("Upgrade")?.lowercased() == "websocket" { return .refused(Self.response(r)) }
                return .refused(ReadGateway.refusal(surface, r.status, .init(code: -32001, message: r.message)))
            }
        case .metrics:
            switch authenticator.scraper(req) {
            case .success(let p): return .request(EdgeRequest(http: req, route: route, path: req.path, principal: p))
            case .failure(let r): return .refused(Self.response(r))
            }
        case .status:
            // No credential is no error here: it asks for the public summary.
            guard Authenticator.presentedAdminToken(req) != nil else {
                return .request(EdgeRequest(http: req, route: route, path: req.path, principal: Principal(.open(address: APIKeys.host(req.remote)), role: .reader)))
            }
            switch authenticator.scraper(req, for: "the detailed /status") {
            case .success(let p): return .request(EdgeRequest(http: req, route: route, path: req.path, principal: p))
            case .failure(let r): return .refused(Self.response(r))
            }
        case .node:
            let open = Principal(.open(address: APIKeys.host(req.remote)), role: .reader)
            return .request(EdgeRequest(http: req, route: route, path: req.path, principal: open))
        }
    }

    /// Runs the whole pipeline for an HTTP request.
    func handle(_ req: HTTPRequest, on listener: NodeAPI.Listener, dispatch: (EdgeRequest) -> HTTPResponse) -> HTTPResponse {
        let started = DispatchTime.now().uptimeNanoseconds
        let request: EdgeRequest
        switch authenticate(req, on: listener) {
        case .refused(let refusal):
            metrics?.answered(route(req, on: listener), status: refusal.status, startedNanos: started)
            return refusal
        case .request(let r): request = r
        }
        precondition(request.route != .admin || request.principal.role >= .member, "admin routes need a cluster admin or a user")
        var headers = [(String, String)]()
        for hook in hooks {
            let (refusal, more) = hook.admitting(request)
            if let refusal {
                hook.completed(request, refusal)
                metrics?.answered(request.route, status: refusal.status, startedNanos: started)
                return refusal
            }
            headers += more
        }
        let answer = dispatch(request)
        if InlineAttempt.abandoned {
            for hook in hooks { hook.abandoned(request) }
            return answer
        }
        // Hooks see the final answer, also when it comes later (a write waiting for apply).
        return answer.map { [hooks, headers, metrics] response in
            var response = response
            response.headers += headers
            for hook in hooks { hook.completed(request, response) }
            metrics?.answered(request.route, status: response.status, startedNanos: started)
            return response
        }
    }

    /// The request head alone, before its body is read (the answer to `Expect: 100-continue`):
    /// admin requests without a valid credential are refused here.
    func earlyRefusal(_ head: HTTPRequest, on listener: NodeAPI.Listener) -> HTTPResponse? {
        guard route(head, on: listener) == .admin, servesAdmin(listener) else { return nil }
        if case .refused(let refusal) = authenticate(head, on: listener) { return refusal }
        return nil
    }

    static func strippedKeyPath(_ path: String) -> String {
        let rest = path.dropFirst(3).drop { $0 != "/" }
        return rest.isEmpty ? "/" : String(rest)
    }

    static func response(_ r: Authenticator.Refusal) -> HTTPResponse {
        var response = jsonError(r.status, r.message)
        if let c = r.challenge { response.headers.append(("WWW-Authenticate", c)) }
        return response
    }
}
