import Net
import StateMachine
import Tenancy

/// What a principal may do on the admin plane, decided per organisation from the
/// replicated memberships (the role table in the README). A cluster admin may do
/// everything. Anyone else sees only the organisations they belong to: another
/// organisation's objects are answered 404, exactly as if they did not exist, so a tenant
/// cannot even learn which ids are taken; a role that falls short in their own
/// organisation is answered 403 with the roles that may.
struct AdminAccess: Sendable {
    let principal: Principal
    /// The principal's roles by organisation, read once per request (none for cluster admins).
    let roles: [UInt64: Role]

    init(principal: Principal, roles: [UInt64: Role] = [:]) {
        precondition(principal.role >= .member, "the admin plane is for cluster admins and users")
        precondition(principal.role == .member || roles.isEmpty, "a cluster admin needs no memberships")
        self.principal = principal
        self.roles = roles
    }

    /// The principal's access as the node's tenant tables say now.
    init(principal: Principal, node: ChainNode) throws {
        guard principal.role == .member, let user = principal.user else { self.init(principal: principal); return }
        let memberships = try node.stateMachine.tenantView { d, txn in try d.memberships(of: user, txn) }
        self.init(principal: principal, roles: Dictionary(memberships.map { ($0.org, $0.role) }, uniquingKeysWith: { a, _ in a }))
    }

    var isClusterAdmin: Bool { principal.role == .clusterAdmin }

    /// The principal's role in `org`; nil when not a member (a cluster admin is above roles).
    func role(in org: UInt64) -> Role? { roles[org] }

    /// Whether objects of `org` exist for this principal at all.
    func sees(_ org: UInt64) -> Bool { isClusterAdmin || roles[org] != nil }

    /// nil when the principal may do `action` in `org` with one of `allowed`; else the
    /// refusal: `hidden` (a 404) when `org` is not theirs, a 403 when their role falls short.
    func require(_ allowed: Set<Role>, in org: UInt64, _ action: String, hidden: @autoclosure () -> HTTPResponse) -> HTTPResponse? {
        if isClusterAdmin { return nil }
        guard let role = roles[org] else { return hidden() }
        guard allowed.contains(role) else {
            let who = Role.allCases.filter(allowed.contains).map(\.name) + ["cluster admins"]
            return jsonError(403, "\(action) needs the role \(who.joined(separator: " or ")) in the organisation; you are \(role.name)",
                             [("role", .string(role.name))])
        }
        return nil
    }

    /// nil for a cluster admin; else a 403 naming what only cluster admins may do.
    func requireClusterAdmin(_ action: String) -> HTTPResponse? {
        isClusterAdmin ? nil : jsonError(403, "only cluster admins may \(action)")
    }

    static let everyRole = Set(Role.allCases)
    static let adminOnly: Set<Role> = [.admin]
    static let admins: Set<Role> = [.admin, .operator]
}
