import ByteCodec
import Chain
import Foundation
import Net
import StateMachine
import Storage
import Tenancy

/// Organisations, the admin endpoints behind `infrastack org` (who may call which: the
/// README's role table, enforced through `AdminAccess`):
///
///   GET    /v1/orgs?limit=N&cursor=C   organisations by id, a page at a time (a member: theirs)
///   POST   /v1/orgs                    create {name, config?} → 201 with its id
///   GET    /v1/orgs/{id}
///   DELETE /v1/orgs/{id}               refused (409) while it owns chains
///   GET    /v1/orgs/{id}/config        its settings object
///   PUT    /v1/orgs/{id}/config        replace them (a JSON object)
///   GET    /v1/orgs/{id}/chains        the chains it owns (its API keys read only these)
///   PUT    /v1/orgs/{id}/chains/{chainId}     give it a chain of the registry (from any owner)
///   DELETE /v1/orgs/{id}/chains/{chainId}     take the chain back to the cluster
///   /v1/orgs/{id}/members…             its members and their roles (`MemberAdmin`)
///
/// Ids are 16 hex digits drawn at random by the node that proposes. Every change goes
/// through the Raft log; the answer comes once it is applied here, and says so when
/// another admin's change won a race (the command was applied as a skip).
struct OrgAdmin: Sendable {
    let node: ChainNode
    /// The chain the node's config file names (`chain`), which is not in the registry but
    /// can belong to an organisation all the same.
    var fixedChain: UInt64? = nil

    static let prefix = "/v1/orgs"
    static let maxConfigBytes = 64 << 10

    static func owns(_ path: String) -> Bool { path == prefix || path.hasPrefix(prefix + "/") }

