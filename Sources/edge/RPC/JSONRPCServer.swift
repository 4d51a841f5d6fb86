import ByteCodec
import Chain
import Net
import Telemetry

/// The JSON-RPC 2.0 envelope: single and batch requests, notifications, and the
/// spec's error objects. Methods live elsewhere; this type only dispatches.
public struct JSONRPCServer: Sendable {
    /// Resolves and runs one call, answering the result as JSON text (large answers are
    /// spliced from stored bytes, never built as values). Throwing an `RPCError` answers
    /// with that error; any other error is an internal error (-32603) and is logged.
    public typealias EncodedDispatch = @Sendable (_ method: String, _ params: RPCParams) throws -> [UInt8]
    public typealias Dispatch = @Sendable (_ method: String, _ params: RPCParams) throws -> JSONValue

    public let maxBatch: Int
    let dispatch: EncodedDispatch
    let logger: Logger?
    let stats: RPCStats?

    public init(maxBatch: Int = 100, logger: Logger? = nil, stats: RPCStats? = nil, encoded: @escaping EncodedDispatch) {
        self.maxBatch = maxBatch
        self.logger = logger
        self.stats = stats
        self.dispatch = encoded
    }

    public init(maxBatch: Int = 100, logger: Logger? = nil, dispatch: @escaping Dispatch) {
        self.init(maxBatch: maxBatch, logger: logger, encoded: { m, p in Array(JSON.serialize(try dispatch(m, p)).utf8) })
    }

    /// The response body for a request body; nil when nothing is to be sent back (only
    /// notifications). `caller` is handed to every method (see `RPCParams.caller`).
    /// `refuse` may refuse a method for this request before it runs (a read-only key asking
    /// to send a transaction): its error is the call's answer.
    public func respond(to body: [UInt8], caller: String = "", refuse: (@Sendable (String) -> RPCError?)? = nil) -> [UInt8]? {
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
            let answers = calls.compactMap { call($0, caller: caller, refuse: refuse) }
            guard !answers.isEmpty else { return nil }
            var out: [UInt8] = [UInt8(ascii: "[")]
            for (i, a) in answers.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += a
            }
            out.append(UInt8(ascii: "]"))
            return out
        default:
            return call(parsed, caller: caller, refuse: refuse)
        }
    }

    /// One request object → its serialized response, or nil for a notification.
    func call(_ request: JSONValue, caller: String, refuse: (@Sendable (String) -> RPCError?)? = nil) -> [UInt8]? {
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
        let outcome: Result<[UInt8], RPCError>
        let started = ContinuousClock.now
        do {
            if let e = refuse?(method) { throw e }
            var params = try RPCParams(o["params"])
            params.caller = caller
            outcome = .success(try dispatch(method, params))
        } catch let e as RPCError {
            outcome = .failure(e)
        } catch {
            logger?.error("rpc method failed", [("method", boundedQuote(method)), ("error", "\(error)")])
            outcome = .failure(.internalError("\(error)"))
        }
        // An inline attempt that had to give up runs again on a worker, which counts it then.
        if let stats, !InlineAttempt.abandoned {
            let took = ContinuousClock.now - started
            if case .failure = outcome { stats.record(method, .error, took: took) } else { stats.record(method, .ok, took: took) }
        }
        guard id != nil else { return nil }   // a notification gets no answer, even on error
        switch outcome {
        case .success(let v): return Self.envelope(id: replyId, result: v)
        case .failure(let e): return Self.envelope(id: replyId, error: e)
        }
    }

    public static func envelope(id: JSONValue, result: [UInt8]) -> [UInt8] {
        var out = Array("{\"jsonrpc\":\"2.0\",\"id\":\(JSON.serialize(id)),\"result\":".utf8)
        out.reserveCapacity(out.count + result.count + 1)
        out += result
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func envelope(id: JSONValue, error: RPCError) -> [UInt8] {
        Array(("{\"jsonrpc\":\"2.0\",\"id\":" + JSON.serialize(id) + ",\"error\":" + JSON.serialize(error.json) + "}").utf8)
    }
}

extension JSONRPCServer {
    /// The method of a body holding one request object (not a batch), read without parsing
    /// it: a scan that only tracks strings and nesting. nil when the body is a batch, is not
    /// one well-formed object, is larger than `maxBytes`, names the method with escapes or
    /// more than once (a parser keeps one of duplicates; which, this scan need not guess).
    /// It decides where a request runs, never what it answers: the full parse comes after.
    public static func singleMethod(_ body: [UInt8], maxBytes: Int = 4096) -> String? {
        guard body.count <= maxBytes else { return nil }
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        var i = 0
        while i < body.count, isSpace(body[i]) { i += 1 }
        guard i < body.count, body[i] == UInt8(ascii: "{") else { return nil }
        var depth = 0
        var method: String? = nil
        var expectingKey = false   // at depth 1, after `{` or `,`
        while i < body.count {
            let b = body[i]
            if b == quote {
                let start = i + 1
                var escaped = false
                i = start
                while i < body.count, body[i] != quote {
                    if body[i] == backslash { escaped = true; i += 1 }
                    i += 1
                }
                guard i < body.count else { return nil }
                let text = body[start..<i]
                i += 1
                guard depth == 1, expectingKey else { continue }
                expectingKey = false
                guard !escaped else { return nil }
                guard text.elementsEqual("method".utf8) else { continue }
                guard method == nil else { return nil }
                while i < body.count, isSpace(body[i]) { i += 1 }
                guard i < body.count, body[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                while i < body.count, isSpace(body[i]) { i += 1 }
                guard i < body.count, body[i] == quote else { return nil }
                let valueStart = i + 1
                i = valueStart
                while i < body.count, body[i] != quote {
                    if body[i] == backslash { return nil }
                    i += 1
                }
                guard i < body.count else { return nil }
                method = String(decoding: body[valueStart..<i], as: UTF8.self)
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1 && b == UInt8(ascii: "{")
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                guard depth >= 0 else { return nil }
                if depth == 0 {
                    // Only whitespace may follow the one object.
                    i += 1
                    while i < body.count, isSpace(body[i]) { i += 1 }
                    return i == body.count ? method : nil
                }
            case UInt8(ascii: ","):
                if depth == 1 { expectingKey = true }
            default: break
            }
            i += 1
        }
        return nil
    }
}
