import Net
import RPC

/// Counts every answered read of an organisation's key into the `UsageRecorder`: the
/// JSON-RPC method (`batch` for a batch), `graphql` or `rest`, and whether it failed (an
/// HTTP error, or a JSON-RPC error object). WebSocket messages count by their method too.
struct UsageHook: EdgeHook {
    let recorder: UsageRecorder
    var now: @Sendable () -> UInt64 = unixMillis

    func admit(_ request: EdgeRequest) -> HTTPResponse? { nil }

    func completed(_ request: EdgeRequest, _ response: HTTPResponse) {
        guard let method = request.readMethod, case .tenantKey(let id) = request.principal.credential else { return }
        recorder.record(key: id, method: method, error: response.status >= 400 || Self.isRPCError(response.body), nowMillis: now())
    }

    func admitMessage(_ request: EdgeRequest, _ body: [UInt8]) -> RPCError? {
        if case .tenantKey(let id) = request.principal.credential {
            recorder.record(key: id, method: JSONRPCServer.singleMethod(body) ?? "batch", error: false, nowMillis: now())
        }
        return nil
    }

    /// A single JSON-RPC answer holds `"error":` or `"result":` right after its id; only the
    /// head is read, and whichever comes first decides.
    static func isRPCError(_ body: [UInt8]) -> Bool {
        let head = body.prefix(128)
        func first(_ s: String) -> Int? {
            let needle = Array(s.utf8)
            guard head.count >= needle.count else { return nil }
            return (0...(head.count - needle.count)).first { i in head[(head.startIndex + i)..<(head.startIndex + i + needle.count)].elementsEqual(needle) }
        }
        guard let e = first("\"error\":") else { return false }
        return first("\"result\":").map { e < $0 } ?? true
    }
}
