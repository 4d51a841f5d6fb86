import Chain
import Telemetry

/// The JSON-RPC 2.0 envelope: single and batch requests, notifications, and the
/// spec's error objects. Methods live elsewhere; this type only dispatches.
public struct JSONRPCServer: Sendable {
    /// Resolves and runs one call. Throwing an `RPCError` answers with that error; any
    /// other error is an internal error (-32603) and is logged.
    public typealias Dispatch = @Sendable (_ method: String, _ params: RPCParams) throws -> JSONValue

    public let maxBatch: Int
    let dispatch: Dispatch
    let logger: Logger?

    public init(maxBatch: Int = 100, logger: Logger? = nil, dispatch: @escaping Dispatch) {
        self.maxBatch = maxBatch
        self.logger = logger
        self.dispatch = dispatch
    }

    /// The response body for a request body; nil when nothing is to be sent back (only
    /// notifications).
    public func respond(to body: [UInt8]) -> String? {
        let parsed: JSONValue
        do { parsed = try JSON.parse(body) } catch {
            return Self.envelope(id: .null, error: .parse("\(error)"))
        }
        switch parsed {
        case .array(let calls):
            if calls.isEmpty { return Self.envelope(id: .null, error: .invalidRequest("empty batch")) }
            if calls.count > maxBatch {
                return Self.envelope(id: .null, error: .invalidRequest("batch of \(calls.count) requests exceeds the limit of \(maxBatch)"))
            }
            let answers = calls.compactMap { call($0) }
            return answers.isEmpty ? nil : "[" + answers.joined(separator: ",") + "]"
        default:
            return call(parsed)
        }
    }

    /// One request object → its serialized response, or nil for a notification.
    func call(_ request: JSONValue) -> String? {
        guard let o = request.objectValue else { return Self.envelope(id: .null, error: .invalidRequest("a request must be a JSON object")) }
        let id = o["id"]
        if let id {
            switch id {
            case .string, .number, .null: break
            default: return Self.envelope(id: .null, error: .invalidRequest("id must be a string, number or null"))
            }
        }
        let replyId = id ?? .null
        guard o["jsonrpc"]?.stringValue == "2.0" else { return Self.envelope(id: replyId, error: .invalidRequest("jsonrpc must be \"2.0\"")) }
        guard let method = o["method"]?.stringValue else { return Self.envelope(id: replyId, error: .invalidRequest("method must be a string")) }
        let outcome: Result<JSONValue, RPCError>
        do {
            let params = try RPCParams(o["params"])
            outcome = .success(try dispatch(method, params))
        } catch let e as RPCError {
            outcome = .failure(e)
        } catch {
            logger?.error("rpc method failed", [("method", method), ("error", "\(error)")])
            outcome = .failure(.internalError("\(error)"))
        }
        guard id != nil else { return nil }   // a notification gets no answer, even on error
        switch outcome {
        case .success(let v): return Self.envelope(id: replyId, result: v)
        case .failure(let e): return Self.envelope(id: replyId, error: e)
        }
    }

    public static func envelope(id: JSONValue, result: JSONValue) -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":" + JSON.serialize(id) + ",\"result\":" + JSON.serialize(result) + "}"
    }

    public static func envelope(id: JSONValue, error: RPCError) -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":" + JSON.serialize(id) + ",\"error\":" + JSON.serialize(error.json) + "}"
    }
}
