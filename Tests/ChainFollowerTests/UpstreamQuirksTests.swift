@testable import Upstream
import Chain
import Foundation
import ChainIndex
import Net
import Storage
import Synchronization
import Telemetry
import Testing
@testable import ChainFollower

/// Hosted-provider behaviour: rate limits, batch limits, missing methods, slow and oversized
/// answers, wrong chain ids; against `ScriptedUpstream`, alone or in front of SimChain.
@Suite(.serialized) struct UpstreamQuirksTests {
    static let chainId: UInt64 = 1337

    func echoes(_ n: Int, width: Int = 8) -> [(String, [JSONValue])] {
        (0..<n).map { ("echo", [.string(String(repeating: "x", count: width) + String($0))]) }
    }

    func values(_ results: [Result<JSONValue, UpstreamClient.RPCError>]) -> [String] {
        results.map { r in if case .success(let v) = r { return v.stringValue ?? "?" }; return "error" }
    }

    // MARK: parsing and classification

    @Test func retryAfterInSecondsOrAsAnHTTPDate() {
        #expect(UpstreamQuirks.httpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        let now = Date(timeIntervalSince1970: 784_111_767)
        #expect(UpstreamQuirks.retryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 10)
        #expect(UpstreamQuirks.retryAfterSeconds("Sat, 05 Nov 1994 08:49:37 GMT", now: now) == 0, "a date in the past means now")
        #expect(UpstreamQuirks.retryAfterSeconds("7", now: now) == 7)
        #expect(UpstreamQuirks.retryAfterSeconds(" 0 ", now: now) == 0)
        for bad in ["soon", "-1", "1.5", "", "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 CET"] {
            #expect(UpstreamQuirks.retryAfterSeconds(bad, now: now) == nil, "\(bad)")
        }
    }

    @Test func providerErrorsAreClassified() {
        #expect(UpstreamQuirks.isRateLimit(code: -32005, message: "request rate exceeded"))
        #expect(UpstreamQuirks.isRateLimit(code: 429, message: "slow down"))
        #expect(UpstreamQuirks.isRateLimit(code: -32000, message: "Too Many Requests"))
        #expect(UpstreamQuirks.isRateLimit(code: -32007, message: "your app has exceeded its compute units per second capacity"))
        #expect(!UpstreamQuirks.isRateLimit(code: -32005, message: "query returned more than 10000 results"), "eth_getLogs' result cap is no rate limit")
        #expect(!UpstreamQuirks.isRateLimit(code: -32000, message: "header not found"))
        #expect(UpstreamQuirks.batchTooLarge(code: -32600, message: "batch too large") == (true, nil))
        #expect(UpstreamQuirks.batchTooLarge(code: -32600, message: "batch of 34 requests exceeds the limit of 10") == (true, 10))
        #expect(UpstreamQuirks.batchTooLarge(code: -32000, message: "Batch size too large, maximum 25") == (true, 25))
        #expect(UpstreamQuirks.batchTooLarge(code: -32000, message: "execution reverted") == (false, nil))
        #expect(UpstreamQuirks.isMethodMissing(code: -32601, message: ""))
        #expect(UpstreamQuirks.isMethodMissing(code: -32000, message: "the method eth_getBlockReceipts does not exist/is not available"))
        #expect(UpstreamQuirks.isMethodMissing(code: -32600, message: "Unsupported method: debug_traceBlockByNumber"))
        #expect(UpstreamQuirks.isMethodMissing(code: -32000, message: "eth_getBlockReceipts is not supported"))
        #expect(!UpstreamQuirks.isMethodMissing(code: -32000, message: "block does not exist"))
    }

    // MARK: batch limits

