import ByteCodec
import Chain
import Foundation
import Hashing
import Net
import StateMachine
import Storage
import Tenancy

/// Organisations' API keys, the admin endpoints behind `infrastack key`. Any member may
/// create keys for their organisation; its admins (and cluster admins) manage all of them,
/// operators read all of them, operators and developers change only the keys they created,
/// and developers see only those:
///
///   GET    /v1/api-keys?org=ID         an organisation's keys (never a secret), revoked ones too
///   POST   /v1/api-keys                create {org, name, permissions?, origins?, cidrs?, rateLimitPerMinute?}
///                                      → 201 with the secret, shown this once
///   GET    /v1/api-keys/{id}
///   DELETE /v1/api-keys/{id}           revoke: refused on every node as soon as it applies there
///   POST   /v1/api-keys/{id}/rotate    a new secret {graceSeconds?}: the old one works until then
///   GET    /v1/api-keys/{id}/usage?since=MS&until=MS   calls and errors per minute and method
///                                      (default: the last hour), replicated every 10 s
///
/// Only the SHA-256 of a secret is stored. Secrets are `isk_` and 64 hex digits (256 random bits).
struct KeyAdmin: Sendable {
    let node: ChainNode

    static let prefix = "/v1/api-keys"
    static let defaultGraceSeconds = 86_400
    static let maxGraceSeconds = 30 * 86_400

    static func owns(_ path: String) -> Bool { path == prefix || path.hasPrefix(prefix + "/") }

