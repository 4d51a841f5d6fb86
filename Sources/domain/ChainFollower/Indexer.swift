import ByteCodec
import Upstream
import Chain
import Foundation
import ChainIndex
import Synchronization
import Telemetry

/// Follows the upstream chain on the leader: fetch → verify → propose → (commit, apply
/// on every replica). Followers run it too but stay idle until they lead; a new leader
/// resumes from its own applied head, so nothing is skipped or indexed twice (apply
/// skips any block that does not extend the head).
public final class Indexer: @unchecked Sendable {
    public struct Config: Sendable {
        public var chainId: UInt64
        public var adapter: any ChainAdapter
        public var upstreams: [UpstreamEndpoint]
        public var batchBlocks = 16
        /// A Raft entry carries at most about this many bytes of blocks: large blocks
        /// travel in smaller batches (multi-megabyte entries stall replication).
        public var maxEntryBytes = 4 << 20
        /// Batches proposed but not yet applied: the next batch is fetched, verified and
        /// proposed while earlier ones replicate. Bounded by count and by bytes.
        public var maxBatchesInFlight = 4
        public var maxBytesInFlight = 32 << 20
        public var pollMillis = 500
        public var maxReorgDepth: UInt64 = 64
        /// First block to index when the index is empty (default 0, genesis).
        public var startBlock: UInt64 = 0
        /// Where block state comes from; see `StateMode`.
        public var stateSource = StateMode.auto
        public init(chainId: UInt64, adapter: any ChainAdapter, upstreams: [UpstreamEndpoint]) {
            self.chainId = chainId; self.adapter = adapter; self.upstreams = upstreams
        }
    }

    public struct Status: Sendable {
        public var state = IndexerState.idle
        public var upstreamHead: UInt64?
        public var indexedHead: UInt64?
        public var lagBlocks: UInt64?
        public var lagSeconds: Double?
        public var blocksPerSecond = 0.0
        public var txPerSecond = 0.0
        public var etaSeconds: Double?
        public var blocksIndexed: UInt64 = 0
        public var transactionsIndexed: UInt64 = 0
        public var reorgs = 0
        /// Depths of the rewinds since start (blocks undone), as `indexer_reorg_depth_blocks`.
        public var reorgDepths = HistogramSnapshot(empty: Status.reorgDepthBounds)
        public static let reorgDepthBounds: [Double] = [1, 2, 3, 5, 10, 20, 50, 100, 500]
        public var refusedBlocks = 0
        public var lastAlert: String?
        /// How the last indexed batch's state was obtained; nil until one was.
        public var stateSource: StateDiffSource?
        public var upstream = ""
        /// Per configured upstream, what was learned about it (receipts method, state source,
        /// batch limit, rate limits, last error, refusal), URLs redacted.
        public var upstreams: [UpstreamProfile] = []
        /// How new heads are noticed: "polling every N ms", or the WebSocket subscription's state.
        public var headSignal = ""
        /// CPU spent per ingest stage on this node since start.
        public var stageCPU = StageCPU()
    }

    let config: Config
    let index: ChainIndex
    weak var host: (any IndexerHost)?
    let logger: Logger
    private let published = Mutex(Status())
    private let running = Atomic<Bool>(false)
    private var thread: Thread?
    private var upstream: UpstreamClient
    /// Shared by the main and the prefetch client: what one learns, the other uses.
    let profiles: UpstreamProfiles
    /// Refusals already raised as alerts (upstream index → reason).
    private var alertedRefusals = [Int: String]()
    private var rate = RateMeter()
    /// Recent payload bytes per block, to size the next batch under `maxEntryBytes`.
    private var bytesPerBlock: Double?
    private let prefetchQueue = DispatchQueue(label: "indexer-prefetch")
    private let prefetchClient: PrefetchClient
    private var prefetch: Prefetch?
    /// Proposed batches, oldest first, until their outcome is known (see `settle`).
    private var inFlight: [InFlight] = []
    /// CPU time spent per stage on the leader (see `StageCPU`).
    private let cpu = StageCPUMeter()

