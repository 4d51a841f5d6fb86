import Hashing
import Net
import Tenancy

/// The identity seam: turns a request's credential into a `Principal`, or a refusal that
/// says what is missing. The credentials are API keys (reads), the configured admin token
/// and users' personal tokens (the admin plane); OAuth plugs in here without touching the
/// handlers.
struct Authenticator: Sendable {
    let keys: APIKeys
    let adminToken: SecretDigests
    let metricsToken: SecretDigests
    /// Whether the node was given no admin and no metrics token (development): /metrics is open.
    let metricsOpen: Bool
    /// The user a personal token (by its SHA-256) belongs to, from the tenant tables.
    let userByToken: @Sendable ([UInt8]) -> User?

    init(apiKeys: [String], adminToken: String?, metricsToken: String? = nil, tenantKey: @escaping @Sendable ([UInt8]) -> APIKeyRecord? = { _ in nil },
         userByToken: @escaping @Sendable ([UInt8]) -> User? = { _ in nil }) {
        keys = APIKeys(apiKeys, tenantKey: tenantKey)
        self.adminToken = SecretDigests(adminToken.map { [$0] } ?? [])
        self.metricsToken = SecretDigests(metricsToken.map { [$0] } ?? [])
        metricsOpen = adminToken == nil && metricsToken == nil
        self.userByToken = userByToken
    }

    struct Refusal: Error, Equatable {
        let status: Int
        let message: String
        /// `WWW-Authenticate` challenge to send with a 401.
        var challenge: String? = nil
    }

    /// A reader of the chain surfaces, and the path with any `/k/<key>` prefix removed.
    func reader(_ req: HTTPRequest) -> Result<(principal: Principal, path: String), Refusal> {
        switch keys.check(req) {
        case .allowed(let path, let credential, let org, let mayWrite, let rate):
            return .success((Principal(credential, role: .reader, organisation: org, mayWrite: mayWrite, ratePerMinute: rate), path))
        case .denied(let why): return .failure(Refusal(status: 401, message: why))
        }
    }

    /// A user of the admin plane: the configured admin token (a cluster admin), or a user's
    /// personal token (a cluster admin when the user is one, else a member whose rights
    /// `AdminAccess` decides per organisation).
    func admin(_ req: HTTPRequest) -> Result<Principal, Refusal> {
        guard let presented = Self.presentedAdminToken(req) else {
            return .failure(Refusal(status: 401, message: "a token is required: send Authorization: Bearer <token> (a personal token or the cluster-admin token) or X-Infrastack-Admin-Token",
                                    challenge: "Bearer realm=\"infrastack-admin\""))
        }
        if adminToken.match(presented) != nil { return .success(Principal(.adminToken, role: .clusterAdmin)) }
        if let u = userByToken(SHA256.hash(Array(presented.utf8))) {
            return .success(Principal(.user(id: u.id), role: u.clusterAdmin ? .clusterAdmin : .member))
        }
        return .failure(Refusal(status: 401, message: "the token is not valid: unknown, replaced by a newer one, or its user was removed",
                                challenge: "Bearer realm=\"infrastack-admin\", error=\"invalid_token\""))
    }

    /// A scraper of /metrics (or a reader of the detailed /status, `what`): the metrics token,
    /// the admin token or a cluster admin's personal token; anyone on a node configured with
    /// neither token.
    func scraper(_ req: HTTPRequest, for what: String = "/metrics") -> Result<Principal, Refusal> {
        let challenge = "Bearer realm=\"infrastack-metrics\""
        guard let presented = Self.presentedAdminToken(req) else {
            if metricsOpen { return .success(Principal(.open(address: APIKeys.host(req.remote)), role: .reader)) }
            return .failure(Refusal(status: 401, message: "a token is required for \(what): send Authorization: Bearer <token> (the metrics token, the admin token or a cluster admin's personal token)",
                                    challenge: challenge))
        }
        if metricsToken.match(presented) != nil { return .success(Principal(.metricsToken, role: .reader)) }
        if case .success(let p) = admin(req), p.role == .clusterAdmin { return .success(p) }
        if metricsOpen { return .success(Principal(.open(address: APIKeys.host(req.remote)), role: .reader)) }
        return .failure(Refusal(status: 401, message: "the token may not read \(what): it is not the metrics token, the admin token or a cluster admin's",
                                challenge: challenge + ", error=\"invalid_token\""))
    }

    static func presentedAdminToken(_ req: HTTPRequest) -> String? {
        if let t = req.header("X-Infrastack-Admin-Token"), !t.isEmpty { return t }
        if let a = req.header("Authorization"), a.lowercased().hasPrefix("bearer "), a.count > 7 { return String(a.dropFirst(7)) }
        return nil
    }
}
