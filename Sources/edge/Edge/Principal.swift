/// Who a request acts as, decided once by the pipeline's authenticate step and handed to
/// every later step and handler. What a user may do in which organisation is decided by
/// `AdminAccess` from the replicated memberships, not here.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        /// No credential, on a node that requires none (development): known by address.
        case open(address: String)
        /// One of the configured API keys, known by a non-secret fingerprint.
        case apiKey(fingerprint: String)
        /// The cluster-admin token.
        case adminToken
        /// The scrape credential (`metricsToken`): /metrics and nothing else.
        case metricsToken
        /// An organisation's API key from the replicated tenant tables, known by its id
        /// (stable across rotations).
        case tenantKey(id: UInt64)
        /// A user's personal token (`/v1/users`, members of organisations), known by the
        /// user's id.
        case user(id: UInt64)
    }

    public enum Role: String, Sendable, Comparable {
        /// The read surfaces: JSON-RPC, GraphQL, REST, subscriptions.
        case reader
        /// A user who is no cluster admin: the admin plane of the organisations they belong
        /// to, as far as their role there allows (`AdminAccess`).
        case member
        /// Everything: organisations, membership, the debug key-value store, and reads.
        case clusterAdmin

        var rank: Int { switch self { case .reader: 0; case .member: 1; case .clusterAdmin: 2 } }
        public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
    }

    public let credential: Credential
    public let role: Role
    /// The organisation the principal acts for; nil for cluster-wide credentials (the admin
    /// token, config-file keys, an open node).
    public let organisation: UInt64?

    /// Whether the principal may send transactions (forwarded `eth_sendRawTransaction`, the
    /// GraphQL mutation): false only for an organisation's read-only key.
    public let mayWrite: Bool

    /// An organisation key's request limit per minute across the cluster (the key's, else its
    /// organisation's); 0: the node's default (`rateLimit.perMinute`).
    public let ratePerMinute: UInt32

    public init(_ credential: Credential, role: Role, organisation: UInt64? = nil, mayWrite: Bool = true, ratePerMinute: UInt32 = 0) {
        self.ratePerMinute = ratePerMinute
        self.credential = credential
        self.role = role
        self.organisation = organisation
        self.mayWrite = mayWrite
    }

    /// A stable, non-secret name for per-caller limits and logs.
    public var caller: String {
        switch credential {
        case .open(let address): return "addr:" + address
        case .apiKey(let fingerprint): return fingerprint
        case .adminToken: return "admin"
        case .metricsToken: return "metrics"
        case .tenantKey(let id): return "tkey:" + String(id, radix: 16)
        case .user(let id): return "user:" + String(id, radix: 16)
        }
    }

    /// The user behind a personal token, or nil.
    public var user: UInt64? {
        if case .user(let id) = credential { return id }
        return nil
    }
}