    public init(config: Config, index: ChainIndex, host: any IndexerHost, logger: Logger) {
        self.config = config
        self.index = index
        self.host = host
        self.logger = logger
        profiles = UpstreamProfiles(endpoints: config.upstreams, logger: logger)
        headWatcher = config.upstreams.first { $0.ws != nil }.map { [wake] in
            HeadWatcher(endpoint: $0, wsURL: $0.ws!, wake: wake, logger: logger.with("module", "indexer-heads"))
        }
        upstream = UpstreamClient(endpoints: config.upstreams, profiles: profiles)
        prefetchClient = PrefetchClient(UpstreamClient(endpoints: config.upstreams, profiles: profiles))
        for c in [upstream, prefetchClient.client] {
            // Every upstream is checked before use, so failover never lands on another chain.
            c.expectedChainId = config.chainId
            // A Retry-After wait ends when the indexer stops.
            c.shouldStop = { [weak self] in self?.running.load(ordering: .acquiring) != true }
        }
    }

    public var status: Status {
        var s = published.withLock { $0 }
        s.upstreams = profiles.all
        s.stageCPU = cpu.snapshot
        s.headSignal = headWatcher.map { "\($0.state.text) at \($0.redacted), \($0.heads.load(ordering: .relaxed)) heads; polling every \(config.pollMillis) ms as fallback" }
            ?? "polling every \(config.pollMillis) ms"
        return s
    }

    public func start() {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        headWatcher?.start()
        let t = Thread { [self] in self.run() }
        t.name = "indexer"
        thread = t
        t.start()
    }

    public func stop() {
        running.store(false, ordering: .releasing)
        headWatcher?.stop()
        wake.signal()
    }

    /// Stops and waits for the ingest thread to end (an upstream call in progress ends at
    /// its timeout), so another indexer for the same chain never runs beside this one.
    /// False if it did not end within `seconds`.
    public func stop(waitingSeconds seconds: Double) -> Bool {
        stop()
        guard thread != nil else { return true }
        return finished.wait(timeout: .now() + seconds) == .success
    }

    private let finished = DispatchSemaphore(value: 0)

    /// Cuts the poll wait short when a newHeads notification arrives.
    private let wake = Wakeup()
    private let headWatcher: HeadWatcher?

    private func update(_ body: (inout Status) -> Void) { published.withLock { body(&$0) } }

