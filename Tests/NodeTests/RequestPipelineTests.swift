import Chain
import Net
import Tenancy
import Synchronization
import Testing
@testable import Edge

/// The edge pipeline on its own: every route authenticates once into a principal, hooks
/// see every authenticated request (and can refuse it before any handler runs), and
/// refusals keep each surface's error shape.
@Suite struct RequestPipelineTests {
    final class RecordingHook: EdgeHook, @unchecked Sendable {
        let refuseAll: Bool
        let seen = Mutex<[(route: EdgeRoute, caller: String, status: Int?)]>([])
        init(refuseAll: Bool = false) { self.refuseAll = refuseAll }
        func admit(_ request: EdgeRequest) -> HTTPResponse? {
            seen.withLock { $0.append((request.route, request.principal.caller, nil)) }
            return refuseAll ? jsonError(429, "slow down") : nil
        }
        func completed(_ request: EdgeRequest, _ response: HTTPResponse) {
            seen.withLock { $0.append((request.route, request.principal.caller, response.status)) }
        }
    }

    static func pipeline(keys: [String] = ["reader-key"], token: String? = "admin-secret", hooks: [any EdgeHook] = []) -> RequestPipeline {
        RequestPipeline(authenticator: Authenticator(apiKeys: keys, adminToken: token), hooks: hooks,
                        servesAdmin: { _ in true }, adminPrecheck: { _ in nil })
    }

    static func request(_ method: String, _ path: String, headers: [(name: String, value: String)] = []) -> HTTPRequest {
        var r = HTTPRequest(method: method, target: path, headers: [("Host", "x")] + headers)
        r.remote = "10.0.0.7:5555"
        return r
    }

    static func principal(_ outcome: Authenticated) -> Principal? {
        if case .request(let r) = outcome { return r.principal }
        return nil
    }

    static func refusal(_ outcome: Authenticated) -> HTTPResponse? {
        if case .refused(let r) = outcome { return r }
        return nil
    }

    @Test func everyRouteYieldsOnePrincipal() throws {
        let p = Self.pipeline()
        let byHeader = try #require(Self.principal(p.authenticate(Self.request("POST", "/", headers: [("X-API-Key", "reader-key")]), on: .api)))
        #expect(byHeader.role == .reader)
        guard case .apiKey(let fingerprint) = byHeader.credential else { Issue.record("not an API key principal"); return }
        #expect(!fingerprint.contains("reader-key") && byHeader.caller == fingerprint, "the caller name never carries the secret")
        // The same key in the path prefix is the same principal, and the prefix is stripped.
        guard case .request(let keyed) = p.authenticate(Self.request("POST", "/k/reader-key/graphql"), on: .api) else { Issue.record("refused"); return }
        #expect(keyed.principal == byHeader && keyed.path == "/graphql" && keyed.route == .read(.graphQL))
        let admin = try #require(Self.principal(p.authenticate(Self.request("PUT", "/v1/debug/kv/a", headers: [("Authorization", "Bearer admin-secret")]), on: .api)))
        #expect(admin == Principal(.adminToken, role: .clusterAdmin) && admin.caller == "admin")
        let open = try #require(Self.principal(Self.pipeline(keys: []).authenticate(Self.request("POST", "/"), on: .api)))
        #expect(open == Principal(.open(address: "10.0.0.7"), role: .reader))
        let health = try #require(Self.principal(p.authenticate(Self.request("GET", "/healthz"), on: .api)))
        #expect(health.role == .reader, "node routes are open")
    }