    @Test(arguments: [(ScriptedUpstream.BatchRefusal.errorObject(statesLimit: true), 10), (.errorObject(statesLimit: false), 10),
                      (.http413, 10), (.perCallErrors, 7), (.truncated, 6)])
    func batchLimitIsLearnedAndRemembered(_ refusal: ScriptedUpstream.BatchRefusal, _ limit: Int) throws {
        let fake = try ScriptedUpstream(ScriptedUpstream.Script(batchLimit: limit, refusal: refusal))
        defer { fake.stop() }
        let client = UpstreamClient(urls: [fake.url], timeoutMillis: 2000)
        let calls = echoes(34)
        #expect(values(try client.batch(calls)) == calls.map { $0.1[0].stringValue! }, "answers in request order (\(refusal))")
        let learned = try #require(client.profiles[0].maxBatch, "a limit learned from \(refusal)")
        #expect(learned <= limit)
        switch refusal {
        case .errorObject(false), .http413:
            #expect(2 * learned >= limit, "halving stops within a factor of two of the real limit")
        case .errorObject(true), .perCallErrors, .truncated:
            #expect(learned == limit, "the stated or answered size is taken as it is")
        }
        let refused = fake.counters.withLock { $0.refusedBatches }
        #expect(refused >= 1)
        // Remembered: the next large batch is split up front, nothing is refused again.
        #expect(values(try client.batch(echoes(50))).count == 50)
        #expect(fake.counters.withLock { $0.refusedBatches } == refused, "no batch over the learned limit is sent again")
        #expect(fake.counters.withLock { $0.largestServed } <= limit)
        // Shared profiles: a second client (the prefetch thread's) starts from what was learned.
        let other = UpstreamClient(endpoints: client.endpoints, profiles: client.profiles)
        _ = try other.batch(echoes(30))
        #expect(fake.counters.withLock { $0.refusedBatches } == refused)
    }

    @Test func answersLargerThanTheLimitAreSplitOrRefusedNamingTheUpstream() throws {
        let fake = try ScriptedUpstream(ScriptedUpstream.Script(pathKey: "sekrit-key-123"))
        defer { fake.stop() }
        let client = UpstreamClient(urls: [fake.url], timeoutMillis: 2000, attempts: 2)
        client.maxResponseBytes = 1200
        let calls = echoes(20, width: 40)
        #expect(values(try client.batch(calls)) == calls.map { $0.1[0].stringValue! }, "a smaller batch fits")
        #expect((client.profiles[0].maxBatch ?? 99) < 20)
        let e = #expect(throws: UpstreamClient.Unavailable.self) { try client.call("echo", [.string(String(repeating: "y", count: 5000))]) }
        let text = e.map { "\($0)" } ?? ""
        #expect(text.contains(fake.redacted) && text.contains("1200"), "names the upstream and the limit: \(text)")
        #expect(!text.contains("sekrit"), "never the key: \(text)")
    }

    @Test func slowAnswerTimesOutNamingTheUpstreamRedacted() throws {
        let fake = try ScriptedUpstream(ScriptedUpstream.Script(delayMillis: 800, pathKey: "sekrit-key-456"))
        defer { fake.stop() }
        let client = UpstreamClient(urls: [fake.url], timeoutMillis: 200, attempts: 2)
        let e = #expect(throws: UpstreamClient.Unavailable.self) { try client.call("echo", [.string("a")]) }
        let text = e.map { "\($0)" } ?? ""
        #expect(text.contains(fake.redacted) && text.contains("200 ms"), "names the upstream and the timeout: \(text)")
        #expect(!text.contains("sekrit"), "never the key: \(text)")
        #expect(client.profiles[0].lastError?.contains("sekrit") == false)
    }

    @Test func droppedConnectionsAreRetried() throws {
        let up = try DroppingUpstream(drops: 2)
        defer { up.stop() }
        let client = UpstreamClient(urls: [up.url], timeoutMillis: 2000)
        #expect(try client.call("eth_blockNumber", []).stringValue == "ok")
        #expect(values(try client.batch(echoes(3))) == ["ok", "ok", "ok"])
        #expect(up.accepted.load(ordering: .acquiring) == 4, "two dropped, then one connection per request")
        let error = client.profiles[0].lastError ?? ""
        #expect(error.contains("connection closed by \(up.url)"), "the drop is recorded naming the upstream: \(error)")
        // More drops in a row than attempts: a clear error, no hang.
        let worse = try DroppingUpstream(drops: 100)
        defer { worse.stop() }
        let e = #expect(throws: UpstreamClient.Unavailable.self) { try UpstreamClient(urls: [worse.url], timeoutMillis: 2000, attempts: 3).call("x", []) }
        #expect(e.map { "\($0)".contains("after 3 attempts") && "\($0)".contains("127.0.0.1:\(worse.port)") } == true)
    }

    // MARK: rate limits

    @Test(arguments: [ScriptedUpstream.RateLimit.http429(retryAfter: "1"), .http503(retryAfter: "1"),
                      .rpc(code: -32005, message: "request rate exceeded"), .http429(retryAfter: nil)])
    func rateLimitIsWaitedOutCountedAndNoFailover(_ limit: ScriptedUpstream.RateLimit) throws {
        let a = try ScriptedUpstream(ScriptedUpstream.Script(rateLimits: [limit, limit]))
        let b = try ScriptedUpstream()
        defer { a.stop(); b.stop() }
        let client = UpstreamClient(urls: [a.url, b.url], timeoutMillis: 2000)
        let started = Date()
        #expect(try client.call("echo", [.string("hi")]).stringValue == "hi")
        #expect(Date().timeIntervalSince(started) >= 1.8, "waited about a second twice (Retry-After or the 1 s backoff)")
        #expect(client.failovers == 0, "a rate limit is not the upstream being down")
        #expect(b.counters.withLock { $0.requests } == 0)
        #expect(client.profiles[0].rateLimited == 2)
        #expect(client.rateLimitedAnswers == 2)
        #expect(client.profiles[0].lastError?.hasPrefix("rate limited") == true)
    }

