import Foundation
import Net
import StateMachine
import Storage
import Tenancy

/// Proposes a `TenantCommand` and answers once it is applied here. Applied can still mean
/// skipped (another admin's change won a race): `stored` reads what the command should have
/// left, nil when it did not take effect, and the answer is then a 409 saying `raced`.
func proposeTenantChange<T: Sendable>(_ node: ChainNode, _ command: TenantCommand, raced: String,
                                      stored: @escaping @Sendable (TenantDirectory, ReadTransaction) throws -> T?,
                                      answer: @escaping @Sendable (T, _ index: UInt64) -> HTTPResponse) -> HTTPResponse {
    let deferred = DeferredResponse()
    node.propose(raw: command.encoded()) { outcome in
        deferred.fulfil(AdminAPI.response(outcome) { index in
            guard let value = (try? node.stateMachine.tenantView(stored)) ?? nil else { return jsonError(409, raced) }
            return answer(value, index)
        })
    }
    return .later(deferred)
}

/// Wall-clock Unix milliseconds, for the times tenant records and audit entries carry.
func unixMillis() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