    /// `forward` runs its closure on the leader (or forwards the request there).
    func handle(_ req: HTTPRequest, _ access: AdminAccess, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        if req.path == Self.prefix {
            switch req.method {
            case "GET": return list(req, access)
            case "POST":
                if let refusal = access.requireClusterAdmin("create organisations") { return refusal }
                switch Self.parseCreate(req.body) {
                case .failure(let why): return jsonError(400, why.description)
                case .success(let (name, config)): return forward { create(name, config) }
                }
            default: return jsonError(405, "use GET or POST on \(Self.prefix)")
            }
        }
        let rest = req.path.dropFirst(Self.prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let id = Self.parseId(rest[0]) else { return jsonError(404, "no organisation \(boundedQuote(rest[0])): ids are 16 hex digits") }
        guard access.sees(id), let org = try? node.stateMachine.tenantView({ d, txn in try d.organisation(id, txn) }) else {
            // Created through another node a moment ago, it may not be applied here yet; the
            // leader answered that creation after applying it, so ask the leader before saying 404.
            return forward { jsonError(404, "no organisation \(Self.idText(id))") }
        }
        if rest.count >= 2, rest[1] == "members" {
            return MemberAdmin(node: node).handle(req, org, Array(rest.dropFirst(2)), access, forward: forward)
        }
        let hidden = jsonError(404, "no organisation \(Self.idText(id))")
        switch (req.method, rest.count >= 2 ? rest[1] : nil) {
        case _ where rest.count > 3 || (rest.count == 3 && rest[1] != "chains"):
            return jsonError(404, "no route \(boundedQuote(req.path))")
        case ("GET", nil): return .json(JSON.serialize(Self.json(org)) + "\n")
        case ("DELETE", nil):
            if let refusal = access.requireClusterAdmin("delete organisations") { return refusal }
            let owned = (try? node.stateMachine.tenantView { d, txn in try d.chains(of: id, txn) }) ?? []
            guard owned.isEmpty else {
                return jsonError(409, "organisation \(org.name) still owns chains \(owned.map(String.init).joined(separator: ", ")): remove or reassign them first")
            }
            return forward { change(.deleteOrganisation(org: id), check: { d, txn in try d.organisation(id, txn) == nil }, "organisation \(org.name) deleted") }
        case ("GET", "config"): return .json(String(decoding: org.config, as: UTF8.self) + "\n")
        case ("PUT", "config"):
            if let refusal = access.require(AdminAccess.adminOnly, in: id, "changing the organisation's settings", hidden: hidden) { return refusal }
            switch Self.parseConfig(req.body) {
            case .failure(let why): return jsonError(400, why.description)
            case .success(let config):
                return forward { change(.setOrganisationConfig(org: id, config: config), check: { d, txn in try d.organisation(id, txn)?.config == config },
                                        "organisation \(org.name) configured") }
            }
        case ("GET", "chains") where rest.count == 2:
            let owned = (try? node.stateMachine.tenantView { d, txn in try d.chains(of: id, txn) }) ?? []
            return .json(JSON.serialize(.object(["chains": .array(owned.map { .number(String($0)) })])) + "\n")
        case (let method, "chains") where rest.count == 3 && (method == "PUT" || method == "DELETE"):
            if let refusal = access.requireClusterAdmin("give chains to organisations or take them back") { return refusal }
            guard let chain = UInt64(rest[2]), chain > 0 else { return jsonError(400, "chain id must be a positive integer") }
            if method == "PUT" {
                guard chain == fixedChain || ((try? node.stateMachine.allChains()) ?? []).contains(where: { $0.spec.chainId == chain }) else {
                    return jsonError(404, "no chain \(chain) in the registry (see GET /v1/cluster/chains)")
                }
                return forward { change(.assignChain(chainId: chain, org: id), check: { d, txn in try d.owner(ofChain: chain, txn) == id },
                                        "chain \(chain) belongs to \(org.name)") }
            }
            guard ((try? node.stateMachine.tenantView { d, txn in try d.owner(ofChain: chain, txn) }) ?? nil) == id else {
                return jsonError(404, "organisation \(org.name) does not own chain \(chain)")
            }
            return forward { change(.assignChain(chainId: chain, org: 0), check: { d, txn in try d.owner(ofChain: chain, txn) == nil },
                                    "chain \(chain) taken back from \(org.name)") }
        default:
            return jsonError(405, "use GET or DELETE on \(Self.prefix)/{id}, GET or PUT on \(Self.prefix)/{id}/config, GET on \(Self.prefix)/{id}/chains, PUT or DELETE on \(Self.prefix)/{id}/chains/{chainId}, \(Self.prefix)/{id}/members")
        }
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    static func parseCreate(_ body: [UInt8]) -> Result<(String, [UInt8]), Problem> {
        guard let o = (try? JSON.parse(body))?.objectValue else { return .failure(Problem(description: "body must be a JSON object {name, config?}")) }
        for k in o.keys where !["name", "config"].contains(k) { return .failure(Problem(description: "unknown field \(boundedQuote(k)) (known: name, config)")) }
        guard let name = o["name"]?.stringValue else { return .failure(Problem(description: "name is required: a string")) }
        if let why = TenantDirectory.nameProblem(name) { return .failure(Problem(description: "name \(why)")) }
        var config = Array("{}".utf8)
        if let c = o["config"] {
            guard c.objectValue != nil else { return .failure(Problem(description: "config must be a JSON object")) }
            if let why = settingsProblem(c) { return .failure(Problem(description: "config: \(why)")) }
            config = Array(JSON.serialize(c).utf8)
            guard config.count <= maxConfigBytes else { return .failure(Problem(description: "config is \(config.count) bytes (at most \(maxConfigBytes))")) }
        }
        return .success((name, config))
    }

    static func parseConfig(_ body: [UInt8]) -> Result<[UInt8], Problem> {
        guard let v = try? JSON.parse(body), v.objectValue != nil else { return .failure(Problem(description: "body must be a JSON object (the organisation's settings)")) }
        if let why = settingsProblem(v) { return .failure(Problem(description: why)) }
        let config = Array(JSON.serialize(v).utf8)
        guard config.count <= maxConfigBytes else { return .failure(Problem(description: "config is \(config.count) bytes (at most \(maxConfigBytes))")) }
        return .success(config)
    }

    /// The settings the cluster itself reads must be valid; others are the organisation's own.
    static func settingsProblem(_ settings: JSONValue) -> String? {
        if let r = settings["rateLimitPerMinute"] {
            guard case .number(let n) = r, let v = UInt32(n), (1...1_000_000).contains(v) else {
                return "rateLimitPerMinute must be 1 to 1000000 (requests per minute for each of its API keys that sets none)"
            }
        }
        return nil
    }

    /// The per-key rate limit an organisation's settings give its keys, or nil.
    static func rateLimit(_ org: Organisation) -> UInt32? {
        guard case .number(let n)? = (try? JSON.parse(org.config))?["rateLimitPerMinute"] else { return nil }
        return UInt32(n)
    }

    static func idText(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func parseId(_ s: String) -> UInt64? {
        guard s.utf8.count == 16, let v = UInt64(s, radix: 16), v != 0 else { return nil }
        return v
    }

    static func json(_ o: Organisation) -> JSONValue {
        .object(["id": .string(idText(o.id)), "name": .string(o.name), "createdAt": .string(iso8601(o.createdMillis))])
    }

    static func iso8601(_ millis: UInt64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    func list(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        let page: AdminPage
        switch AdminPage.parse(req.query) {
        case .failure(let e): return e.response
        case .success(let p): page = p
        }
        let all: [Organisation]
        do { all = try node.stateMachine.tenantView { d, txn in try d.organisations(txn) }.filter { access.sees($0.id) } } catch {
            return jsonError(500, "cannot read the organisations: \(error)")
        }
        return page.answer(all, id: \.id, field: "orgs", Self.json)
    }

    func create(_ name: String, _ config: [UInt8]) -> HTTPResponse {
        if (try? node.stateMachine.tenantView({ d, txn in try d.organisation(named: name, txn) })) ?? nil != nil {
            return jsonError(409, "an organisation is named \(name) already")
        }
        let id = UInt64.random(in: 1...UInt64.max)
        let org = Organisation(id: id, name: name, createdMillis: unixMillis(), config: config)
        return proposeTenantChange(node, .createOrganisation(org), raced: "an organisation named \(name) was created meanwhile; nothing was changed",
                                   stored: { d, txn in try d.organisation(id, txn).flatMap { $0 == org ? $0 : nil } }) { stored, _ in
            .json(JSON.serialize(Self.json(stored)) + "\n", status: 201)
        }
    }

    /// Proposes `command`; once applied, `check` says whether it took effect.
    func change(_ command: TenantCommand, check: @escaping @Sendable (TenantDirectory, ReadTransaction) throws -> Bool, _ what: String) -> HTTPResponse {
        proposeTenantChange(node, command, raced: "the organisation changed meanwhile; nothing was changed",
                            stored: { d, txn in try check(d, txn) ? true : nil }) { _, index in
            .json("{\"ok\":true,\"index\":\(index),\"message\":\(jsonQuote(what))}\n")
        }
    }
}
