import ByteCodec
import Chain
import Net
import RPC
import Synchronization

/// The cluster-wide limit on organisations' API keys (`ClusterRateLimiter`), as a pipeline
/// step: every request on the read surfaces, every WebSocket upgrade and every message on
/// an open WebSocket counts. Admitted answers carry `RateLimit-Limit`, `RateLimit-Remaining`
/// and `RateLimit-Reset`; a refusal is HTTP 429 with those and `Retry-After`, in the
/// surface's shape (JSON-RPC error -32005 with the same facts in `data`). Config-file keys
/// and open nodes are development access and not limited.
final class RateLimitHook: EdgeHook {
    let limiter: ClusterRateLimiter
    /// The node's default, for keys whose organisation sets none.
    let defaultPerMinute: UInt32
    /// The cluster's node set, this node included.
    let members: @Sendable () -> Set<UInt64>
    let now: @Sendable () -> UInt64

    static let code = -32005

    /// `members`, re-read at most every 100 ms: the node set changes with membership only,
    /// and building it from the node's report on every request costs more than the count.
    private let cachedMembers = Mutex<(at: UInt64, set: Set<UInt64>)>((0, []))

    init(limiter: ClusterRateLimiter, defaultPerMinute: UInt32, members: @escaping @Sendable () -> Set<UInt64>, now: @escaping @Sendable () -> UInt64 = unixMillis) {
        self.limiter = limiter
        self.defaultPerMinute = defaultPerMinute
        self.members = members
        self.now = now
    }

    func currentMembers(_ nowMillis: UInt64) -> Set<UInt64> {
        if let fresh = cachedMembers.withLock({ $0.at + 100 > nowMillis && !$0.set.isEmpty ? $0.set : nil }) { return fresh }
        let set = members()
        cachedMembers.withLock { $0 = (nowMillis, set) }
        return set
    }

    func decide(_ request: EdgeRequest) -> ClusterRateLimiter.Decision? {
        guard case .read = request.route, case .tenantKey(let id) = request.principal.credential else { return nil }
        let perMinute = request.principal.ratePerMinute == 0 ? defaultPerMinute : request.principal.ratePerMinute
        let t = now()
        return limiter.admit(key: id, limit: limiter.perWindow(perMinute), members: currentMembers(t), nowMillis: t)
    }

    func admit(_ request: EdgeRequest) -> HTTPResponse? { admitting(request).refusal }

    func admitting(_ request: EdgeRequest) -> (refusal: HTTPResponse?, headers: [(String, String)]) {
        guard let d = decide(request) else { return (nil, []) }
        let headers = Self.headers(d)
        guard !d.allowed else { return (nil, headers) }
        var r: HTTPResponse
        if case .read(let surface) = request.route, surface == .jsonRPC || request.http.header("Upgrade") != nil {
            r = HTTPResponse(status: 429, headers: [("Content-Type", "application/json")], body: JSONRPCServer.envelope(id: .null, error: error(d)))
        } else {
            r = jsonError(429, message(d), facts(d))
        }
        r.headers += headers + [("Retry-After", String(Self.seconds(d.resetMillis)))]
        return (r, [])
    }

    func admitMessage(_ request: EdgeRequest, _ body: [UInt8]) -> RPCError? {
        guard let d = decide(request), !d.allowed else { return nil }
        return error(d)
    }

    func completed(_ request: EdgeRequest, _ response: HTTPResponse) {}

    func abandoned(_ request: EdgeRequest) {
        guard case .read = request.route, case .tenantKey(let id) = request.principal.credential else { return }
        limiter.refund(key: id, nowMillis: now())
    }

    func error(_ d: ClusterRateLimiter.Decision) -> RPCError {
        var data = JSONObject()
        for (k, v) in facts(d) { data[k] = v }
        return RPCError(code: Self.code, message: message(d), data: .object(data))
    }

    func message(_ d: ClusterRateLimiter.Decision) -> String {
        "rate limit exceeded: this API key may make \(d.limit) requests per \(limiter.windowMillis / 1000) s across the cluster; retry in \(Self.seconds(d.resetMillis)) s"
    }

    func facts(_ d: ClusterRateLimiter.Decision) -> [(String, JSONValue)] {
        [("limit", .number(String(d.limit))), ("remaining", .number(String(d.remaining))), ("windowSeconds", .number(String(limiter.windowMillis / 1000))),
         ("resetSeconds", .number(String(Self.seconds(d.resetMillis)))), ("retryAfterSeconds", .number(String(Self.seconds(d.resetMillis))))]
    }

    static func headers(_ d: ClusterRateLimiter.Decision) -> [(String, String)] {
        [("RateLimit-Limit", String(d.limit)), ("RateLimit-Remaining", String(d.remaining)), ("RateLimit-Reset", String(seconds(d.resetMillis)))]
    }

    /// Whole seconds, rounded up: a client that waits this long is in the next window.
    static func seconds(_ millis: UInt64) -> UInt64 { max(1, (millis + 999) / 1000) }
}
