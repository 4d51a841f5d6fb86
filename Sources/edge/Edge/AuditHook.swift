import ByteCodec
import Net
import Telemetry

/// Every admin request, with who made it and how it ended, as one structured `audit`
/// log line (never a credential). The replicated, tamper-evident audit log of the tenants
/// work replaces the sink, not the hook.
struct AuditHook: EdgeHook {
    let logger: Logger

    func admit(_ request: EdgeRequest) -> HTTPResponse? { nil }

    func completed(_ request: EdgeRequest, _ response: HTTPResponse) {
        guard request.route == .admin else { return }
        logger.info("audit", [("principal", request.principal.caller), ("role", request.principal.role.rawValue),
                              ("method", boundedQuote(request.http.method)), ("path", boundedQuote(request.path)),
                              ("status", response.status)])
    }
}
