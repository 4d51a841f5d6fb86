import StateMachine
import Synchronization
import Tenancy

/// The reads every request with an organisation's key makes — the key by its secret, the
/// organisation's rate limit, a chain's owner — from memory instead of an LMDB transaction
/// each. The cache is emptied as soon as a tenant change commits (`tenantsVersion` grows
/// after the commit), so a revocation applies to the next request exactly as without it.
/// Time-dependent answers (a rotated secret's grace) are decided per request, not cached.
/// Secrets are cached by their SHA-256, never in the clear.
final class TenantCache: Sendable {
    let stateMachine: StateMachineRoot
    /// Beyond this many cached secrets (someone trying random keys), start over.
    static let maxEntries = 50_000

    struct State {
        var version: UInt64 = .max
        /// By the presented secret's SHA-256: the key it maps to (with its effective rate
        /// limit), or nil.
        var keys: [[UInt8]: APIKeyRecord?] = [:]
        var owners: [UInt64: UInt64?] = [:]
    }

    private let state = Mutex(State())

    init(stateMachine: StateMachineRoot) { self.stateMachine = stateMachine }

    /// The organisation key a secret with this SHA-256 opens at `nowMillis`, its
    /// `ratePerMinute` resolved to the key's own or its organisation's limit (0: the node's
    /// default).
    func key(secretHash hash: [UInt8], nowMillis: UInt64) -> APIKeyRecord? {
        let version = stateMachine.tenantsVersion
        let cached = state.withLock { s -> APIKeyRecord?? in
            if s.version != version { s = State(); s.version = version }
            return s.keys[hash]
        }
        let record: APIKeyRecord?
        if let cached { record = cached } else {
            record = (try? stateMachine.tenantView { d, txn -> APIKeyRecord? in
                guard var k = try d.key(secretHash: hash, txn) else { return nil }
                if k.ratePerMinute == 0, let org = try d.organisation(k.org, txn) { k.ratePerMinute = OrgAdmin.rateLimit(org) ?? 0 }
                return k
            }) ?? nil
            state.withLock { s in
                guard s.version == version else { return }
                if s.keys.count >= Self.maxEntries { s.keys.removeAll() }
                s.keys[hash] = .some(record)
            }
        }
        guard let record, record.admits(hash: hash, nowMillis: nowMillis) else { return nil }
        return record
    }

    /// The organisation that owns `chain`, or nil.
    func owner(ofChain chain: UInt64) -> UInt64? {
        let version = stateMachine.tenantsVersion
        if let cached = state.withLock({ s -> UInt64?? in
            if s.version != version { s = State(); s.version = version }
            return s.owners[chain]
        }) { return cached }
        let owner = (try? stateMachine.tenantView { d, txn in try d.owner(ofChain: chain, txn) }) ?? nil
        state.withLock { s in if s.version == version { s.owners[chain] = .some(owner) } }
        return owner
    }
}
