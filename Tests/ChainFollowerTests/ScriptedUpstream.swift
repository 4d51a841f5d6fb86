import Upstream
import Chain
import Foundation
import Net
import Synchronization
@testable import ChainFollower

/// An in-process JSON-RPC endpoint that behaves like a hosted provider as a test scripts it:
/// a batch limit (refused in one of the shapes providers use), scripted rate-limit answers,
/// missing methods, a wrong chain id, slowness, a key required in the path. Calls it lets
/// through go to `backend` (a SimChain) or, without one, to a local responder where
/// `echo` returns its first parameter and `eth_chainId` is 1337.
final class ScriptedUpstream: @unchecked Sendable {
    enum BatchRefusal: Sendable, CustomStringConvertible {
        /// One JSON-RPC error object for the batch, its message stating the limit or not.
        case errorObject(statesLimit: Bool)
        case http413
        /// An array with an error for every call: "... exceeds the limit of N".
        case perCallErrors
        /// Answers only the first `limit` calls.
        case truncated
        var description: String {
            switch self {
            case .errorObject(let s): return "error object\(s ? " stating the limit" : "")"
            case .http413: return "HTTP 413"
            case .perCallErrors: return "an error per call"
            case .truncated: return "a truncated array"
            }
        }
    }

    enum RateLimit: Sendable {
        case http429(retryAfter: String?)
        case http503(retryAfter: String)
        case rpc(code: Int, message: String)
    }

    struct Script: Sendable {
        var batchLimit: Int?
        var refusal = BatchRefusal.errorObject(statesLimit: true)
        /// Answers to give instead of serving, one per request, in order.
        var rateLimits: [RateLimit] = []
        /// Refuse every request as rate limited with this answer (after `rateLimits` run out).
        var alwaysRateLimited: RateLimit?
        /// Every n-th request is answered with HTTP 429, Retry-After: 0.
        var rateLimitEvery: Int?
        var missing: Set<String> = []
        var chainId: UInt64?
        var delayMillis = 0
        var pathKey: String?
    }

    struct Counters: Sendable {
        var requests = 0
        var refusedBatches = 0
        var rateLimited = 0
        var largestServed = 0
    }

    let script: Mutex<Script>
    let counters = Mutex(Counters())
    let loop: EventLoop
    let server: HTTPServer

