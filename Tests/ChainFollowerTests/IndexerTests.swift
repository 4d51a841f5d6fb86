import Upstream
import Chain
import Foundation
import ChainIndex
import Net
import Storage
import Synchronization
import Telemetry
import Testing
import TestSupport
@testable import ChainFollower

/// Applies proposals straight to a local index: the indexer's view of a one-node cluster.
final class DirectHost: IndexerHost, @unchecked Sendable {
    let env: Environment
    let index: ChainIndex
    init(env: Environment, index: ChainIndex) { self.env = env; self.index = index }
    var mayIngest: Bool { true }
    func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> ReplicationOutcome {
        do {
            let cmd = try ChainCommand.decode(entry)
            _ = try env.write { txn in try index.apply(cmd, in: txn) }
            return .applied
        } catch { return .rejected("\(error)") }
    }
}

/// Applies proposals later, on its own queue, and misreports some: a timeout for an entry
/// that still applies, a lost leadership for one that never does. What an indexer with
/// batches in flight meets when the log is slow or a leader steps down mid-pipeline.
final class FlakyAsyncHost: IndexerHost, @unchecked Sendable {
    let direct: DirectHost
    let queue = DispatchQueue(label: "flaky-host")
    let rng: Mutex<SeededRandom>
    let dropped = Atomic<Int>(0), lateApplied = Atomic<Int>(0)
    private let proposals = Atomic<Int>(0)
    init(direct: DirectHost, seed: UInt64) { self.direct = direct; rng = Mutex(SeededRandom(seed: seed)) }
    var mayIngest: Bool { true }
    func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> ReplicationOutcome { direct.proposeAndApply(entry, timeoutMillis: timeoutMillis) }
    func propose(_ entry: [UInt8], timeoutMillis: Int, then: @escaping @Sendable (ReplicationOutcome) -> Void) {
        // The second proposal is dropped and the fourth applied late whatever the seed, so
        // every run meets both faults (chance alone missed them in about 1 run of 50).
        let k = proposals.add(1, ordering: .relaxed).newValue
        let (drawn, delay) = rng.withLock { ($0.next() % 10, Int($0.next() % 3_000)) }
        let roll = k == 2 ? 0 : k == 4 ? 1 : drawn
        queue.asyncAfter(deadline: .now() + .microseconds(delay)) { [self] in
            switch roll {
            case 0:
                dropped.add(1, ordering: .relaxed)
                then(.notLeader(leader: 2))
            case 1:
                lateApplied.add(1, ordering: .relaxed)
                then(.timedOut(afterMillis: timeoutMillis))
                _ = direct.proposeAndApply(entry, timeoutMillis: timeoutMillis)
            default:
                then(direct.proposeAndApply(entry, timeoutMillis: timeoutMillis))
            }
        }
    }
}

/// `infrastack simchain` as a child process, reached only through its JSON-RPC: the
/// upstream contract the indexer depends on.
final class SimChainProcess: @unchecked Sendable {
    let process = Process()
    let url: String

    init(port: UInt16, arguments: [String]) throws {
        let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("infrastack")
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "infrastack not built at \(bin.path)")
        process.executableURL = bin
        process.arguments = ["simchain", "--listen", "127.0.0.1:\(port)"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        url = "http://127.0.0.1:\(port)"
        let client = UpstreamClient(urls: [url], timeoutMillis: 1000, attempts: 1)
        for _ in 0..<300 {
            if (try? client.call("eth_blockNumber", [])) != nil { return }
            usleep(50_000)
        }
        throw TestError("simchain did not start at \(url)")
    }

    func stop() { process.terminate(); process.waitUntilExit() }
}

struct TestError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

/// A proxy in front of an upstream that corrupts one transaction of block `tamperBlock`.
final class TamperingProxy: @unchecked Sendable {
    final class Switch: Sendable { let block = Mutex<UInt64?>(nil) }
    let tamperSwitch = Switch()
    let loop: EventLoop
    let server: HTTPServer

    init(upstream: String) throws {
        loop = try EventLoop(name: "tamper")
        let sw = tamperSwitch
        server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in
            guard let client = try? HTTPClient(url: upstream), let r = try? client.request("POST", "/", headers: [("Content-Type", "application/json")], body: req.body) else {
                return .json("{}", status: 502)
            }
            guard let bad = sw.block.withLock({ $0 }), var parsed = try? JSON.parse(r.body) else { return .json(r.text) }
            func corrupt(_ v: JSONValue) -> JSONValue {
                guard var o = v.objectValue, var res = o["result"]?.objectValue, res["number"]?.stringValue == Hex.encodeQuantity(bad),
                      var txs = res["transactions"]?.arrayValue, var t0 = txs.first?.objectValue else { return v }
                t0["value"] = .string("0x1234567")
                txs[0] = .object(t0)
                res["transactions"] = .array(txs)
                o["result"] = .object(res)
                return .object(o)
            }
            parsed = parsed.arrayValue.map { .array($0.map(corrupt)) } ?? corrupt(parsed)
            return .json(JSON.serialize(parsed))
        }
        loop.start()
        server.start()
    }
    func tamper(_ n: UInt64?) { tamperSwitch.block.withLock { $0 = n } }
    var url: String { "http://\(server.address)" }
    func stop() { server.shutdown(); loop.stop() }
}

