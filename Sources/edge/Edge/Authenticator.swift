import Net
import Tenancy

/// The identity seam: turns a request's credential into a `Principal`, or a refusal that
/// says what is missing. Today's credentials are API keys and the admin token; personal
/// tokens and OAuth plug in here without touching the handlers.
struct Authenticator: Sendable {
    let keys: APIKeys
    let adminToken: SecretDigests

    init(apiKeys: [String], adminToken: String?, tenantKey: @escaping @Sendable ([UInt8]) -> APIKeyRecord? = { _ in nil }) {
        keys = APIKeys(apiKeys, tenantKey: tenantKey)
        self.adminToken = SecretDigests(adminToken.map { [$0] } ?? [])
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
        case .allowed(let path, let credential, let org, let mayWrite):
            return .success((Principal(credential, role: .reader, organisation: org, mayWrite: mayWrite), path))
        case .denied(let why): return .failure(Refusal(status: 401, message: why))
        }
    }

    /// A cluster admin, by the admin token.
    func admin(_ req: HTTPRequest) -> Result<Principal, Refusal> {
        guard !adminToken.isEmpty else {
            return .failure(Refusal(status: 403, message: "admin endpoints are disabled: this node has no admin token (set adminToken, adminTokenFile or INFRASTACK_ADMIN_TOKEN)"))
        }
        guard let presented = Self.presentedAdminToken(req) else {
            return .failure(Refusal(status: 401, message: "an admin token is required: send Authorization: Bearer <token> or X-Infrastack-Admin-Token",
                                    challenge: "Bearer realm=\"infrastack-admin\""))
        }
        guard adminToken.match(presented) != nil else { return .failure(Refusal(status: 403, message: "the admin token is not valid")) }
        return .success(Principal(.adminToken, role: .clusterAdmin))
    }

    static func presentedAdminToken(_ req: HTTPRequest) -> String? {
        if let t = req.header("X-Infrastack-Admin-Token"), !t.isEmpty { return t }
        if let a = req.header("Authorization"), a.lowercased().hasPrefix("bearer "), a.count > 7 { return String(a.dropFirst(7)) }
        return nil
    }
}