    func handle(_ req: HTTPRequest, _ access: AdminAccess, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        if req.path == Self.prefix {
            switch req.method {
            case "GET": return list(req, access)
            case "POST":
                switch Self.parseCreate(req.body) {
                case .failure(let why): return jsonError(400, why.description)
                case .success(var draft):
                    guard access.sees(draft.org) else { return jsonError(404, "no organisation \(OrgAdmin.idText(draft.org))") }
                    draft.createdBy = access.principal.user ?? 0
                    return forward { create(draft) }
                }
            default: return jsonError(405, "use GET or POST on \(Self.prefix)")
            }
        }
        let rest = req.path.dropFirst(Self.prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let id = OrgAdmin.parseId(rest[0]), let key = (try? node.stateMachine.tenantView({ d, txn in try d.key(id, txn) })) ?? nil,
              access.sees(key.org) else {
            return jsonError(404, "no API key \(boundedQuote(rest[0]))")
        }
        if let refusal = Self.refusal(key, access, req.method == "GET" ? .read : .change) { return refusal }
        switch (req.method, rest.count == 2 ? rest[1] : nil) {
        case ("GET", nil): return .json(JSON.serialize(json(key)) + "\n")
        case ("GET", "usage"): return usage(key, req)
        case ("DELETE", nil):
            guard key.revokedMillis == nil else { return jsonError(409, "API key \(key.name) is revoked already") }
            let now = unixMillis()
            return forward { propose(.revokeKey(key: id, atMillis: now), check: { d, txn in try d.key(id, txn)?.revokedMillis == now }) { _ in
                .json("{\"ok\":true,\"message\":\(jsonQuote("API key \(key.name) revoked"))}\n")
            } }
        case ("POST", "rotate"):
            guard key.revokedMillis == nil else { return jsonError(409, "API key \(key.name) is revoked") }
            var grace = Self.defaultGraceSeconds
            if !req.body.isEmpty {
                guard let o = (try? JSON.parse(req.body))?.objectValue else { return jsonError(400, "body must be a JSON object {graceSeconds?}") }
                for k in o.keys where k != "graceSeconds" { return jsonError(400, "unknown field \(boundedQuote(k)) (known: graceSeconds)") }
                if let g = o["graceSeconds"] {
                    guard case .number(let n) = g, let v = Int(n), (0...Self.maxGraceSeconds).contains(v) else {
                        return jsonError(400, "graceSeconds must be 0 to \(Self.maxGraceSeconds)")
                    }
                    grace = v
                }
            }
            let (secret, hash) = Self.newSecret()
            let until = unixMillis() + UInt64(grace) * 1000
            return forward { propose(.rotateKey(key: id, newHash: hash, previousValidUntilMillis: until), check: { d, txn in try d.key(id, txn)?.secretHash == hash }) { k in
                var o = Self.json(k).objectValue ?? [:]
                o["secret"] = .string(secret)
                return .json(JSON.serialize(.object(o)) + "\n")
            } }
        default:
            return jsonError(405, "use GET or DELETE on \(Self.prefix)/{id}, POST on \(Self.prefix)/{id}/rotate, GET on \(Self.prefix)/{id}/usage")
        }
    }

    struct Draft: Sendable {
        var org: UInt64
        var name: String
        var permissions: KeyPermissions = .read
        var origins: [String] = []
        var cidrs: [String] = []
        var rate: UInt32 = 0
        var createdBy: UInt64 = 0
    }

    enum Use { case read, change }

    /// nil when the principal may `use` `key` (of an organisation they see): admins every
    /// key, operators read every key, anyone the keys they created.
    static func refusal(_ key: APIKeyRecord, _ access: AdminAccess, _ use: Use) -> HTTPResponse? {
        guard !access.isClusterAdmin, let role = access.role(in: key.org), role != .admin else { return nil }
        if key.createdBy != 0, key.createdBy == access.principal.user { return nil }
        if role == .operator, use == .read { return nil }
        let action = use == .read ? "reading another member's API key" : "changing another member's API key"
        return jsonError(403, "\(action) needs the role admin in the organisation; you are \(role.name) and may manage your own keys",
                         [("role", .string(role.name))])
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    static let createFields = ["org", "name", "permissions", "origins", "cidrs", "rateLimitPerMinute"]

    static func parseCreate(_ body: [UInt8]) -> Result<Draft, Problem> {
        func fail(_ s: String) -> Result<Draft, Problem> { .failure(Problem(description: s)) }
        guard let o = (try? JSON.parse(body))?.objectValue else { return fail("body must be a JSON object {org, name, permissions?, origins?, cidrs?, rateLimitPerMinute?}") }
        for k in o.keys where !createFields.contains(k) { return fail("unknown field \(boundedQuote(k)) (known: \(createFields.joined(separator: ", ")))") }
        guard let orgText = o["org"]?.stringValue, let org = OrgAdmin.parseId(orgText) else { return fail("org is required: an organisation id (16 hex digits)") }
        guard let name = o["name"]?.stringValue else { return fail("name is required: a string") }
        if let why = TenantDirectory.nameProblem(name) { return fail("name \(why)") }
        var d = Draft(org: org, name: name)
        if let p = o["permissions"] {
            guard let s = p.stringValue, let perms = KeyPermissions.allCases.first(where: { $0.name == s }) else {
                return fail("permissions must be \"read\" or \"read+write\"")
            }
            d.permissions = perms
        }
        func strings(_ field: String) -> [String]? {
            guard let v = o[field] else { return [] }
            guard let a = v.arrayValue, a.count <= 64 else { return nil }
            let s = a.compactMap(\.stringValue)
            return s.count == a.count ? s : nil
        }
        guard let origins = strings("origins") else { return fail("origins must be a list of at most 64 strings") }
        for origin in origins where !(origin.hasPrefix("https://") || origin.hasPrefix("http://")) || origin.utf8.count > 253 || origin.dropFirst(8).contains("/") {
            return fail("origins: \(boundedQuote(origin)) is not an origin (scheme://host[:port], no path)")
        }
        guard let cidrs = strings("cidrs") else { return fail("cidrs must be a list of at most 64 strings") }
        for cidr in cidrs where CIDR(cidr) == nil { return fail("cidrs: \(boundedQuote(cidr)) is not a CIDR (like 10.0.0.0/8 or 2001:db8::/32)") }
        d.origins = origins
        d.cidrs = cidrs
        if let r = o["rateLimitPerMinute"] {
            guard case .number(let n) = r, let v = UInt32(n), (1...1_000_000).contains(v) else { return fail("rateLimitPerMinute must be 1 to 1000000") }
            d.rate = v
        }
        return .success(d)
    }

    static func newSecret() -> (secret: String, hash: [UInt8]) { newTenantSecret(prefix: APIKeys.tenantPrefix) }

    static func json(_ k: APIKeyRecord) -> JSONValue {
        var o: JSONObject = ["id": .string(OrgAdmin.idText(k.id)), "org": .string(OrgAdmin.idText(k.org)), "name": .string(k.name),
                             "permissions": .string(k.permissions.name), "origins": .array(k.origins.map { .string($0) }),
                             "cidrs": .array(k.cidrs.map { .string($0) }), "createdAt": .string(OrgAdmin.iso8601(k.createdMillis))]
        o["rateLimitPerMinute"] = k.ratePerMinute == 0 ? .null : .number(String(k.ratePerMinute))
        o["createdBy"] = k.createdBy == 0 ? .null : .string(OrgAdmin.idText(k.createdBy))
        o["previousSecretValidUntil"] = k.previousHash != nil && k.previousValidUntilMillis > unixMillis() ? .string(OrgAdmin.iso8601(k.previousValidUntilMillis)) : .null
        o["revokedAt"] = k.revokedMillis.map { .string(OrgAdmin.iso8601($0)) } ?? .null
        return .object(o)
    }

    /// The key as the API shows it, with its latest use from the usage tables.
    func json(_ k: APIKeyRecord) -> JSONValue {
        var o = Self.json(k).objectValue ?? [:]
        let used = (try? node.stateMachine.tenantView { d, txn in try d.usage.lastUsed(k.id, txn) }) ?? nil
        o["lastUsedAt"] = used.map { .string(OrgAdmin.iso8601($0)) } ?? .null
        return .object(o)
    }

    static let maxUsageRows = 10_000

    func usage(_ key: APIKeyRecord, _ req: HTTPRequest) -> HTTPResponse {
        let now = unixMillis()
        let q = req.query
        let bad = jsonError(400, "since and until must be Unix milliseconds, since before until")
        var until = now
        if let u = q["until"] { guard let v = UInt64(u) else { return bad }; until = v }
        var since = until > 3_600_000 ? until - 3_600_000 : 0
        if let s = q["since"] { guard let v = UInt64(s) else { return bad }; since = v }
        guard since <= until else { return bad }
        do {
            let rows = try node.stateMachine.tenantView { d, txn in
                try d.usage.rows(of: key.id, since: since / 60_000, until: until / 60_000 + 1, limit: Self.maxUsageRows, txn)
            }
            var totals = [String: (UInt64, UInt64)]()
            for r in rows { let t = totals[r.method] ?? (0, 0); totals[r.method] = (t.0 + r.calls, t.1 + r.errors) }
            var t = JSONObject()
            for (m, v) in totals { t[m] = .object(["calls": .number(String(v.0)), "errors": .number(String(v.1))]) }
            let minutes: [JSONValue] = rows.map { r in
                .object(["minute": .string(OrgAdmin.iso8601(r.minute * 60_000)), "method": .string(r.method),
                         "calls": .number(String(r.calls)), "errors": .number(String(r.errors))])
            }
            return .json(JSON.serialize(.object(["key": .string(OrgAdmin.idText(key.id)), "lastUsedAt": json(key)["lastUsedAt"] ?? .null,
                                                 "since": .string(OrgAdmin.iso8601(since)), "until": .string(OrgAdmin.iso8601(until)),
                                                 "totals": .object(t), "minutes": .array(minutes), "truncated": .bool(rows.count == Self.maxUsageRows)])) + "\n")
        } catch {
            return jsonError(500, "cannot read the usage: \(error)")
        }
    }

    func list(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        guard let orgText = req.query["org"], let org = OrgAdmin.parseId(orgText) else {
            return jsonError(400, "org is required: GET \(Self.prefix)?org=<organisation id>")
        }
        guard access.sees(org) else { return jsonError(404, "no organisation \(orgText)") }
        do {
            let all: [APIKeyRecord]? = try node.stateMachine.tenantView { d, txn in try d.organisation(org, txn) == nil ? nil : try d.keys(of: org, txn) }
            guard let all else { return jsonError(404, "no organisation \(orgText)") }
            let keys = all.filter { Self.refusal($0, access, .read) == nil }
            switch AdminPage.parse(req.query) {
            case .failure(let e): return e.response
            case .success(let page): return page.answer(keys, id: \.id, field: "keys", json)
            }
        } catch {
            return jsonError(500, "cannot read the keys: \(error)")
        }
    }

    func create(_ d: Draft) -> HTTPResponse {
        let view = try? node.stateMachine.tenantView { dir, txn in (try dir.organisation(d.org, txn), try dir.keys(of: d.org, txn)) }
        guard let (org, existing) = view, org != nil else { return jsonError(404, "no organisation \(OrgAdmin.idText(d.org))") }
        if existing.contains(where: { $0.name == d.name && $0.revokedMillis == nil }) {
            return jsonError(409, "organisation \(org!.name) has a key named \(d.name) already")
        }
        let (secret, hash) = Self.newSecret()
        let record = APIKeyRecord(id: UInt64.random(in: 1...UInt64.max), org: d.org, name: d.name, secretHash: hash, permissions: d.permissions,
                                  origins: d.origins, cidrs: d.cidrs, ratePerMinute: d.rate, createdBy: d.createdBy, createdMillis: unixMillis())
        return propose(.createKey(record), check: { dir, txn in try dir.key(record.id, txn) == record }) { k in
            var o = Self.json(k).objectValue ?? [:]
            o["secret"] = .string(secret)
            return .json(JSON.serialize(.object(o)) + "\n", status: 201)
        }
    }

    /// Proposes `command`; once applied here, `check` says whether it took effect and
    /// `answer` renders the key as stored.
    func propose(_ command: TenantCommand, check: @escaping @Sendable (TenantDirectory, ReadTransaction) throws -> Bool,
                 _ answer: @escaping @Sendable (APIKeyRecord) -> HTTPResponse) -> HTTPResponse {
        let id: UInt64
        switch command {
        case .createKey(let k): id = k.id
        case .rotateKey(let k, _, _), .revokeKey(let k, _): id = k
        default: preconditionFailure("KeyAdmin proposes key commands only")
        }
        return proposeTenantChange(node, command, raced: "the key or its organisation changed meanwhile; nothing was changed",
                                   stored: { d, txn in try check(d, txn) ? try d.key(id, txn) : nil }) { stored, _ in answer(stored) }
    }
}
