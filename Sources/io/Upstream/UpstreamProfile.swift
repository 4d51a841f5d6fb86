import Foundation
import Synchronization
import Telemetry

/// What the indexer has learned about one upstream: hosted providers differ in batch
/// limits, rate limits and the methods they serve, and finding out costs a failed request,
/// so each fact is learned once and kept for the process's lifetime. /status shows it.
public struct UpstreamProfile: Sendable, Equatable {
    /// How receipts are fetched from this upstream.
    public enum Receipts: String, Sendable {
        case unknown
        /// `eth_getBlockReceipts`, one call per block.
        case block
        /// `eth_getTransactionReceipt` per transaction (the upstream lacks the block method).
        case perTransaction
    }
    /// Where state changes come from.
    public enum StateSource: String, Sendable {
        case unknown
        /// `debug_traceBlockByNumber` with `prestateTracer` in diff mode.
        case tracer
        /// Balance, nonce and code of the accounts a block visibly touched.
        case probe
    }

    /// Scheme, host and port only (`UpstreamEndpoint.redacted`).
    public let url: String
    public var receipts = Receipts.unknown
    public var stateSource = StateSource.unknown
    /// The largest batch the upstream answered after refusing a larger one; nil = no limit met yet.
    public var maxBatch: Int?
    /// Methods answered "method not found" / "not supported", in the order met.
    public var missingMethods: [String] = []
    /// Answers that said "slow down" (HTTP 429, 503 with Retry-After, JSON-RPC rate-limit errors).
    public var rateLimited = 0
    /// Failed calls (transport errors, bad answers, refusals), rate limits included.
    public var errors = 0
    /// The most recent failure, as logs show it (never the URL's path, userinfo or headers).
    public var lastError: String?
    /// eth_chainId matched the configured chain id (checked once per upstream before use).
    public var chainVerified = false
    /// Why the upstream is skipped (a wrong chain id), until `refusedUntil`.
    public var refused: String?
    public var refusedUntil: Date?

    public init(url: String) { self.url = url }
}

/// The profiles of all configured upstreams, shared by every client the indexer uses (the
/// main loop's and the prefetch thread's), so a limit one of them learns holds for both.
/// Each change of a learned fact is logged once, as one event.
public final class UpstreamProfiles: Sendable {
    private let state: Mutex<[UpstreamProfile]>
    private let logger: Logger?

    public init(endpoints: [UpstreamEndpoint], logger: Logger? = nil) {
        state = Mutex(endpoints.map { UpstreamProfile(url: $0.redacted) })
        self.logger = logger
    }

    public var all: [UpstreamProfile] { state.withLock { $0 } }
    public subscript(index: Int) -> UpstreamProfile { state.withLock { $0[index] } }

    /// Updates one profile; logs `event` with the fields `change` returns when it returns any.
    func update(_ index: Int, level: Logger.Level = .info, _ event: String = "upstream capability learned",
                _ change: (inout UpstreamProfile) -> [(String, Any)]?) {
        let (url, fields) = state.withLock { s -> (String, [(String, Any)]?) in (s[index].url, change(&s[index])) }
        if let fields { logger?.log(level, event, [("upstream", url)] + fields) }
    }

    func learnBatchLimit(_ index: Int, _ limit: Int) {
        update(index) { p in
            guard p.maxBatch.map({ limit < $0 }) ?? true else { return nil }
            p.maxBatch = limit
            return [("maxBatch", limit)]
        }
    }

    func learnMissing(_ index: Int, _ method: String) {
        update(index) { p in
            guard !p.missingMethods.contains(method) else { return nil }
            p.missingMethods.append(method)
            return [("missingMethod", method)]
        }
    }

    public func learnReceipts(_ index: Int, _ r: UpstreamProfile.Receipts, because reason: String? = nil) {
        update(index) { p in
            guard p.receipts != r else { return nil }
            p.receipts = r
            return [("receipts", r.rawValue)] + (reason.map { [("reason", $0)] } ?? [])
        }
    }

    public func learnStateSource(_ index: Int, _ s: UpstreamProfile.StateSource, because reason: String? = nil) {
        update(index) { p in
            guard p.stateSource != s else { return nil }
            p.stateSource = s
            return [("stateSource", s.rawValue)] + (reason.map { [("reason", $0)] } ?? [])
        }
    }

    func rateLimited(_ index: Int, waitSeconds: Double, reason: String) {
        update(index, level: .warn, "upstream rate limited") { p in
            p.rateLimited += 1
            p.errors += 1
            p.lastError = "rate limited: \(reason)"
            return [("reason", reason), ("waitSeconds", String(format: "%.1f", waitSeconds)), ("count", p.rateLimited)]
        }
    }

    func failed(_ index: Int, _ error: String) {
        update(index) { p in p.lastError = error; p.errors += 1; return nil }
    }
}
