import ByteCodec
import Chain
import Net
import StateMachine
import Storage
import Tenancy

/// Users and their personal tokens, behind `infrastack user` and `infrastack whoami`:
///
///   GET    /v1/users                  every user and their memberships (cluster admins)
///   POST   /v1/users                  create {name, clusterAdmin?} → 201 with the token, shown this once
///   GET    /v1/users/{id}
///   DELETE /v1/users/{id}             remove everywhere: memberships, and the token stops working
///   POST   /v1/users/{id}/token       a new token; the old one stops working when this applies
///   GET    /v1/me                     who the presented token is, and where it may act (anyone)
///   POST   /v1/me/token               a user replaces their own token
///
/// Tokens are `ist_` and 64 hex digits (256 random bits); only their SHA-256 is stored.
/// Organisation admins add people with `POST /v1/orgs/{id}/members` instead.
struct UserAdmin: Sendable {
    let node: ChainNode

    static let prefix = "/v1/users"
    static let me = "/v1/me"
    static let tokenPrefix = "ist_"

    static func owns(_ path: String) -> Bool {
        path == prefix || path.hasPrefix(prefix + "/") || path == me || path == me + "/token"
    }

    func handle(_ req: HTTPRequest, _ access: AdminAccess, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        if req.path == Self.me { return req.method == "GET" ? whoami(access) : jsonError(405, "use GET on \(Self.me)") }
        if req.path == Self.me + "/token" {
            guard req.method == "POST" else { return jsonError(405, "use POST on \(Self.me)/token") }
            guard let user = access.principal.user else {
                return jsonError(400, "the configured admin token is not a user's: change it in the node's configuration (adminToken, adminTokenFile)")
            }
            return forward { newToken(user) }
        }
        if let refusal = access.requireClusterAdmin("manage users (organisation admins: /v1/orgs/{id}/members)") { return refusal }
        if req.path == Self.prefix {
            switch req.method {
            case "GET": return list(req)
            case "POST":
                guard let o = (try? JSON.parse(req.body))?.objectValue else { return jsonError(400, "body must be a JSON object {name, clusterAdmin?}") }
                for k in o.keys where !["name", "clusterAdmin"].contains(k) { return jsonError(400, "unknown field \(boundedQuote(k)) (known: name, clusterAdmin)") }
                guard let name = o["name"]?.stringValue else { return jsonError(400, "name is required: a string") }
                if let why = TenantDirectory.nameProblem(name) { return jsonError(400, "name \(why)") }
                var admin = false
                if let a = o["clusterAdmin"] {
                    guard case .bool(let b) = a else { return jsonError(400, "clusterAdmin must be true or false") }
                    admin = b
                }
                return forward { create(name, clusterAdmin: admin) }
            default: return jsonError(405, "use GET or POST on \(Self.prefix)")
            }
        }
        let rest = req.path.dropFirst(Self.prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let id = OrgAdmin.parseId(rest[0]), let user = (try? node.stateMachine.tenantView({ d, txn in try d.user(id, txn) })) ?? nil else {
            return jsonError(404, "no user \(boundedQuote(rest[0]))")
        }
        switch (req.method, rest.count == 2 ? rest[1] : nil) {
        case ("GET", nil) where rest.count == 1: return .json(JSON.serialize(json(user)) + "\n")
        case ("DELETE", nil) where rest.count == 1:
            if access.principal.user == id { return jsonError(409, "you cannot remove yourself (another cluster admin can)") }
            return forward {
                proposeTenantChange(node, .removeUser(user: id), raced: "the user changed meanwhile",
                                    stored: { d, txn in try d.user(id, txn) == nil ? true : nil }) { _, index in
                    .json("{\"ok\":true,\"index\":\(index),\"message\":\(jsonQuote("user \(user.name) removed; their token no longer works"))}\n")
                }
            }
        case ("POST", "token"): return forward { newToken(id) }
        default: return jsonError(405, "use GET or DELETE on \(Self.prefix)/{id}, POST on \(Self.prefix)/{id}/token")
        }
    }

    func json(_ u: User) -> JSONValue {
        let memberships = (try? node.stateMachine.tenantView { d, txn in try d.memberships(of: u.id, txn) }) ?? []
        return .object(["id": .string(OrgAdmin.idText(u.id)), "name": .string(u.name), "clusterAdmin": .bool(u.clusterAdmin),
                        "createdAt": .string(OrgAdmin.iso8601(u.createdMillis)),
                        "memberships": .array(memberships.map { .object(["org": .string(OrgAdmin.idText($0.org)), "role": .string($0.role.name)]) })])
    }

    func list(_ req: HTTPRequest) -> HTTPResponse {
        do {
            let users = try node.stateMachine.tenantView { d, txn in try d.users(txn) }
            switch AdminPage.parse(req.query) {
            case .failure(let e): return e.response
            case .success(let page): return page.answer(users, id: \.id, field: "users", json)
            }
        } catch {
            return jsonError(500, "cannot read the users: \(error)")
        }
    }

    func create(_ name: String, clusterAdmin: Bool) -> HTTPResponse {
        let (token, hash) = newTenantSecret(prefix: Self.tokenPrefix)
        let user = User(id: UInt64.random(in: 2...UInt64.max), name: name, tokenHash: hash, clusterAdmin: clusterAdmin, createdMillis: unixMillis())
        return proposeTenantChange(node, .createUser(user), raced: "the user could not be created (an id or token clash); retry",
                                   stored: { d, txn in try d.user(user.id, txn) == user ? user : nil }) { u, _ in
            var o = json(u).objectValue ?? [:]
            o["token"] = .string(token)
            return .json(JSON.serialize(.object(o)) + "\n", status: 201)
        }
    }

    func newToken(_ id: UInt64) -> HTTPResponse {
        let (token, hash) = newTenantSecret(prefix: Self.tokenPrefix)
        return proposeTenantChange(node, .setUserToken(user: id, tokenHash: hash), raced: "the user is gone or changed meanwhile",
                                   stored: { d, txn in try d.user(id, txn).flatMap { $0.tokenHash == hash ? $0 : nil } }) { u, _ in
            var o = json(u).objectValue ?? [:]
            o["token"] = .string(token)
            return .json(JSON.serialize(.object(o)) + "\n")
        }
    }

    func whoami(_ access: AdminAccess) -> HTTPResponse {
        guard let id = access.principal.user else {
            return .json(JSON.serialize(.object(["credential": .string("admin-token"), "clusterAdmin": .bool(true), "memberships": .array([])])) + "\n")
        }
        guard let user = (try? node.stateMachine.tenantView({ d, txn in try d.user(id, txn) })) ?? nil else {
            return jsonError(401, "the token's user was removed")
        }
        var o = json(user).objectValue ?? [:]
        o["credential"] = .string("personal-token")
        return .json(JSON.serialize(.object(o)) + "\n")
    }
}
