import Chain
import Foundation
import Hashing
import Net
import StateMachine
import Storage
import Tenancy

/// Proposes entries one after the other, each once the one before is applied here, and
/// answers after the last. Applied can still mean skipped (another admin's change won a
/// race): `stored` reads what the entries should have left, nil when they did not take
/// effect, and the answer is then a 409 saying `raced`. An entry that fails stops the
/// sequence; the answer then says why (the entries already applied stay).
func proposeChanges<T: Sendable>(_ node: ChainNode, _ entries: [[UInt8]], raced: String, stored: @escaping @Sendable () throws -> T?,
                                 answer: @escaping @Sendable (T, _ index: UInt64) -> HTTPResponse) -> HTTPResponse {
    precondition(!entries.isEmpty, "a change proposes something")
    let deferred = DeferredResponse()
    @Sendable func next(_ i: Int) {
        node.propose(raw: entries[i]) { outcome in
            if case .applied = outcome, i + 1 < entries.count { next(i + 1); return }
            deferred.fulfil(AdminAPI.response(outcome) { index in
                guard let value = (try? stored()) ?? nil else { return jsonError(409, raced) }
                return answer(value, index)
            })
        }
    }
    next(0)
    return .later(deferred)
}

func proposeTenantChange<T: Sendable>(_ node: ChainNode, _ commands: [TenantCommand], raced: String,
                                      stored: @escaping @Sendable (TenantDirectory, ReadTransaction) throws -> T?,
                                      answer: @escaping @Sendable (T, _ index: UInt64) -> HTTPResponse) -> HTTPResponse {
    proposeChanges(node, commands.map { $0.encoded() }, raced: raced, stored: { try node.stateMachine.tenantView(stored) }, answer: answer)
}

func proposeTenantChange<T: Sendable>(_ node: ChainNode, _ command: TenantCommand, raced: String,
                                      stored: @escaping @Sendable (TenantDirectory, ReadTransaction) throws -> T?,
                                      answer: @escaping @Sendable (T, _ index: UInt64) -> HTTPResponse) -> HTTPResponse {
    proposeTenantChange(node, [command], raced: raced, stored: stored, answer: answer)
}

/// A new secret, `prefix` and 64 hex digits (256 random bits), and the SHA-256 that is all
/// the tables keep of it.
func newTenantSecret(prefix: String) -> (secret: String, hash: [UInt8]) {
    var g = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
    let secret = prefix + Hex.encodeBare(bytes)
    return (secret, SHA256.hash(Array(secret.utf8)))
}

/// Wall-clock Unix milliseconds, for the times tenant records and audit entries carry.
public func unixMillis() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
