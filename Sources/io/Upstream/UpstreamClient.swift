import ByteCodec
import Chain
import Foundation
import Net
import Telemetry

/// One upstream as configured: its URL (http or https, any path and query, userinfo as
/// basic auth), extra headers some providers want (`x-api-key`), and TLS settings.
/// Headers and the URL's path and userinfo are secrets: logs and /status show `redacted`.
public struct UpstreamEndpoint: Sendable, Equatable, ExpressibleByStringLiteral {
    public var url: String
    public var headers: [String: String] = [:]
    /// TLS for https URLs; nil = verify against the system trust store.
    public var tls: TLSConfiguration?
    /// The provider's ws:// or wss:// URL, for a newHeads subscription that wakes the indexer
    /// as soon as a block is out (polling stays the fallback).
    public var ws: String?

    public init(url: String, headers: [String: String] = [:], tls: TLSConfiguration? = nil, ws: String? = nil) {
        self.url = url; self.headers = headers; self.tls = tls; self.ws = ws
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
///
/// Hosted providers on top of that (`UpstreamQuirks` has the patterns): a rate limit
/// (HTTP 429, 503 with Retry-After, a JSON-RPC rate-limit error) is waited out — Retry-After
/// honoured up to `maxRetryAfterSeconds` — and only counts as the upstream being down after
/// `rateLimitRetries` in a row; a batch refused as too large (HTTP 413, an error object or a
/// short array for a batch, "exceeds the limit of N") is split and the working size kept per
/// upstream in `profiles`; with `expectedChainId`, an upstream serving another chain is
/// refused and skipped.
public final class UpstreamClient {
    public struct RPCError: Error, CustomStringConvertible, Equatable {
        public let code: Int
        public let message: String
        /// The error's "data" member (revert data for eth_call), passed on unchanged.
        public var data: JSONValue? = nil
        public var description: String { "upstream error \(code): \(message)" }
        public var isMethodNotFound: Bool { code == -32601 }
        /// -32601, or one of the providers' wordings for "not served here".
        public var isMethodMissing: Bool { UpstreamQuirks.isMethodMissing(code: code, message: message) }
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// `shouldStop` turned true during a wait (the indexer is stopping).
    public struct Stopped: Error, CustomStringConvertible {
        public var description: String { "stopped while waiting for the upstream" }
    }

    /// Every upstream is refused: each serves another chain than `expectedChainId`.
    public struct WrongChain: Error, CustomStringConvertible {
        public let description: String
    }

    public let endpoints: [UpstreamEndpoint]
    /// What has been learned per upstream (shared with other clients given the same object).
    public let profiles: UpstreamProfiles
    public var timeoutMillis: Int
    public var attempts: Int
    /// Batches are sent in pieces of at most this many calls even before an upstream states a limit.
    public var maxBatch = 1000
    /// Largest response read; a batch answered with more is split, as if refused as too large.
    public var maxResponseBytes = 128 << 20
    /// Rate-limited answers in a row waited out on one upstream before it counts as down.
    public var rateLimitRetries = 3
    /// Longest wait a Retry-After (or the backoff without one) imposes.
    public var maxRetryAfterSeconds = UpstreamQuirks.maxRetryAfterSeconds
    /// When set, an upstream's eth_chainId must equal it before the upstream is used.
    public var expectedChainId: UInt64?
    /// Polled while waiting (backoff, Retry-After): true ends the wait with `Stopped`.
    public var shouldStop: () -> Bool = { false }
    private var clients: [Int: HTTPClient] = [:]
    public private(set) var current = 0
    /// The upstream that gave the most recent accepted answer.
    public private(set) var lastEndpoint = 0
    private var nextId = 1
    private var checkingChain = false
    public private(set) var requests = 0
    public private(set) var failovers = 0
    public private(set) var rateLimitedAnswers = 0

    public init(endpoints: [UpstreamEndpoint], timeoutMillis: Int = 10_000, attempts: Int = 4, profiles: UpstreamProfiles? = nil) {
        precondition(!endpoints.isEmpty, "at least one upstream URL")
        self.endpoints = endpoints
        self.timeoutMillis = timeoutMillis
        self.attempts = attempts
        self.profiles = profiles ?? UpstreamProfiles(endpoints: endpoints)
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

    /// A batch: results in request order, each a value or the JSON-RPC error for it. Sent in
    /// pieces no larger than the current upstream's known limit.
    public func batch(_ calls: [(String, [JSONValue])]) throws -> [Result<JSONValue, RPCError>] {
        try InlineAttempt.mayBlock()
        var out = [Result<JSONValue, RPCError>]()
        out.reserveCapacity(calls.count)
        while out.count < calls.count {
            let limit = max(1, min(maxBatch, profiles[current].maxBatch ?? maxBatch))
            out += try send(Array(calls[out.count..<min(calls.count, out.count + limit)]))
        }
        return out
    }

    private enum Outcome {
        case answered([Result<JSONValue, RPCError>])
        case rateLimited(after: Double?, reason: String)
        case tooLarge(limit: Int?, reason: String)
    }

    /// One piece, with retries, waits and failover.
    private func send(_ calls: [(String, [JSONValue])]) throws -> [Result<JSONValue, RPCError>] {
        var lastError: Error = Unavailable(description: "no attempt made")
        var failures = 0, limitedInARow = 0
        var delay = 0.1, limitDelay = 1.0
        while failures < attempts {
            let index = try pick()
            let url = endpoints[index].redacted
            let outcome: Outcome
            do {
                if let expected = expectedChainId, !checkingChain, !profiles[index].chainVerified {
                    try verifyChain(expected)
                    continue   // now verified or refused; pick again
                }
                outcome = try exchange(calls, on: index)
            } catch let e as Stopped {
                throw e
            } catch let e as WrongChain {
                throw e
            } catch {
                lastError = error
                profiles.failed(index, "\(error)")
                drop(index)
                failures += 1
                failover()
                if failures < attempts { try pause(delay); delay = min(delay * 2, 2) }
                continue
            }
            switch outcome {
            case .answered(let results):
                lastEndpoint = index
                return results
            case .tooLarge(let stated, let reason):
                guard calls.count > 1 else { throw Unavailable(description: "\(url) \(reason) for a single \(calls[0].0) call") }
                // Each refusal lowers the limit below this piece's size, so this ends (at 1).
                let limit = stated.flatMap { (1..<calls.count).contains($0) ? $0 : nil } ?? calls.count / 2
                profiles.learnBatchLimit(index, limit)
                profiles.failed(index, "\(url) \(reason)")
                return try batch(calls)
            case .rateLimited(let after, let reason):
                rateLimitedAnswers += 1
                limitedInARow += 1
                if limitedInARow > rateLimitRetries {
                    // It persists: from here on it counts as the upstream being down.
                    lastError = Unavailable(description: "\(url) still rate limited (\(reason)) after \(rateLimitRetries) waits")
                    failures += 1
                    limitedInARow = 0
                    if endpoints.count > 1 {
                        profiles.rateLimited(index, waitSeconds: 0, reason: reason)
                        failover()
                        continue
                    }
                    if failures >= attempts { continue }   // ends the loop
                }
                let wait = min(after ?? limitDelay, maxRetryAfterSeconds)
                limitDelay = min(limitDelay * 2, maxRetryAfterSeconds)
                profiles.rateLimited(index, waitSeconds: wait, reason: reason)
                try pause(wait)
            }
        }
        throw Unavailable(description: "upstream unavailable after \(attempts) attempts: \(lastError)")
    }

    /// The current upstream unless it is refused; then the next one that is not.
    private func pick() throws -> Int {
        for _ in 0..<endpoints.count {
            let p = profiles[current]
            if p.refused == nil || (p.refusedUntil ?? .distantFuture) <= Date() { return current }
            current = (current + 1) % endpoints.count
        }
        throw WrongChain(description: profiles.all.compactMap { p in p.refused.map { "upstream \(p.url) \($0)" } }.joined(separator: "; "))
    }

    /// Asks eth_chainId and marks whichever upstream answered as verified or refused. A
    /// refusal is re-checked after 30 s, so a fixed upstream comes back.
    private func verifyChain(_ expected: UInt64) throws {
        checkingChain = true
        defer { checkingChain = false }
        let answer = try call("eth_chainId", [])
        let index = lastEndpoint
        guard let text = answer.stringValue, let id = try? Hex.decodeQuantity(text) else {
            throw Unavailable(description: "\(endpoints[index].redacted) answered eth_chainId with \(boundedQuote(JSON.serialize(answer)))")
        }
        if id == expected {
            profiles.update(index, "upstream chain id verified") { p in
                p.chainVerified = true; p.refused = nil; p.refusedUntil = nil
                return [("chainId", id)]
            }
        } else {
            let why = "serves chain id \(id), configured \(expected)"
            profiles.update(index, level: .error, "upstream refused") { p in
                p.refused = why; p.refusedUntil = Date().addingTimeInterval(30); p.lastError = why
                return [("reason", why)]
            }
            failover()
        }
    }

    /// One HTTP round trip for `calls` on upstream `index`, read into an outcome. Throws for
    /// what is worth a retry elsewhere (transport errors, bad answers).
    private func exchange(_ calls: [(String, [JSONValue])], on index: Int) throws -> Outcome {
        let url = endpoints[index].redacted
        var body = [JSONValue]()
        var ids = [Int]()
        for (m, p) in calls {
            let id = nextId; nextId += 1
            ids.append(id)
            body.append(.object(["jsonrpc": .string("2.0"), "id": .number(String(id)), "method": .string(m), "params": .array(p)]))
        }
        let payload = JSON.serialize(calls.count == 1 ? body[0] : .array(body))
        let client = try clients[index] ?? endpoints[index].makeClient(timeoutMillis: timeoutMillis)
        client.maxResponseBytes = maxResponseBytes
        clients[index] = client
        requests += 1
        let r: HTTPClient.Response
        do {
            r = try client.post("/", json: payload)
        } catch let e as NetError where calls.count > 1 && e.description.contains(" exceeds ") {
            // Net reports an answer over maxResponseBytes only in words; a smaller batch may fit.
            drop(index)
            return .tooLarge(limit: nil, reason: "answered more than \(maxResponseBytes) bytes")
        }
        let retryAfter = r.header("Retry-After").flatMap { UpstreamQuirks.retryAfterSeconds($0) }
        switch r.status {
        case 200: break
        case 429: return .rateLimited(after: retryAfter, reason: "HTTP 429")
        case 503 where retryAfter != nil: return .rateLimited(after: retryAfter, reason: "HTTP 503 with Retry-After")
        case 413 where calls.count > 1: return .tooLarge(limit: nil, reason: "answered HTTP 413 to a batch of \(calls.count)")
        default:
            // Some providers refuse a batch with a 4xx whose body is a JSON-RPC error.
            if let e = (try? JSON.parse(r.body))?["error"]?.objectValue, let o = classify(e, batchOf: calls.count, retryAfter: retryAfter) { return o }
            throw Unavailable(description: "\(url) answered HTTP \(r.status)")
        }
        let parsed: JSONValue
        do { parsed = try JSON.parse(r.body) } catch { throw Unavailable(description: "\(url) answered malformed JSON: \(error)") }
        if calls.count > 1 && parsed.arrayValue == nil {
            // An error object where the batch's array belongs: the batch as a whole was refused.
            guard let e = parsed["error"]?.objectValue else { throw Unavailable(description: "\(url) answered a batch with neither an array nor an error") }
            if let o = classify(e, batchOf: calls.count, retryAfter: retryAfter) { return o }
            let (code, message) = Self.codeAndMessage(e)
            return .tooLarge(limit: nil, reason: "answered error \(code) \(boundedQuote(message)) to a batch of \(calls.count)")
        }
        let answers = calls.count == 1 ? [parsed] : (parsed.arrayValue ?? [])
        for a in answers {
            if let e = a["error"]?.objectValue, let o = classify(e, batchOf: calls.count, retryAfter: retryAfter) { return o }
        }
        if answers.count < calls.count && calls.count > 1 {
            // A short array: the provider answered the first N and dropped the rest.
            return .tooLarge(limit: answers.isEmpty ? nil : answers.count, reason: "answered \(answers.count) results for \(calls.count) calls")
        }
        guard answers.count == calls.count else { throw Unavailable(description: "\(url) answered \(answers.count) results for \(calls.count) calls") }
        var byId = [Int: JSONValue]()
        for a in answers {
            guard case .number(let n)? = a["id"], let id = Int(n) else { throw Unavailable(description: "\(url) answered without an id") }
            byId[id] = a
        }
        var results = [Result<JSONValue, RPCError>]()
        for (id, call) in zip(ids, calls) {
            guard let a = byId[id] else { throw Unavailable(description: "\(url) did not answer request \(id)") }
            if let e = a["error"]?.objectValue {
                let (code, message) = Self.codeAndMessage(e)
                let err = RPCError(code: code, message: message, data: e["data"])
                if err.isMethodMissing { profiles.learnMissing(index, call.0) }
                results.append(.failure(err))
                continue
            }
            guard let result = a["result"] else { throw Unavailable(description: "\(url) answered neither result nor error") }
            results.append(.success(result))
        }
        return .answered(results)
    }

    /// A JSON-RPC error that is about the request rate, or (for a batch) the batch's size.
    private func classify(_ e: JSONObject, batchOf count: Int, retryAfter: Double?) -> Outcome? {
        let (code, message) = Self.codeAndMessage(e)
        if UpstreamQuirks.isRateLimit(code: code, message: message) {
            return .rateLimited(after: retryAfter, reason: "error \(code) \(boundedQuote(message))")
        }
        let (tooLarge, limit) = UpstreamQuirks.batchTooLarge(code: code, message: message)
        if count > 1 && tooLarge { return .tooLarge(limit: limit, reason: "answered error \(code) \(boundedQuote(message)) to a batch of \(count)") }
        return nil
    }

    private static func codeAndMessage(_ e: JSONObject) -> (Int, String) {
        let code: Int = { if case .number(let n)? = e["code"] { return Int(n) ?? 0 }; return 0 }()
        return (code, e["message"]?.stringValue ?? "")
    }

    private func drop(_ index: Int) {
        clients[index]?.close()
        clients[index] = nil
    }

    private func failover() {
        guard endpoints.count > 1 else { return }
        current = (current + 1) % endpoints.count
        failovers += 1
    }

    /// Sleeps in short slices, so a stopping indexer is never held by a long Retry-After.
    private func pause(_ seconds: Double) throws {
        let until = Date().addingTimeInterval(seconds)
        while true {
            if shouldStop() { throw Stopped() }
            let left = until.timeIntervalSinceNow
            if left <= 0 { return }
            usleep(UInt32(min(left, 0.05) * 1_000_000))
        }
    }
}