    init(_ script: Script = Script(), backend: String? = nil) throws {
        self.script = Mutex(script)
        loop = try EventLoop(name: "scripted-upstream")
        let ref = OwnerRef()
        server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in
            ref.owner?.handle(req, backend: backend) ?? .json("{}", status: 503)
        }
        ref.owner = self
        loop.start()
        server.start()
    }

    /// The URL to configure, with the key in the path when the script wants one.
    var url: String { "http://\(server.address)" + (script.withLock { $0.pathKey }.map { "/v3/\($0)" } ?? "") }
    var redacted: String { UpstreamEndpoint(url: url).redacted }
    func stop() { server.shutdown(); loop.stop() }

    private func handle(_ req: HTTPRequest, backend: String?) -> HTTPResponse {
        let s = script.withLock { $0 }
        let n = counters.withLock { c -> Int in c.requests += 1; return c.requests }
        if s.delayMillis > 0 { usleep(UInt32(s.delayMillis) * 1000) }
        if let key = s.pathKey, req.target != "/v3/\(key)" { return .json(#"{"error":"bad key"}"#, status: 401) }
        guard let parsed = try? JSON.parse(req.body) else { return .json(#"{"error":"parse"}"#, status: 400) }
        let isBatch = parsed.arrayValue != nil
        var calls = parsed.arrayValue ?? [parsed]
        // Rate limits first, as a provider's gateway answers before looking at the batch.
        var limit: RateLimit?
        script.withLock { sc in
            if !sc.rateLimits.isEmpty { limit = sc.rateLimits.removeFirst() } else if let a = sc.alwaysRateLimited { limit = a }
        }
        if limit == nil, let every = s.rateLimitEvery, n % every == 0 { limit = .http429(retryAfter: "0") }
        if let limit {
            counters.withLock { $0.rateLimited += 1 }
            switch limit {
            case .http429(let after):
                return HTTPResponse(status: 429, headers: [("Content-Type", "application/json")] + (after.map { [("Retry-After", $0)] } ?? []), body: Array("{}".utf8))
            case .http503(let after):
                return HTTPResponse(status: 503, headers: [("Retry-After", after)], body: [])
            case .rpc(let code, let message):
                let errs = calls.map { Self.error($0["id"] ?? .null, code, message) }
                return .json(JSON.serialize(isBatch ? .array(errs) : errs[0]))
            }
        }
        if isBatch, let max = s.batchLimit, calls.count > max {
            counters.withLock { $0.refusedBatches += 1 }
            switch s.refusal {
            case .errorObject(let states):
                return .json(JSON.serialize(Self.error(.null, -32600, states ? "batch of \(calls.count) exceeds the limit of \(max)" : "batch too large")))
            case .http413:
                return .json(#"{"error":"payload too large"}"#, status: 413)
            case .perCallErrors:
                return .json(JSON.serialize(.array(calls.map { Self.error($0["id"] ?? .null, -32600, "batch size \(calls.count) exceeds the limit of \(max)") })))
            case .truncated:
                calls.removeSubrange(max...)   // answered below, as far as it goes
            }
        }
        counters.withLock { $0.largestServed = Swift.max($0.largestServed, calls.count) }
        var answers = [JSONValue]()
        var forward = [JSONValue]()
        for c in calls {
            let m = c["method"]?.stringValue ?? ""
            if s.missing.contains(m) {
                answers.append(Self.error(c["id"] ?? .null, -32601, "the method \(m) does not exist/is not available"))
            } else if m == "eth_chainId", let id = s.chainId {
                answers.append(.object(["jsonrpc": .string("2.0"), "id": c["id"] ?? .null, "result": .string(Hex.encodeQuantity(id))]))
            } else if backend == nil {
                let result: JSONValue = m == "eth_chainId" ? .string("0x539") : (c["params"]?.arrayValue?.first ?? .null)
                answers.append(.object(["jsonrpc": .string("2.0"), "id": c["id"] ?? .null, "result": result]))
            } else {
                forward.append(c)
            }
        }
        if let backend, !forward.isEmpty {
            guard let client = try? HTTPClient(url: backend), let r = try? client.post("/", json: JSON.serialize(.array(forward))),
                  let items = (try? JSON.parse(r.body))?.arrayValue else { return .json("{}", status: 502) }
            answers += items
        }
        return .json(JSON.serialize(isBatch ? .array(answers) : (answers.first ?? .null)))
    }

    static func error(_ id: JSONValue, _ code: Int, _ message: String) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": id, "error": .object(["code": .number(String(code)), "message": .string(message)])])
    }
}

/// Lets the server's handler reach the fake that owns the server (set once, after init).
private final class OwnerRef: @unchecked Sendable { weak var owner: ScriptedUpstream? }

/// Closes the first `drops` connections once their request has arrived, without a word (a
/// load balancer recycling a connection); answers every later request with `"ok"` for each
/// call, one request per connection.
final class DroppingUpstream: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let drops: Int
    let accepted = Atomic<Int>(0)
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)

    init(drops: Int) throws {
        self.drops = drops
        fd = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
        port = Socket.localAddress(fd)?.port ?? 0
        Thread.detachNewThread { [self] in serve(); done.signal() }
    }

    var url: String { "http://127.0.0.1:\(port)" }
    func stop() { running.store(false, ordering: .releasing); done.wait(); close(fd) }

    private func serve() {
        while running.load(ordering: .acquiring) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            defer { close(c) }
            let k = accepted.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
            guard let body = readRequest(c), k > drops else { continue }
            let calls = (try? JSON.parse(body)).map { $0.arrayValue ?? [$0] } ?? []
            let answers = calls.map { JSONValue.object(["jsonrpc": .string("2.0"), "id": $0["id"] ?? .null, "result": .string("ok")]) }
            let out = JSON.serialize(answers.count == 1 ? answers[0] : .array(answers))
            let reply = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(out.utf8.count)\r\nConnection: close\r\n\r\n\(out)".utf8)
            _ = reply.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// The body of one request (head, then Content-Length bytes); nil if the peer went away.
    private func readRequest(_ c: Int32) -> [UInt8]? {
        var buf = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = buf.indices.dropLast(3).first(where: { buf[$0] == 13 && buf[$0 + 1] == 10 && buf[$0 + 2] == 13 && buf[$0 + 3] == 10 }) {
                let head = String(decoding: buf[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if buf.count >= end + 4 + length { return Array(buf[(end + 4)..<(end + 4 + length)]) }
            }
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buf += chunk[..<n]
        }
    }
}