    @Test func retryAfterAsAnHTTPDateIsHonoured() throws {
        let when = Date().addingTimeInterval(2)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let a = try ScriptedUpstream(ScriptedUpstream.Script(rateLimits: [.http429(retryAfter: f.string(from: when))]))
        defer { a.stop() }
        let client = UpstreamClient(urls: [a.url], timeoutMillis: 2000)
        #expect(try client.call("echo", [.string("x")]).stringValue == "x")
        // Second granularity: the wait ends within the second before `when` at the earliest.
        #expect(Date() >= when.addingTimeInterval(-1.05))
        #expect(client.profiles[0].rateLimited == 1)
    }

    @Test func persistentRateLimitCountsAsDownAndFailsOver() throws {
        let a = try ScriptedUpstream(ScriptedUpstream.Script(alwaysRateLimited: .http429(retryAfter: "0")))
        let b = try ScriptedUpstream()
        defer { a.stop(); b.stop() }
        let client = UpstreamClient(urls: [a.url, b.url], timeoutMillis: 2000)
        #expect(try client.call("echo", [.string("hi")]).stringValue == "hi")
        #expect(client.failovers == 1)
        #expect(client.lastEndpoint == 1)
        #expect(a.counters.withLock { $0.rateLimited } == client.rateLimitRetries + 1)
        // Alone, a persistent limit ends in an error naming the upstream, after bounded waits.
        let lone = UpstreamClient(urls: [a.url], timeoutMillis: 2000, attempts: 2)
        let e = #expect(throws: UpstreamClient.Unavailable.self) { try lone.call("echo", [.string("x")]) }
        #expect(e.map { "\($0)".contains("still rate limited") && "\($0)".contains(a.redacted) } == true, "\(e.map { "\($0)" } ?? "")")
    }

    @Test func stoppingCutsALongRetryAfterShort() throws {
        let a = try ScriptedUpstream(ScriptedUpstream.Script(alwaysRateLimited: .http429(retryAfter: "3600")))
        defer { a.stop() }
        let client = UpstreamClient(urls: [a.url], timeoutMillis: 2000)
        let stop = Atomic<Bool>(false)
        client.shouldStop = { stop.load(ordering: .acquiring) }
        Thread.detachNewThread { usleep(300_000); stop.store(true, ordering: .releasing) }
        let started = Date()
        #expect(throws: UpstreamClient.Stopped.self) { try client.call("echo", [.string("x")]) }
        #expect(Date().timeIntervalSince(started) < 10, "a one-hour Retry-After (capped at 30 s) ends with the stop")
        #expect(client.maxRetryAfterSeconds == 30)
    }

    // MARK: the indexer against quirky upstreams

