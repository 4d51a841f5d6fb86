import Chain
import Foundation
import Net

/// One upstream as configured: its URL (http or https, any path and query, userinfo as
/// basic auth), extra headers some providers want (`x-api-key`), and TLS settings.
/// Headers and the URL's path and userinfo are secrets: logs and /status show `redacted`.
public struct UpstreamEndpoint: Sendable, Equatable, ExpressibleByStringLiteral {
    public var url: String
    public var headers: [String: String] = [:]
    /// TLS for https URLs; nil = verify against the system trust store.
    public var tls: TLSConfiguration?

    public init(url: String, headers: [String: String] = [:], tls: TLSConfiguration? = nil) {
        self.url = url; self.headers = headers; self.tls = tls
    }
    public init(stringLiteral s: String) { self.init(url: s) }

    public var redacted: String { (try? HTTPURL(parsing: url))?.redacted ?? "(invalid URL)" }

    public func makeClient(timeoutMillis: Int) throws -> HTTPClient {
        try HTTPClient(url: url, timeoutMillis: timeoutMillis, tls: tls, headers: headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }
}

/// JSON-RPC client for the upstream node(s): HTTP/1.1 keep-alive, batches, timeouts,
/// retries with exponential backoff, and failover across several URLs (the next URL is
/// tried when one fails; a URL that failed is retried after the others).
public final class UpstreamClient {
    public struct RPCError: Error, CustomStringConvertible, Equatable {
        public let code: Int
        public let message: String
        /// The error's "data" member (revert data for eth_call), passed on unchanged.
        public var data: JSONValue? = nil
        public var description: String { "upstream error \(code): \(message)" }
        public var isMethodNotFound: Bool { code == -32601 }
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public let endpoints: [UpstreamEndpoint]
    public var timeoutMillis: Int
    public var attempts: Int
    private var clients: [Int: HTTPClient] = [:]
    private var current = 0
    private var nextId = 1
    public private(set) var requests = 0
    public private(set) var failovers = 0

    public init(endpoints: [UpstreamEndpoint], timeoutMillis: Int = 10_000, attempts: Int = 4) {
        precondition(!endpoints.isEmpty, "at least one upstream URL")
        self.endpoints = endpoints
        self.timeoutMillis = timeoutMillis
        self.attempts = attempts
    }

    public convenience init(urls: [String], timeoutMillis: Int = 10_000, attempts: Int = 4) {
        self.init(endpoints: urls.map { UpstreamEndpoint(url: $0) }, timeoutMillis: timeoutMillis, attempts: attempts)
    }

    /// The upstream in use, as logs may show it (no path, query, userinfo or headers).
    public var currentURL: String { endpoints[current].redacted }

    /// One call; throws RPCError for a JSON-RPC error answer.
    public func call(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let results = try batch([(method, params)])
        switch results[0] {
        case .success(let v): return v
        case .failure(let e): throw e
        }
    }

    /// A batch: results in request order, each a value or the JSON-RPC error for it.
    public func batch(_ calls: [(String, [JSONValue])]) throws -> [Result<JSONValue, RPCError>] {
        var body = [JSONValue]()
        var ids = [Int]()
        for (m, p) in calls {
            let id = nextId; nextId += 1
            ids.append(id)
            body.append(.object(["jsonrpc": .string("2.0"), "id": .number(String(id)), "method": .string(m), "params": .array(p)]))
        }
        let payload = JSON.serialize(calls.count == 1 ? body[0] : .array(body))
        var lastError: Error = Unavailable(description: "no attempt made")
        var delay = 100_000 as UInt32
        for attempt in 0..<attempts {
            let index = current
            let url = endpoints[index].redacted
            do {
                let client = try clients[index] ?? endpoints[index].makeClient(timeoutMillis: timeoutMillis)
                clients[index] = client
                requests += 1
                let r = try client.post("/", json: payload)
                guard r.status == 200 else { throw Unavailable(description: "\(url) answered HTTP \(r.status)") }
                let parsed = try JSON.parse(r.body)
                let answers = calls.count == 1 ? [parsed] : (parsed.arrayValue ?? [])
                guard answers.count == calls.count else { throw Unavailable(description: "\(url) answered \(answers.count) results for \(calls.count) calls") }
                var byId = [Int: JSONValue]()
                for a in answers {
                    guard case .number(let n)? = a["id"], let id = Int(n) else { throw Unavailable(description: "\(url) answered without an id") }
                    byId[id] = a
                }
                return try ids.map { id in
                    guard let a = byId[id] else { throw Unavailable(description: "\(url) did not answer request \(id)") }
                    if let e = a["error"]?.objectValue {
                        let code: Int = { if case .number(let n)? = e["code"] { return Int(n) ?? 0 }; return 0 }()
                        return .failure(RPCError(code: code, message: e["message"]?.stringValue ?? "", data: e["data"]))
                    }
                    guard let result = a["result"] else { throw Unavailable(description: "\(url) answered neither result nor error") }
                    return .success(result)
                }
            } catch {
                lastError = error
                clients[index]?.close()
                clients[index] = nil
                if endpoints.count > 1 { current = (current + 1) % endpoints.count; failovers += 1 }
                if attempt + 1 < attempts { usleep(delay); delay = min(delay * 2, 2_000_000) }
            }
        }
        throw Unavailable(description: "upstream unavailable after \(attempts) attempts: \(lastError)")
    }
}