@Suite(.serialized) struct IndexerTests {
    static let chainId: UInt64 = 1337

    func indexer(_ url: String, batch: Int, adapter: any ChainAdapter = EthereumAdapter()) throws -> (DirectHost, Indexer) {
        let env = try Environment(path: NSTemporaryDirectory() + "indexer-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        let host = DirectHost(env: env, index: index)
        var cfg = Indexer.Config(chainId: Self.chainId, adapter: adapter, upstreams: [UpstreamEndpoint(url: url)])
        cfg.batchBlocks = batch
        cfg.pollMillis = 20
        return (host, Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true))))
    }

    func waitUntil(_ seconds: Double = 90, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if cond() { return true }; usleep(20_000) }
        return cond()
    }

    func hash(_ rpc: UpstreamClient, _ n: UInt64) throws -> Hash32? {
        try rpc.call("eth_getBlockByNumber", [.string(Hex.encodeQuantity(n)), .bool(false)]).objectValue?.hash("hash")
    }

    @Test func tamperedBlockIsRefusedAlertedAndNeverIndexed() throws {
        let sim = try SimChainProcess(port: 24411, arguments: ["--txs-per-block", "5", "--pregenerate", "12", "--block-time-ms", "0"])
        defer { sim.stop() }
        let proxy = try TamperingProxy(upstream: sim.url)
        defer { proxy.stop() }
        let (host, ix) = try indexer(proxy.url, batch: 4)
        defer { ix.stop() }
        proxy.tamper(5)
        ix.start()
        #expect(waitUntil { ix.status.refusedBlocks > 0 })
        let s = ix.status
        #expect(s.lastAlert?.contains("block 5") == true, "alert names the block: \(s.lastAlert ?? "none")")
        // Blocks before the bad one are indexed; the bad one never is, however long we wait.
        #expect(waitUntil { (try? host.index.view { try $0.head(Self.chainId) }?.number) == 4 })
        usleep(300_000)
        #expect(try host.index.view { try $0.head(Self.chainId) }?.number == 4, "nothing at or past the bad block is indexed")
        #expect(ix.status.refusedBlocks >= 1)
        // Once the upstream serves the real block again, ingestion continues to the head.
        proxy.tamper(nil)
        #expect(waitUntil { (try? host.index.view { try $0.head(Self.chainId) }?.number) == 12 })
        let rpc = UpstreamClient(urls: [sim.url])
        for n in 0...12 as ClosedRange<UInt64> {
            let ours = try #require(try host.index.view { try $0.block(Self.chainId, number: n, fullTransactions: false) })
            #expect(try ours.objectValue!.hash("hash") == hash(rpc, n), "block \(n)")
        }
    }

    /// Finality by adapter: an op-stack chain takes safe and finalized from the rollup
    /// node's optimism_syncStatus when the upstream serves it, everything else from the
    /// block tags (SimChain: tags latest − 32 / − 64, syncStatus latest − 8 / − 16).
    @Test func finalityFollowsTheRollupNodeForOPStackAndTheTagsOtherwise() throws {
        let sim = try SimChainProcess(port: 24414, arguments: ["--txs-per-block", "2", "--pregenerate", "100", "--block-time-ms", "0", "--op-sync-status"])
        defer { sim.stop() }
        let plain = try SimChainProcess(port: 24415, arguments: ["--txs-per-block", "2", "--pregenerate", "100", "--block-time-ms", "0"])
        defer { plain.stop() }
        for (url, adapter, safe, finalized) in [(sim.url, "op-stack", 92, 84), (sim.url, "ethereum", 68, 36), (plain.url, "op-stack", 68, 36)] as [(String, String, UInt64, UInt64)] {
            let (host, ix) = try indexer(url, batch: 16, adapter: ChainAdapters.named(adapter)!)
            defer { ix.stop() }
            ix.start()
            #expect(waitUntil { ((try? host.index.view { try $0.head(Self.chainId) }?.number) ?? 0) >= 100 })
            let heads = try host.index.view { v in (try v.head(Self.chainId, .safe)?.number, try v.head(Self.chainId, .finalized)?.number) }
            #expect(heads.0 == safe && heads.1 == finalized, "\(adapter) on \(url == sim.url ? "a rollup-status" : "a plain") upstream: safe \(String(describing: heads.0)), finalized \(String(describing: heads.1))")
        }
        #expect(Indexer.rollupHeads(.object(["safe_l2": .object(["number": .string("0x10")]), "finalized_l2": .object(["number": .number("9")])]))! == (16, 9))
        #expect(Indexer.rollupHeads(.object(["unsafe_l2": .object([:])])) == nil, "an answer without L2 heads leaves the tags in charge")
    }

    @Test func followsReorgsToTheCanonicalChainWithTracerState() throws {
        let sim = try SimChainProcess(port: 24412, arguments: ["--txs-per-block", "6", "--pregenerate", "10", "--block-time-ms", "60",
                                                             "--reorg-at", "14:3,18:4,22:2"])
        defer { sim.stop() }
        let (host, ix) = try indexer(sim.url, batch: 2)
        defer { ix.stop() }
        ix.start()
        let rpc = UpstreamClient(urls: [sim.url])
        // Wait past the scripted reorgs; blocks more than 4 below the head can no longer change.
        #expect(waitUntil { ((try? Hex.decodeQuantity(rpc.call("eth_blockNumber", []).stringValue ?? "")) ?? 0) >= 30 })
        let target: UInt64 = 30 - 5
        #expect(waitUntil { ((try? host.index.view { try $0.head(Self.chainId) }?.number) ?? 0) >= 30 })
        #expect(ix.status.reorgs >= 1, "rewinds: \(ix.status.reorgs)")
        #expect(ix.status.stateSource == .prestateTracer)
        for n in 0...target {
            let ours = try #require(try host.index.view { try $0.block(Self.chainId, number: n, fullTransactions: true) }?.objectValue)
            #expect(try ours.hash("hash") == hash(rpc, n), "block \(n) follows the canonical chain")
            // Archive state from the tracer's diffs equals the upstream's at that block.
            for t in (try ours.array("transactions")).prefix(3) {
                let a = try t.objectValue!.address("from")
                let at = JSONValue.string(Hex.encodeQuantity(n))
                let balance = try U256(quantity: rpc.call("eth_getBalance", [.string(a.hex), at]).stringValue ?? "")
                let nonce = try Hex.decodeQuantity(rpc.call("eth_getTransactionCount", [.string(a.hex), at]).stringValue ?? "")
                #expect(try host.index.request(chain: Self.chainId, upstream: nil) { try $0.state(.balance, of: a, at: n) } == balance, "balance of \(a) at \(n)")
                #expect(try host.index.request(chain: Self.chainId, upstream: nil) { try $0.state(.nonce, of: a, at: n) } == nonce, "nonce of \(a) at \(n)")
            }
        }
    }

    /// Batches in flight through a log that answers late, times out entries that still
    /// apply and drops others, while the upstream reorgs: the index still ends on the
    /// canonical chain, every block once, none missing.
    @Test func aPipelineThroughAFlakyLogEndsOnTheCanonicalChain() throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("aPipelineThroughAFlakyLogEndsOnTheCanonicalChain: seed \(seed)")
        let sim = try SimChainProcess(port: 24417, arguments: ["--txs-per-block", "4", "--pregenerate", "30", "--block-time-ms", "40",
                                                             "--reorg-at", "36:3,44:4,52:2"])
        defer { sim.stop() }
        let env = try Environment(path: NSTemporaryDirectory() + "indexer-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        let host = FlakyAsyncHost(direct: DirectHost(env: env, index: index), seed: seed)
        var cfg = Indexer.Config(chainId: Self.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: sim.url)])
        cfg.batchBlocks = 2
        cfg.pollMillis = 20
        let ix = Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)))
        defer { ix.stop() }
        ix.start()
        let rpc = UpstreamClient(urls: [sim.url])
        #expect(waitUntil { ((try? Hex.decodeQuantity(rpc.call("eth_blockNumber", []).stringValue ?? "")) ?? 0) >= 60 }, "seed \(seed)")
        #expect(waitUntil { ((try? index.view { try $0.head(Self.chainId) }?.number) ?? 0) >= 60 }, "seed \(seed)")
        #expect(host.dropped.load(ordering: .relaxed) > 0 && host.lateApplied.load(ordering: .relaxed) > 0, "faults were injected (seed \(seed))")
        for n in 0...(60 - 5) as ClosedRange<UInt64> {
            let ours = try #require(try index.view { try $0.block(Self.chainId, number: n, fullTransactions: false) }?.objectValue, "block \(n) indexed (seed \(seed))")
            #expect(try ours.hash("hash") == hash(rpc, n), "block \(n) follows the canonical chain (seed \(seed))")
            if n > 0 {
                let parent = try #require(try index.view { try $0.block(Self.chainId, number: n - 1, fullTransactions: false) }?.objectValue)
                #expect(try ours.hash("parentHash") == parent.hash("hash"), "block \(n) links to \(n - 1) (seed \(seed))")
            }
        }
    }
}