    func indexer(_ urls: [String], batch: Int = 8) throws -> (DirectHost, Indexer) {
        let env = try Environment(path: NSTemporaryDirectory() + "quirks-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        let host = DirectHost(env: env, index: index)
        var cfg = Indexer.Config(chainId: Self.chainId, adapter: EthereumAdapter(), upstreams: urls.map { UpstreamEndpoint(url: $0) })
        cfg.batchBlocks = batch
        cfg.pollMillis = 20
        return (host, Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true))))
    }

    func waitUntil(_ seconds: Double = 60, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if cond() { return true }; usleep(20_000) }
        return cond()
    }

    @Test func followsAProviderWithoutBlockReceiptsOrTracerUnderItsBatchLimit() throws {
        let sim = try SimChainProcess(port: 24421, arguments: ["--txs-per-block", "6", "--pregenerate", "12", "--block-time-ms", "0"])
        defer { sim.stop() }
        let fake = try ScriptedUpstream(ScriptedUpstream.Script(batchLimit: 10, refusal: .errorObject(statesLimit: true), rateLimitEvery: 9,
                                                               missing: ["eth_getBlockReceipts", "debug_traceBlockByNumber"], pathKey: "k-777"),
                                        backend: sim.url)
        defer { fake.stop() }
        let (host, ix) = try indexer([fake.url])
        defer { ix.stop() }
        ix.start()
        #expect(waitUntil { (try? host.index.view { try $0.head(Self.chainId) }?.number) == 12 }, "state: \(ix.status.state)")
        let rpc = UpstreamClient(urls: [sim.url])
        for n in 0...12 as ClosedRange<UInt64> {
            let q = JSONValue.string(Hex.encodeQuantity(n))
            let ours = try #require(try host.index.view { try $0.block(Self.chainId, number: n, fullTransactions: true) })
            #expect(JSON.serialize(ours) == JSON.serialize(try rpc.call("eth_getBlockByNumber", [q, .bool(true)])), "block \(n)")
            let receipts = try #require(try host.index.view { try $0.receipts(Self.chainId, block: n) })
            #expect(JSON.serialize(.array(receipts)) == JSON.serialize(try rpc.call("eth_getBlockReceipts", [q])), "receipts of block \(n)")
        }
        // Probed state: a sender's balance and nonce at its block equal the upstream's.
        let block = try #require(try host.index.view { try $0.block(Self.chainId, number: 10, fullTransactions: true) }?.objectValue)
        let from = try #require(try block.array("transactions").first?.objectValue).address("from")
        let at = JSONValue.string(Hex.encodeQuantity(10))
        #expect(try host.index.request(chain: Self.chainId, upstream: nil) { try $0.state(.balance, of: from, at: 10) } == U256(quantity: rpc.call("eth_getBalance", [.string(from.hex), at]).stringValue ?? ""))
        #expect(try host.index.request(chain: Self.chainId, upstream: nil) { try $0.state(.nonce, of: from, at: 10) } == Hex.decodeQuantity(rpc.call("eth_getTransactionCount", [.string(from.hex), at]).stringValue ?? ""))
        let s = ix.status
        #expect(s.stateSource == .probe)
        let p = try #require(s.upstreams.first)
        #expect(p.url == fake.redacted && !p.url.contains("k-777"))
        #expect(p.receipts == .perTransaction)
        #expect(p.stateSource == .probe)
        #expect(p.maxBatch == 10)
        #expect(p.missingMethods.sorted() == ["debug_traceBlockByNumber", "eth_getBlockReceipts"])
        #expect(p.rateLimited >= 1, "every 9th request was a 429")
        #expect(p.chainVerified)
        #expect(fake.counters.withLock { $0.largestServed } <= 10)
        #expect(fake.counters.withLock { $0.refusedBatches } <= 2, "learned once (main and prefetch clients may each meet it once)")
    }

    @Test func anUpstreamOnTheWrongChainIsRefusedSkippedAndAlerted() throws {
        let sim = try SimChainProcess(port: 24422, arguments: ["--txs-per-block", "3", "--pregenerate", "8", "--block-time-ms", "0"])
        defer { sim.stop() }
        let wrong = try ScriptedUpstream(ScriptedUpstream.Script(chainId: 1, pathKey: "wrong-key"), backend: sim.url)
        let right = try ScriptedUpstream(backend: sim.url)
        defer { wrong.stop(); right.stop() }
        let (host, ix) = try indexer([wrong.url, right.url])
        defer { ix.stop() }
        ix.start()
        #expect(waitUntil { (try? host.index.view { try $0.head(Self.chainId) }?.number) == 8 }, "state: \(ix.status.state)")
        let s = ix.status
        #expect(s.upstreams[0].refused == "serves chain id 1, configured 1337")
        #expect(!s.upstreams[0].chainVerified)
        #expect(s.upstreams[1].chainVerified)
        #expect(s.lastAlert?.contains(wrong.redacted) == true && s.lastAlert?.contains("chain id 1") == true, "\(s.lastAlert ?? "no alert")")
        #expect(s.lastAlert?.contains("wrong-key") == false)
        // Only eth_chainId ever went to the wrong one.
        #expect(wrong.counters.withLock { $0.requests } == 1)
    }

    @Test func onlyWrongChainUpstreamsHaltIngestion() throws {
        let wrong = try ScriptedUpstream(ScriptedUpstream.Script(chainId: 5))
        defer { wrong.stop() }
        let (host, ix) = try indexer([wrong.url])
        defer { ix.stop() }
        ix.start()
        #expect(waitUntil(10) { ix.status.state == .halted(.wrongChainId) }, "state: \(ix.status.state)")
        #expect(ix.status.lastAlert?.contains("serves chain id 5, configured 1337") == true)
        #expect(try host.index.view { try $0.head(Self.chainId) } == nil)
    }
}