    @Test func refusalsNameWhatIsMissingInEachSurfacesShape() throws {
        let p = Self.pipeline()
        let rpc = try #require(Self.refusal(p.authenticate(Self.request("POST", "/"), on: .api)))
        #expect(rpc.status == 401)
        let envelope = try JSON.parse(rpc.body)
        #expect(envelope["error"]?["code"] == .number("-32001"), "JSON-RPC refusals are JSON-RPC errors")
        let rest = try #require(Self.refusal(p.authenticate(Self.request("GET", "/v1/chain/head", headers: [("X-API-Key", "wrong")]), on: .api)))
        let restError = try JSON.parse(rest.body)["error"]?.stringValue
        #expect(rest.status == 401 && restError == "unknown API key")
        let noToken = try #require(Self.refusal(p.authenticate(Self.request("DELETE", "/v1/cluster/members/2"), on: .admin)))
        #expect(noToken.status == 401 && noToken.headers.contains { $0.name == "WWW-Authenticate" })
        let wrongToken = try #require(Self.refusal(p.authenticate(Self.request("DELETE", "/v1/cluster/members/2", headers: [("X-Infrastack-Admin-Token", "nope")]), on: .admin)))
        #expect(wrongToken.status == 401)
        // An API key is not an admin credential.
        let keyAsAdmin = try #require(Self.refusal(p.authenticate(Self.request("PUT", "/v1/debug/kv/a", headers: [("Authorization", "Bearer reader-key")]), on: .api)))
        #expect(keyAsAdmin.status == 401)
        let tokenless = try #require(Self.refusal(Self.pipeline(token: nil).authenticate(Self.request("PUT", "/v1/debug/kv/a"), on: .api)))
        #expect(tokenless.status == 401)
        #expect(p.earlyRefusal(Self.request("PUT", "/v1/debug/kv/a"), on: .api)?.status == 401, "refused from the head alone")
        #expect(p.earlyRefusal(Self.request("POST", "/"), on: .api) == nil, "reads are decided with their body")
    }

    @Test func hooksSeeEveryAuthenticatedRequestAndMayRefuseIt() {
        let recorder = RecordingHook()
        let p = Self.pipeline(hooks: [recorder])
        var dispatched = 0
        let ok = p.handle(Self.request("POST", "/", headers: [("X-API-Key", "reader-key")]), on: .api) { _ in dispatched += 1; return .text("ok") }
        let refused = p.handle(Self.request("POST", "/"), on: .api) { _ in dispatched += 1; return .text("ok") }
        #expect(ok.status == 200 && refused.status == 401 && dispatched == 1)
        let seen = recorder.seen.withLock { $0 }
        #expect(seen.count == 2, "an unauthenticated request never reaches the hooks: \(seen)")
        #expect(seen.last?.status == 200 && seen.allSatisfy { $0.route == .read(.jsonRPC) && $0.caller.hasPrefix("key:") })

        let gate = RecordingHook(refuseAll: true)
        let gated = Self.pipeline(hooks: [gate, recorder])
        let limited = gated.handle(Self.request("PUT", "/v1/debug/kv/a", headers: [("Authorization", "Bearer admin-secret")]), on: .api) { _ in
            dispatched += 1; return .text("ok")
        }
        #expect(limited.status == 429 && dispatched == 1, "a refusing hook stops the request before its handler")
        #expect(gate.seen.withLock { $0.map(\.status) } == [nil, 429])
        #expect(recorder.seen.withLock { $0.count } == 2, "hooks after the refusing one never see it")
    }

    /// An organisation key's request whose inline attempt is abandoned counts once, on the
    /// worker that runs it again, not twice; the abandoned run completes no hook.
    @Test func anAbandonedInlineAttemptIsNotCounted() throws {
        let limiter = ClusterRateLimiter(selfId: 1, windowMillis: 60_000)
        let limits = RateLimitHook(limiter: limiter, defaultPerMinute: 3, members: { [1] }, now: { 1_000 })
        let recorder = RecordingHook()
        let p = RequestPipeline(authenticator: Authenticator(apiKeys: [], adminToken: nil, tenantKey: { _ in
            APIKeyRecord(id: 9, org: 4, name: "k", secretHash: [], createdBy: 0, createdMillis: 0)
        }), hooks: [limits, recorder], servesAdmin: { _ in true }, adminPrecheck: { _ in nil })
        let req = Self.request("POST", "/", headers: [("X-API-Key", "isk_anything")])
        for _ in 0..<5 {
            let attempt = InlineAttempt.run { p.handle(req, on: .api) { _ in (try? InlineAttempt.mayBlock()) == nil ? .text("blocked") : .text("inline") } }
            #expect(attempt == nil, "abandoned")
        }
        #expect(recorder.seen.withLock { $0.allSatisfy { $0.status == nil } }, "no abandoned run completes")
        let statuses = (0..<4).map { _ in p.handle(req, on: .api) { _ in .text("ok") }.status }
        #expect(statuses == [200, 200, 200, 429], "three a minute, the abandoned attempts not among them: \(statuses)")
    }
}