    private func run() {
        defer { finished.signal() }
        var lastProgressLog = Date.distantPast
        var backoff = 0.2
        while running.load(ordering: .acquiring) {
            // With batches in flight the applied index trails the commit index by design;
            // their outcomes (or a lost leadership) arrive through `settle`.
            guard let host, host.mayIngest || !inFlight.isEmpty else {
                update { $0.state = .notLeader }
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            do {
                defer { alertRefusals() }
                let progressed = try step(host)
                backoff = 0.2
                if Date().timeIntervalSince(lastProgressLog) > 5 {
                    lastProgressLog = Date()
                    let s = status
                    logger.info("indexer progress", [("indexed", s.indexedHead.map(String.init) ?? "-"), ("upstream", s.upstreamHead.map(String.init) ?? "-"),
                                                     ("lagBlocks", s.lagBlocks.map(String.init) ?? "-"), ("blocksPerSec", s.blocksPerSecond),
                                                     ("txPerSec", s.txPerSecond), ("etaSeconds", s.etaSeconds ?? -1)])
                }
                if !progressed { wake.wait(millis: config.pollMillis) }
            } catch is UpstreamClient.Stopped {
                break
            } catch let e as UpstreamClient.WrongChain {
                alert("\(e); not ingesting")
                update { $0.state = .halted(.wrongChainId) }
                for _ in 0..<50 where running.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.1) }
            } catch let e as ProposalNotApplied {
                logger.warn("indexer proposal not applied", [("proposal", e.proposal.rawValue), ("outcome", e.outcome)])
                update { $0.state = .backoff(.replicatedLog(e)) }
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            } catch {
                abandonInFlight()
                logger.warn("indexer step failed", [("error", error)])
                update { $0.state = .backoff(.upstream("\(error)")) }
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// An upstream refused for its chain id is an alert even while another one serves.
    private func alertRefusals() {
        for (i, p) in profiles.all.enumerated() {
            guard let why = p.refused, alertedRefusals[i] != why else { continue }
            alertedRefusals[i] = why
            alert("upstream \(p.url) \(why); skipped")
        }
    }

    private func alert(_ message: String) {
        logger.error("indexer alert", [("alert", message)])
        update { $0.lastAlert = message }
    }

    /// One round; true when it proposed something (or settled batches proposed earlier).
    func step(_ host: any IndexerHost) throws -> Bool {
        let cid = config.chainId
        try settle(waitingForOldest: false)
        let head = try index.view { try $0.head(cid) }
        // Batches in flight extend the applied head; the next one extends the last of them.
        let tip: (number: UInt64, hash: Hash32)? = inFlight.last.map { ($0.lastNumber, $0.lastHash) } ?? head.map { ($0.number, $0.hash) }
        let upstreamHead = try Hex.decodeQuantity(try upstream.call("eth_blockNumber", []).stringValue ?? "")
        update { s in
            s.upstreamHead = upstreamHead
            s.indexedHead = head?.number
            s.lagBlocks = head.map { upstreamHead > $0.number ? upstreamHead - $0.number : 0 } ?? upstreamHead + 1
            s.upstream = upstream.currentURL
        }
        let next = tip.map { $0.number + 1 } ?? config.startBlock
        if next > upstreamHead {
            // Reorgs are judged against the applied head only, so settle what is in flight first.
            if !inFlight.isEmpty { try settleAll(); return true }
            // Caught up: still detect a reorg that replaced our head at the same height.
            if let head, let theirs = try fetchHash(head.number), theirs != head.hash {
                return try handleReorg(host, head: head)
            }
            update { $0.state = .following; $0.lagSeconds = 0; $0.etaSeconds = 0 }
            return false
        }
        let span = bytesPerBlock.map { max(1, min(config.batchBlocks, Int(Double(config.maxEntryBytes) / max($0, 1)))) } ?? 1
        let last = min(upstreamHead, next + UInt64(span) - 1)
        update { $0.state = .catchingUp }
        let (fetched, safe, finalized) = try takePrefetch(startingAt: next) ?? timed(\.fetchMicros) { try fetch(next...last) }
        let reports = verifyAll(fetched)
        var payloads = [ChainCommand.BlockPayload]()
        var expectedParent = tip?.hash
        var txCount = 0
        var entryBytes = 0
        for (f, report) in zip(fetched, reports) {
            if !payloads.isEmpty && entryBytes + f.payloadBytes > config.maxEntryBytes { break }
            if let p = expectedParent, f.parentHash != p {
                if payloads.isEmpty {
                    if !inFlight.isEmpty { try settleAll(); return true }
                    if let head { return try handleReorg(host, head: head) }
                }
                break   // the upstream moved under us mid-batch; propose what links up and refetch
            }
            let failures = try report.get().failures.filter { config.adapter.requiredChecks.contains($0.check) }
            if !failures.isEmpty {
                // Count and alert in one update, so a reader never sees one without the other.
                let message = "block \(f.number) \(f.hash) refused: \(failures.map(\.description).joined(separator: "; "))"
                logger.error("indexer alert", [("alert", message)])
                update { $0.refusedBlocks += 1; $0.lastAlert = message }
                break
            }
            payloads.append(f.payload)
            expectedParent = f.hash
            txCount += f.txCount
            entryBytes += f.payloadBytes
        }
        if !fetched.isEmpty {
            let sample = Double(fetched.reduce(0) { $0 + $1.payloadBytes }) / Double(fetched.count)
            bytesPerBlock = bytesPerBlock.map { 0.5 * $0 + 0.5 * sample } ?? sample
        }
        guard !payloads.isEmpty else { return !inFlight.isEmpty }
        let entry = timed(\.encodeMicros) { ChainCommand.blocks(chainId: cid, blocks: payloads, safe: safe, finalized: finalized).encoded() }
        // Prefetch once the state source is settled, so the two clients never both probe for it.
        if profiles[upstream.current].stateSource != .unknown || stateMode != .auto, payloads.last!.number < upstreamHead {
            let first = payloads.last!.number + 1
            startPrefetch(first...min(upstreamHead, first + UInt64(span) - 1))
        }
        let batch = InFlight(lastNumber: payloads.last!.number, lastHash: payloads.last!.hash, blocks: payloads.count, txs: txCount,
                             bytes: entry.count, upstreamHead: upstreamHead,
                             lastTimestamp: fetched.last(where: { $0.number == payloads.last!.number })?.timestamp,
                             stateSource: payloads.last!.state.source)
        precondition(tip.map { payloads[0].number == $0.number + 1 } ?? true, "a batch extends the tip it was built on")
        inFlight.append(batch)
        host.propose(entry, timeoutMillis: 30_000) { outcome in batch.finish(outcome) }
        // Keep the window bounded: wait for the oldest batch while it is full.
        while inFlight.count >= config.maxBatchesInFlight || inFlight.reduce(0, { $0 + $1.bytes }) > config.maxBytesInFlight {
            try settle(waitingForOldest: true)
        }
        return true
    }

    /// A batch proposed and not yet known applied.
    final class InFlight: @unchecked Sendable {
        let lastNumber: UInt64
        let lastHash: Hash32
        let blocks: Int
        let txs: Int
        let bytes: Int
        let upstreamHead: UInt64
        let lastTimestamp: UInt64?
        let stateSource: StateDiffSource
        private let done = DispatchSemaphore(value: 0)
        private let result = Mutex<ReplicationOutcome?>(nil)

        init(lastNumber: UInt64, lastHash: Hash32, blocks: Int, txs: Int, bytes: Int, upstreamHead: UInt64, lastTimestamp: UInt64?, stateSource: StateDiffSource) {
            self.lastNumber = lastNumber; self.lastHash = lastHash; self.blocks = blocks; self.txs = txs; self.bytes = bytes
            self.upstreamHead = upstreamHead; self.lastTimestamp = lastTimestamp; self.stateSource = stateSource
        }

        func finish(_ outcome: ReplicationOutcome) {
            let first = result.withLock { r -> Bool in
                guard r == nil else { return false }
                r = outcome
                return true
            }
            if first { done.signal() }
        }

        /// The outcome, waiting for it when `wait` (the log answers every proposal by its timeout).
        func outcome(wait: Bool) -> ReplicationOutcome? {
            if wait { done.wait(); done.signal() }
            return result.withLock { $0 }
        }
    }

    /// Takes finished batches off the front of the window, in order. A batch the log did
    /// not apply ends the pipeline: what follows it was built on it, so the window is
    /// dropped (anything of it that still commits no longer extends the head and is
    /// skipped by apply) and the indexer starts again from the applied head.
    private func settle(waitingForOldest: Bool) throws {
        var wait = waitingForOldest
        while let oldest = inFlight.first, let outcome = oldest.outcome(wait: wait) {
            wait = false
            inFlight.removeFirst()
            guard outcome == .applied else {
                abandonInFlight()
                throw ProposalNotApplied(proposal: .blocks, outcome: outcome)
            }
            let head = try index.view { try $0.head(config.chainId) }
            guard head?.number == oldest.lastNumber, head?.hash == oldest.lastHash else {
                // Applied but skipped (the head moved another way): what was built on it skips too.
                logger.warn("indexer batch applied without extending the head", [("batchLast", oldest.lastNumber), ("head", head.map { String($0.number) } ?? "-")])
                abandonInFlight()
                return
            }
            rate.record(blocks: oldest.blocks, txs: oldest.txs)
            update { s in
                s.blocksIndexed += UInt64(oldest.blocks)
                s.transactionsIndexed += UInt64(oldest.txs)
                s.indexedHead = oldest.lastNumber
                s.blocksPerSecond = rate.blocksPerSecond
                s.txPerSecond = rate.txPerSecond
                let lag = oldest.upstreamHead > oldest.lastNumber ? oldest.upstreamHead - oldest.lastNumber : 0
                s.lagBlocks = lag
                s.lagSeconds = oldest.lastTimestamp.map { max(0, Date().timeIntervalSince1970 - Double($0)) }
                s.etaSeconds = rate.blocksPerSecond > 0 ? Double(lag) / rate.blocksPerSecond : nil
                s.stateSource = oldest.stateSource
            }
        }
    }

    /// Waits until nothing is in flight.
    private func settleAll() throws {
        while !inFlight.isEmpty { try settle(waitingForOldest: true) }
    }

    /// Forgets the window (and the prefetch built past it) after a failure. Proposals still
    /// in the log are harmless: apply skips any that no longer extend the head.
    private func abandonInFlight() {
        inFlight.removeAll()
        prefetch = nil
    }

    /// Verifies every block of a batch at once, one per core.
    private func verifyAll(_ fetched: [Fetched]) -> [Result<VerificationReport, Error>] {
        let results = ResultSlots<VerificationReport>(count: fetched.count)
        DispatchQueue.concurrentPerform(iterations: fetched.count) { i in
            let t0 = ThreadCPU.micros()
            results.set(i, Result { try BlockVerifier.verify(block: fetched[i].blockObject, receipts: fetched[i].receiptValues) })
            let spent = ThreadCPU.micros() &- t0
            cpu.add(\.verifyMicros, spent)
        }
        return results.all
    }

    /// Runs `body`, adding the calling thread's CPU time to one stage's counter.
    private func timed<R>(_ stage: WritableKeyPath<StageCPU, UInt64> & Sendable, _ body: () throws -> R) rethrows -> R {
        let t0 = ThreadCPU.micros()
        defer { cpu.add(stage, ThreadCPU.micros() &- t0) }
        return try body()
    }

    /// Finds the newest height where our block and the upstream's agree, within the
    /// configured depth, and proposes a rewind to it. Deeper than that: stop and alert.
    private func handleReorg(_ host: any IndexerHost, head: ChainIndex.Head) throws -> Bool {
        let cid = config.chainId
        let floor = head.number > config.maxReorgDepth ? head.number - config.maxReorgDepth : 0
        var n = head.number
        while true {
            guard let ours = try index.view({ try $0.block(cid, number: n, fullTransactions: false) })?.objectValue.flatMap({ try? $0.hash("hash") }) else { break }
            if let theirs = try fetchHash(n), theirs == ours {
                if n == head.number { return false }
                logger.warn("reorg", [("ancestor", n), ("depth", head.number - n), ("oldHead", head.hash.hex)])
                let outcome = host.proposeAndApply(ChainCommand.rewind(chainId: cid, ancestor: n, ancestorHash: ours).encoded(), timeoutMillis: 30_000)
                guard outcome == .applied else { throw ProposalNotApplied(proposal: .rewind, outcome: outcome) }
                let depth = head.number - n
                update { s in
                    s.reorgs += 1
                    s.reorgDepths.observe(Double(depth))
                }
                return true
            }
            if n == floor || n == 0 { break }
            n -= 1
        }
        alert("reorg deeper than \(config.maxReorgDepth) blocks below \(head.number); ingestion stopped (no common ancestor found)")
        update { $0.state = .halted(.reorgDeeperThanLimit) }
        Thread.sleep(forTimeInterval: 5)
        return false
    }

    private func fetchHash(_ n: UInt64) throws -> Hash32? {
        let v = try upstream.call("eth_getBlockByNumber", [.string(Hex.encodeQuantity(n)), .bool(false)])
        guard let o = v.objectValue else { return nil }
        return try o.hash("hash")
    }

    struct Fetched {
        var number: UInt64
        var hash: Hash32
        var parentHash: Hash32
        var timestamp: UInt64
        var txCount: Int
        var blockObject: JSONObject
        var receiptValues: [JSONValue]
        var payload: ChainCommand.BlockPayload
        var payloadBytes: Int { payload.block.count + payload.receipts.count + 96 * (payload.state.pre.count + payload.state.post.count) }
    }

    typealias Batch = (blocks: [Fetched], safe: UInt64?, finalized: UInt64?)
    /// A pass met a missing method and recorded it in the upstream's profile: fetch again.
    struct Relearned: Error {}

    /// Where block state comes from (`chain.stateSource` in the node's configuration).
    public enum StateMode: String, Sendable, CaseIterable {
        /// The tracer until an upstream turns out not to have it, then probing (per upstream).
        case auto
        /// The tracer from the start (prefetching at once); still probing where it is missing.
        case tracer
        case probe
    }
    var stateMode: StateMode { config.stateSource }

    /// Fetches a range through the indexer's own client.
    func fetch(_ range: ClosedRange<UInt64>) throws -> Batch {
        try Self.fetch(range, client: upstream, mode: stateMode, rollupStatus: asksRollupStatus)
    }

    /// OP Stack chains take their safe and finalized heads from the rollup node's
    /// `optimism_syncStatus` where the upstream offers it (else from the block tags).
    var asksRollupStatus: Bool { config.adapter.name == "op-stack" }

    /// Fetches blocks, receipts and state changes for a range, and the upstream's safe and
    /// finalized heads, in one JSON-RPC batch (sent in pieces under the upstream's batch
    /// limit). Which receipts method and state source to use is the upstream's profile's
    /// choice; a pass that finds one missing records the fallback and the range is fetched
    /// again. Touches nothing but `client`, so it can run on the prefetch thread.
    static func fetch(_ range: ClosedRange<UInt64>, client: UpstreamClient, mode: StateMode, rollupStatus: Bool = false) throws -> Batch {
        // Two facts can be learned (receipts method, tracer), so three passes always suffice.
        for _ in 0..<3 {
            do { return try fetchOnce(range, client: client, mode: mode, rollupStatus: rollupStatus) } catch is Relearned { continue }
        }
        throw UpstreamClient.Unavailable(description: "\(client.currentURL) kept changing which methods it serves")
    }

    /// safe_l2 and finalized_l2 of an `optimism_syncStatus` answer; op-node writes block
    /// numbers as JSON numbers, some proxies as hex quantities.
    static func rollupHeads(_ status: JSONValue) -> (safe: UInt64?, finalized: UInt64?)? {
        guard let o = status.objectValue else { return nil }
        func number(_ key: String) -> UInt64? {
            switch o[key]?.objectValue?["number"] {
            case .number(let n)?: return UInt64(n)
            case .string(let s)?: return try? Hex.decodeQuantity(s)
            default: return nil
            }
        }
        let heads = (number("safe_l2"), number("finalized_l2"))
        return heads.0 == nil && heads.1 == nil ? nil : heads
    }

    private static func fetchOnce(_ range: ClosedRange<UInt64>, client: UpstreamClient, mode: StateMode, rollupStatus: Bool) throws -> Batch {
        let profile = client.profiles[client.current]
        let blockReceipts = profile.receipts != .perTransaction
        let tracer = mode != .probe && profile.stateSource != .probe
        var calls = [(String, [JSONValue])]()
        for n in range {
            let q = JSONValue.string(Hex.encodeQuantity(n))
            calls.append(("eth_getBlockByNumber", [q, .bool(true)]))
            if blockReceipts { calls.append(("eth_getBlockReceipts", [q])) }
            if tracer {
                calls.append(("debug_traceBlockByNumber", [q, .object(["tracer": .string("prestateTracer"), "tracerConfig": .object(["diffMode": .bool(true)])])]))
            }
        }
        let tags = ["safe", "finalized"]
        for tag in tags { calls.append(("eth_getBlockByNumber", [.string(tag), .bool(false)])) }
        if rollupStatus { calls.append(("optimism_syncStatus", [])) }
        let results = try client.batch(calls)
        precondition(results.count == calls.count, "a batch answers every call")
        let answeredBy = client.lastEndpoint
        let headsAt = calls.count - tags.count - (rollupStatus ? 1 : 0)
        // A tag the upstream does not know (older nodes) just leaves that head unset.
        var heads = results[headsAt..<(headsAt + tags.count)].map { r -> UInt64? in
            guard case .success(let v) = r, let o = v.objectValue else { return nil }
            return try? o.quantity("number")
        }
        if rollupStatus, case .success(let status)? = results.last, let rollup = rollupHeads(status) {
            heads = [rollup.safe ?? heads[0], rollup.finalized ?? heads[1]]
        }
        let per = 1 + (blockReceipts ? 1 : 0) + (tracer ? 1 : 0)
        var blocks = [(number: UInt64, value: JSONValue, object: JSONObject)]()
        for (i, n) in range.enumerated() {
            guard case .success(let bv) = results[i * per], let block = bv.objectValue else { break }   // not there (yet)
            blocks.append((n, bv, block))
        }
        var receipts = [[JSONValue]]()
        if blockReceipts {
            for i in blocks.indices {
                switch results[i * per + 1] {
                case .success(let r): receipts.append(r.arrayValue ?? [])
                case .failure(let e) where e.isMethodMissing:
                    client.profiles.learnReceipts(answeredBy, .perTransaction, because: e.description)
                    throw Relearned()
                case .failure(let e): throw e
                }
            }
            if !blocks.isEmpty { client.profiles.learnReceipts(answeredBy, .block) }
        } else {
            receipts = try receiptsPerTransaction(blocks.map { ($0.number, $0.object) }, client: client)
        }
        var out = [Fetched]()
        for (i, b) in blocks.enumerated() {
            let (n, bv, block) = b
            var state = StateChanges()
            if tracer {
                switch results[i * per + per - 1] {
                case .success(let t):
                    state = try StateDiff.fromPrestateTrace(t)
                    for (wi, wv) in ((try? block.array("withdrawals")) ?? []).enumerated() {
                        guard let wo = wv.objectValue else { throw FieldError(field: "withdrawals[\(wi)]", problem: "expected an object") }
                        let w = try Withdrawal(json: wo)
                        state.withdrawals.append((w.address, U256(w.amount) * U256(1_000_000_000)))
                    }
                case .failure(let e) where e.isMethodMissing || e.message.lowercased().contains("tracer"):
                    client.profiles.learnStateSource(answeredBy, .probe, because: e.description)
                    throw Relearned()
                case .failure(let e): throw e
                }
            } else {
                state = try StateProbe.probe(block: block, receipts: receipts[i], number: n, upstream: client)
            }
            let hash = try block.hash("hash")
            // The layout is noted while serializing, so replicas need not parse; a block
            // without one is proposed as is and each replica finds it (or skips the block) alike.
            let (blockJSON, receiptsJSON, layout) = BlockLayout.serializing(block: bv, receipts: receipts[i])
            let payload = ChainCommand.BlockPayload(number: n, hash: hash, parentHash: try block.hash("parentHash"),
                                                    block: blockJSON, receipts: receiptsJSON, state: state, layout: layout)
            out.append(Fetched(number: n, hash: hash, parentHash: payload.parentHash, timestamp: try block.quantity("timestamp"),
                               txCount: (try? block.array("transactions").count) ?? 0, blockObject: block, receiptValues: receipts[i], payload: payload))
        }
        if !blocks.isEmpty { client.profiles.learnStateSource(answeredBy, tracer ? .tracer : .probe) }
        return (out, heads[0], heads[1])
    }

    /// Receipts one transaction at a time, for upstreams without eth_getBlockReceipts: one
    /// batch for the whole range (split under the upstream's limit like any other).
    static func receiptsPerTransaction(_ blocks: [(number: UInt64, object: JSONObject)], client: UpstreamClient) throws -> [[JSONValue]] {
        var calls = [(String, [JSONValue])]()
        var hashes = [[String]]()
        for b in blocks {
            var list = [String]()
            for (ti, t) in ((try? b.object.array("transactions")) ?? []).enumerated() {
                guard let h = t.objectValue?["hash"]?.stringValue ?? t.stringValue else {
                    throw FieldError(field: "block \(b.number) transactions[\(ti)]", problem: "has no hash")
                }
                list.append(h)
                calls.append(("eth_getTransactionReceipt", [.string(h)]))
            }
            hashes.append(list)
        }
        let results = try client.batch(calls)
        var k = 0
        return try zip(blocks, hashes).map { b, list in
            try list.map { h in
                defer { k += 1 }
                switch results[k] {
                case .success(let r) where r.objectValue != nil: return r
                case .success:
                    throw UpstreamClient.Unavailable(description: "\(client.endpoints[client.lastEndpoint].redacted) has no receipt for transaction \(boundedQuote(h)) of block \(b.number)")
                case .failure(let e): throw e
                }
            }
        }
    }

    // MARK: prefetch

    /// The next batch, fetched on its own thread and client while the current one is being
    /// committed, so the upstream round trip overlaps replication instead of following it.
    final class Prefetch: @unchecked Sendable {
        let range: ClosedRange<UInt64>
        let started = Date()
        let done = DispatchSemaphore(value: 0)
        var outcome: Result<Batch, Error>?   // written once on the prefetch thread, read after `done`
        init(_ range: ClosedRange<UInt64>) { self.range = range }
    }

    private func startPrefetch(_ range: ClosedRange<UInt64>) {
        let job = Prefetch(range)
        prefetch = job
        let client = prefetchClient
        let mode = stateMode
        let rollupStatus = asksRollupStatus
        let cpu = cpu
        prefetchQueue.async {
            let t0 = ThreadCPU.micros()
            job.outcome = Result { try Self.fetch(range, client: client.client, mode: mode, rollupStatus: rollupStatus) }
            let spent = ThreadCPU.micros() &- t0
            cpu.add(\.fetchMicros, spent)
            job.done.signal()
        }
    }

    /// The prefetched batch if it starts at `first` and is fresh; it is consumed either way.
    private func takePrefetch(startingAt first: UInt64) -> Batch? {
        guard let job = prefetch else { return nil }
        prefetch = nil
        guard job.range.lowerBound == first, Date().timeIntervalSince(job.started) < 2 else { return nil }
        job.done.wait()
        guard case .success(let b)? = job.outcome, !b.blocks.isEmpty else { return nil }
        return b
    }
}

/// The prefetch thread's own client (UpstreamClient is single-threaded).
final class PrefetchClient: @unchecked Sendable {
    let client: UpstreamClient
    init(_ c: UpstreamClient) { client = c }
}

/// Blocks and transactions per second over a sliding window of recent batches.
struct RateMeter {
    private var samples: [(time: Double, blocks: Int, txs: Int)] = []
    mutating func record(blocks: Int, txs: Int) {
        let now = Date().timeIntervalSince1970
        samples.append((now, blocks, txs))
        samples.removeAll { now - $0.time > 30 }
    }
    private var span: Double {
        guard let first = samples.first, let last = samples.last, last.time > first.time else { return 0 }
        return last.time - first.time
    }
    var blocksPerSecond: Double { span > 0 ? Double(samples.dropFirst().reduce(0) { $0 + $1.blocks }) / span : 0 }
    var txPerSecond: Double { span > 0 ? Double(samples.dropFirst().reduce(0) { $0 + $1.txs }) / span : 0 }
}
