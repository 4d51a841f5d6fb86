import ByteCodec
import Chain
import Net
import StateMachine
import Storage
import Tenancy

/// An organisation's members, behind `infrastack org members|invite|role|remove-member`:
///
///   GET    /v1/orgs/{id}/members             its members: {user, name, role}
///   POST   /v1/orgs/{id}/members             invite {name, role}: a new user whose personal
///                                            token is in the answer, this once (201); or
///                                            {user, role}: add an existing user by id
///   PUT    /v1/orgs/{id}/members/{userId}    change the role {role}
///   DELETE /v1/orgs/{id}/members/{userId}    remove; a user then left in no organisation
///                                            (and no cluster admin) is removed, token and all
///
/// Anyone in the organisation may list; only its admins (and cluster admins) change it. An
/// organisation admin cannot leave it without an admin: demoting or removing the last one is
/// refused (a cluster admin may).
struct MemberAdmin: Sendable {
    let node: ChainNode

    func handle(_ req: HTTPRequest, _ org: Organisation, _ rest: [String], _ access: AdminAccess,
                forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        precondition(access.sees(org.id), "OrgAdmin hides other organisations before this")
        let hidden = jsonError(404, "no organisation \(OrgAdmin.idText(org.id))")
        let members: [(user: User, role: Role)]
        do {
            members = try node.stateMachine.tenantView { d, txn in try d.memberUsers(of: org.id, txn) }
        } catch {
            return jsonError(500, "cannot read the members: \(error)")
        }
        if rest.isEmpty {
            switch req.method {
            case "GET":
                switch AdminPage.parse(req.query) {
                case .failure(let e): return e.response
                case .success(let page): return page.answer(members, id: \.user.id, field: "members") { Self.json($0.user, $0.role) }
                }
            case "POST":
                if let refusal = access.require(AdminAccess.adminOnly, in: org.id, "inviting members", hidden: hidden) { return refusal }
                switch Self.parseInvite(req.body) {
                case .failure(let why): return jsonError(400, why.description)
                case .success(let invite): return forward { add(invite, to: org, members) }
                }
            default: return jsonError(405, "use GET or POST on /v1/orgs/{id}/members")
            }
        }
        guard rest.count == 1, let userId = OrgAdmin.parseId(rest[0]), let member = members.first(where: { $0.user.id == userId }) else {
            return jsonError(404, "no member \(boundedQuote(rest.joined(separator: "/"))) in organisation \(org.name)")
        }
        switch req.method {
        case "GET": return .json(JSON.serialize(Self.json(member.user, member.role)) + "\n")
        case "PUT":
            if let refusal = access.require(AdminAccess.adminOnly, in: org.id, "changing roles", hidden: hidden) { return refusal }
            guard let o = (try? JSON.parse(req.body))?.objectValue else { return jsonError(400, "body must be a JSON object {role}") }
            for k in o.keys where k != "role" { return jsonError(400, "unknown field \(boundedQuote(k)) (known: role)") }
            guard let role = o["role"]?.stringValue.flatMap(Role.init(name:)) else { return jsonError(400, Self.roleProblem) }
            if role != .admin, let why = lastAdmin(member, members, access, org) { return jsonError(409, why) }
            return forward {
                change([.setMember(org: org.id, user: userId, role: role)], check: { d, txn in try d.role(of: userId, in: org.id, txn) == role },
                       "\(member.user.name) is \(role.name) in \(org.name)")
            }
        case "DELETE":
            if let refusal = access.require(AdminAccess.adminOnly, in: org.id, "removing members", hidden: hidden) { return refusal }
            if let why = lastAdmin(member, members, access, org) { return jsonError(409, why) }
            return forward { remove(member.user, from: org) }
        default: return jsonError(405, "use GET, PUT or DELETE on /v1/orgs/{id}/members/{userId}")
        }
    }

