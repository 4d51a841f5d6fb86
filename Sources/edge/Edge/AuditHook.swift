import ByteCodec
import Foundation
import Net
import Telemetry
import Tenancy

/// Every admin request, with who made it and how it ended: one structured `audit` log line
/// (never a credential) on the node that answered, and, for changes (not reads, not the
/// debug key-value store, which is a test facility), an entry in the replicated,
/// hash-chained audit log (`GET /v1/audit`). The entry is proposed by the node that executed
/// the change (the leader: a follower that forwarded it leaves it to the leader, which
/// records the client's address the follower passed on; a change a follower ran itself goes
/// to the leader through `AuditRelay`); it does not delay the answer.
struct AuditHook: EdgeHook {
    let logger: Logger
    /// Proposes an entry, asynchronously; nil records log lines only (tests, tools).
    var record: (@Sendable (AuditEntry) -> Void)? = nil
    /// The organisation a request acts on (0: the cluster's own) and the principal's role
    /// there, for the entry; by default from the path alone.
    var subject: @Sendable (EdgeRequest) -> (org: UInt64, role: String) = { r in (AuditHook.organisation(in: r.path), r.principal.role.rawValue) }

    func admit(_ request: EdgeRequest) -> HTTPResponse? { nil }

    func completed(_ request: EdgeRequest, _ response: HTTPResponse) {
        guard request.route == .admin else { return }
        let req = request.http
        logger.info("audit", [("principal", request.principal.caller), ("role", request.principal.role.rawValue),
                              ("method", boundedQuote(req.method)), ("path", boundedQuote(request.path)),
                              ("status", response.status)])
        guard let record, Self.isChange(req.method, request.path), response.header("X-Infrastack-Forwarded-To") == nil else { return }
        let source = req.header("X-Infrastack-Forwarded") != nil ? (req.header("X-Infrastack-Client") ?? APIKeys.host(req.remote)) : APIKeys.host(req.remote)
        let (org, role) = subject(request)
        record(AuditEntry(atMillis: unixMillis(), actor: request.principal.caller, role: role,
                          org: org, action: "\(req.method) \(request.path)", outcome: UInt16(clamping: response.status),
                          source: source, requestId: req.header("X-Request-Id").map { String($0.prefix(128)) } ?? Self.requestId()))
    }

    static func isChange(_ method: String, _ path: String) -> Bool {
        method != "GET" && method != "HEAD" && !path.hasPrefix("/v1/debug/kv")
    }

    /// The organisation a path names (`/v1/orgs/{id}/…`), else 0.
    static func organisation(in path: String) -> UInt64 {
        let parts = path.split(separator: "/")
        guard parts.count >= 3, parts[0] == "v1", parts[1] == "orgs" else { return 0 }
        return OrgAdmin.parseId(String(parts[2])) ?? 0
    }

    static func requestId() -> String {
        var g = SystemRandomNumberGenerator()
        return String(UInt64.random(in: 0...UInt64.max, using: &g), radix: 16)
    }
}
