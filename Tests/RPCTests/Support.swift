import Upstream
import Chain
import Foundation
import ChainIndex
import ChainFollower
import Net
import SimChain
import Storage
import Synchronization
import Telemetry
import TestSupport
@testable import RPC

/// Applies the indexer's proposals straight to a local index and publishes the chain
/// events, as a node's apply path does.
final class DirectHost: IndexerHost, @unchecked Sendable {
    let env: Environment
    let index: ChainIndex
    let feed = ChainFeed()
    /// The head as of the last published events (the index can be ahead of it briefly:
    /// apply commits, then publishes, as on a node).
    let publishedHead = Mutex<ChainIndex.Head?>(nil)
    init(env: Environment, index: ChainIndex) { self.env = env; self.index = index }
    var mayIngest: Bool { true }
    func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> ReplicationOutcome {
        do {
            let cmd = try ChainCommand.decode(entry)
            let outcome = try env.write { txn in try index.apply(cmd, in: txn) }
            feed.publish(outcome.events)
            let head = try index.view { try $0.head(IndexedSimChain.chainId) }
            publishedHead.withLock { $0 = head }
            return .applied
        } catch { return .rejected("\(error)") }
    }
}

/// A SimChain upstream (in process, on an ephemeral port), indexed by an Indexer into a
/// fresh LMDB environment, with our JSON-RPC in front of the index. `ours` and `theirs`
/// send the same request body to both sides.
final class IndexedSimChain: @unchecked Sendable {
    static let chainId: UInt64 = 1337
    let sim: SimChainServer
    let host: DirectHost
    let indexer: Indexer
    let api: EthAPI
    let server: JSONRPCServer
    let upstreamRPC: SimChainRPC

    init(options: SimChainOptions, forward: Bool = true, maxLogResults: Int = 10_000) throws {
        var o = options
        o.blockTimeMillis = 0
        o.chainId = Self.chainId
        sim = try SimChainServer(options: o)
        let url = sim.start()
        let env = try Environment(path: NSTemporaryDirectory() + "rpc-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        host = DirectHost(env: env, index: index)
        var cfg = Indexer.Config(chainId: Self.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: url)])
        cfg.batchBlocks = 8
        cfg.pollMillis = 10
        indexer = Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)))
        var c = EthAPI.Config(chainId: Self.chainId)
        c.maxLogResults = maxLogResults
        api = EthAPI(config: c, index: index, feed: host.feed, forwarder: forward ? Forwarder(endpoints: [UpstreamEndpoint(url: url)]) : nil)
        let api = self.api
        server = JSONRPCServer(maxBatch: 50, stats: api.stats) { m, p in try api.encodedCall(m, p) }
        upstreamRPC = SimChainRPC(chain: sim.chain)
        indexer.start()
    }

    func stop() { indexer.stop(); sim.stop() }

    /// A SimChain seeded from the test's seed (printed for replay), `txs` transactions per
    /// block, mined to `blocks` and indexed.
    static func seeded(_ test: String, txs: Int, blocks: Int) throws -> (IndexedSimChain, seed: UInt64) {
        let seed = SeededRandom.seed(test)
        var o = SimChainOptions()
        o.seed = seed % 10_000 + 1
        o.txsPerBlock = txs
        let ix = try IndexedSimChain(options: o)
        _ = ix.sim.chain.mine(blocks)
        guard ix.waitCaughtUp() else { ix.stop(); throw TestFailure("seed \(seed): the indexer did not reach head \(blocks)") }
        return (ix, seed)
    }

    /// Waits until the index holds the upstream's head block (same number and hash).
    func waitCaughtUp(seconds: Double = 90) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let want = sim.chain.headNumber
            if let h = host.publishedHead.withLock({ $0 }), h.number == want, h.hash == sim.chain.block(want)?.hash { return true }
            usleep(10_000)
        }
        return false
    }

    static func body(_ method: String, _ params: [JSONValue], id: Int = 1) -> [UInt8] {
        Array(JSON.serialize(.object(["jsonrpc": .string("2.0"), "id": .number(String(id)), "method": .string(method), "params": .array(params)])).utf8)
    }

    /// Our full response object.
    func ours(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        guard let text = server.respond(to: Self.body(method, params)) else { throw TestFailure("no response to \(method)") }
        return try JSON.parse(text)
    }

    func theirs(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        guard let bytes = upstreamRPC.respond(to: Self.body(method, params)) else { throw TestFailure("upstream gave no response to \(method)") }
        return try JSON.parse(bytes)
    }

    func result(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let r = try ours(method, params)
        if let e = r["error"] { throw TestFailure("\(method) failed: \(JSON.serialize(e))") }
        return r["result"] ?? .null
    }
}

func hex(_ n: UInt64) -> JSONValue { .string(Hex.encodeQuantity(n)) }

func waitUntil(_ seconds: Double = 60, _ cond: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline { if cond() { return true }; usleep(10_000) }
    return cond()
}