    static let roleProblem = "role is required: \(Role.allCases.map { "\"\($0.name)\"" }.joined(separator: ", "))"

    enum Invite: Sendable {
        case newUser(name: String, role: Role)
        case existing(user: UInt64, role: Role)
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    static func parseInvite(_ body: [UInt8]) -> Result<Invite, Problem> {
        func fail(_ s: String) -> Result<Invite, Problem> { .failure(Problem(description: s)) }
        guard let o = (try? JSON.parse(body))?.objectValue else { return fail("body must be a JSON object {name, role} or {user, role}") }
        for k in o.keys where !["name", "user", "role"].contains(k) { return fail("unknown field \(boundedQuote(k)) (known: name, user, role)") }
        guard let role = o["role"]?.stringValue.flatMap(Role.init(name:)) else { return fail(roleProblem) }
        switch (o["name"], o["user"]) {
        case (let n?, nil):
            guard let name = n.stringValue else { return fail("name must be a string") }
            if let why = TenantDirectory.nameProblem(name) { return fail("name \(why)") }
            return .success(.newUser(name: name, role: role))
        case (nil, let u?):
            guard let text = u.stringValue, let id = OrgAdmin.parseId(text) else { return fail("user must be a user id (16 hex digits)") }
            return .success(.existing(user: id, role: role))
        default: return fail("give either name (a new user) or user (an existing user's id)")
        }
    }

    static func json(_ u: User, _ role: Role) -> JSONValue {
        .object(["user": .string(OrgAdmin.idText(u.id)), "name": .string(u.name), "role": .string(role.name)])
    }

    /// Why `member` may not stop being an admin of `org`, or nil.
    func lastAdmin(_ member: (user: User, role: Role), _ members: [(user: User, role: Role)], _ access: AdminAccess, _ org: Organisation) -> String? {
        guard !access.isClusterAdmin, member.role == .admin, members.filter({ $0.role == .admin }).count == 1 else { return nil }
        return "\(member.user.name) is the last admin of \(org.name): make another member admin first"
    }

    func add(_ invite: Invite, to org: Organisation, _ members: [(user: User, role: Role)]) -> HTTPResponse {
        switch invite {
        case .existing(let userId, let role):
            guard ((try? node.stateMachine.tenantView { d, txn in try d.user(userId, txn) }) ?? nil) != nil else {
                return jsonError(404, "no user \(OrgAdmin.idText(userId))")
            }
            return change([.setMember(org: org.id, user: userId, role: role)], check: { d, txn in try d.role(of: userId, in: org.id, txn) == role },
                          "user \(OrgAdmin.idText(userId)) is \(role.name) in \(org.name)", status: 201)
        case .newUser(let name, let role):
            if members.contains(where: { $0.user.name.lowercased() == name.lowercased() }) {
                return jsonError(409, "\(org.name) has a member named \(name) already")
            }
            let (token, hash) = newTenantSecret(prefix: UserAdmin.tokenPrefix)
            let user = User(id: UInt64.random(in: 2...UInt64.max), name: name, tokenHash: hash, clusterAdmin: false, createdMillis: unixMillis())
            return proposeTenantChange(node, [.createUser(user), .setMember(org: org.id, user: user.id, role: role)],
                                       raced: "the organisation changed meanwhile; nothing was changed",
                                       stored: { d, txn in try d.role(of: user.id, in: org.id, txn) == role ? user : nil }) { u, _ in
                var o = Self.json(u, role).objectValue ?? [:]
                o["token"] = .string(token)
                return .json(JSON.serialize(.object(o)) + "\n", status: 201)
            }
        }
    }

    func remove(_ user: User, from org: Organisation) -> HTTPResponse {
        let elsewhere = ((try? node.stateMachine.tenantView { d, txn in try d.memberships(of: user.id, txn) }) ?? []).contains { $0.org != org.id }
        let alone = !elsewhere && !user.clusterAdmin
        let command: TenantCommand = alone ? .removeUser(user: user.id) : .removeMember(org: org.id, user: user.id)
        return change([command], check: { d, txn in try d.role(of: user.id, in: org.id, txn) == nil },
                      alone ? "\(user.name) removed from \(org.name) and, in no other organisation, from the cluster: their token no longer works"
                            : "\(user.name) removed from \(org.name)")
    }

    func change(_ commands: [TenantCommand], check: @escaping @Sendable (TenantDirectory, ReadTransaction) throws -> Bool, _ what: String, status: Int = 200) -> HTTPResponse {
        proposeTenantChange(node, commands, raced: "the organisation or the user changed meanwhile; nothing was changed",
                            stored: { d, txn in try check(d, txn) ? true : nil }) { _, index in
            .json("{\"ok\":true,\"index\":\(index),\"message\":\(jsonQuote(what))}\n", status: status)
        }
    }
}
