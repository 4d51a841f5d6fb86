import ByteCodec
import Chain
import Telemetry

/// A JSON-RPC 2.0 error object. Codes follow the spec (-32700 … -32603) and geth's
/// conventions for server errors (-32000), so clients written against geth see the
/// same codes and, where the execution-apis tests pin them, the same messages.
public struct RPCError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: Int
    public let message: String
    public let data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code; self.message = message; self.data = data
    }

    public var description: String { "\(code): \(message)" }

    public var json: JSONValue {
        var o: JSONObject = ["code": .number(String(code)), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }

    public static func parse(_ detail: String) -> RPCError { RPCError(code: -32700, message: "parse error: \(detail)") }
    public static func invalidRequest(_ detail: String) -> RPCError { RPCError(code: -32600, message: "invalid request: \(detail)") }
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: -32601, message: "the method \(boundedQuote(method)) does not exist/is not available")
    }
    /// geth's shape for a parameter that fails to decode: "invalid argument N: why".
    public static func invalidArgument(_ index: Int, _ why: String) -> RPCError {
        RPCError(code: -32602, message: "invalid argument \(index): \(why)")
    }
    public static func invalidParams(_ message: String) -> RPCError { RPCError(code: -32602, message: message) }
    public static func internalError(_ detail: String) -> RPCError { RPCError(code: -32603, message: "internal error: \(detail)") }
    public static func server(_ message: String, data: JSONValue? = nil) -> RPCError { RPCError(code: -32000, message: message, data: data) }
    /// A request the node refuses because it would exceed a configured limit.
    public static func limitExceeded(_ message: String) -> RPCError { RPCError(code: -32005, message: message) }
    /// The node has not applied the block the client asked to see; the same request to
    /// another replica, or to this one a moment later, can succeed.
    public static func notYetApplied(wanted: UInt64, applied: UInt64?) -> RPCError {
        RPCError(code: -32010, message: "this node has applied up to block \(applied.map(String.init) ?? "none"), not yet \(wanted); retry",
                 data: .object(["retryable": .bool(true), "wantedBlock": .string(Hex.encodeQuantity(wanted)),
                                "appliedBlock": applied.map { .string(Hex.encodeQuantity($0)) } ?? .null]))
    }
}
