/// Who a request acts as, decided once by the pipeline's authenticate step and handed to
/// every later step and handler. Organisations and finer roles arrive with tenants; they
/// extend this value, not the handlers.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        /// No credential, on a node that requires none (development): known by address.
        case open(address: String)
        /// One of the configured API keys, known by a non-secret fingerprint.
        case apiKey(fingerprint: String)
        /// The cluster-admin token.
        case adminToken
        /// An organisation's API key from the replicated tenant tables, known by its id
        /// (stable across rotations).
        case tenantKey(id: UInt64)
    }

    public enum Role: String, Sendable, Comparable {
        /// The read surfaces: JSON-RPC, GraphQL, REST, subscriptions.
        case reader
        /// Everything: membership, the debug key-value store, and reads.
        case clusterAdmin

        public static func < (a: Role, b: Role) -> Bool { a == .reader && b == .clusterAdmin }
    }

    public let credential: Credential
    public let role: Role
    /// The organisation the principal acts for; nil for cluster-wide credentials (the admin
    /// token, config-file keys, an open node).
    public let organisation: UInt64?

    /// Whether the principal may send transactions (forwarded `eth_sendRawTransaction`, the
    /// GraphQL mutation): false only for an organisation's read-only key.
    public let mayWrite: Bool

    public init(_ credential: Credential, role: Role, organisation: UInt64? = nil, mayWrite: Bool = true) {
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
        case .tenantKey(let id): return "tkey:" + String(id, radix: 16)
        }
    }
}
