import Chain
import Foundation
import Index
import Net
@testable import SimChain
import Storage
import Synchronization
import Telemetry
import Testing
@testable import Indexer

/// Applies proposals straight to a local index: the indexer's view of a one-node cluster.
final class DirectHost: IndexerHost, @unchecked Sendable {
    let env: Environment
    let index: ChainIndex
    init(env: Environment, index: ChainIndex) { self.env = env; self.index = index }
    var mayIngest: Bool { true }
    func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> String? {
        do {
            let cmd = try ChainCommand.decode(entry)
            _ = try env.write { txn in try index.apply(cmd, in: txn) }
            return nil
        } catch { return "\(error)" }
    }
}

/// A SimChain whose answers can be corrupted on purpose: changes one transaction's value in block `tamperBlock`.
final class TamperingUpstream: @unchecked Sendable {
    let chain: SimChain
    let loop: EventLoop
    let server: HTTPServer
    final class Switch: Sendable { let block = Mutex<UInt64?>(nil) }
    let tamperSwitch = Switch()

    init(options: SimChainOptions) throws {
        chain = SimChain(options: options)
        loop = try EventLoop(name: "tamper")
        let rpc = SimChainRPC(chain: chain)
        let sw = tamperSwitch
        server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in
            var resp = rpc.handle(req)
            guard let bad = sw.block.withLock({ $0 }), var parsed = try? JSON.parse(resp.body) else { return resp }
            func corrupt(_ v: JSONValue) -> JSONValue {
                guard var o = v.objectValue, var r = o["result"]?.objectValue, r["number"]?.stringValue == Hex.encodeQuantity(bad),
                      var txs = r["transactions"]?.arrayValue, var t0 = txs.first?.objectValue else { return v }
                t0["value"] = .string("0x1234567")
                txs[0] = .object(t0)
                r["transactions"] = .array(txs)
                o["result"] = .object(r)
                return .object(o)
            }
            parsed = parsed.arrayValue.map { .array($0.map(corrupt)) } ?? corrupt(parsed)
            resp.body = Array(JSON.serialize(parsed).utf8)
            return resp
        }
        loop.start()
        server.start()
    }
    func tamper(_ n: UInt64?) { tamperSwitch.block.withLock { $0 = n } }
    var url: String { "http://\(server.address)" }
    func stop() { server.shutdown(); loop.stop() }
}

@Suite(.serialized) struct IndexerTests {
    func setup(_ options: SimChainOptions, batch: Int = 4) throws -> (TamperingUpstream, DirectHost, Indexer) {
        let up = try TamperingUpstream(options: options)
        let env = try Environment(path: NSTemporaryDirectory() + "indexer-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        let host = DirectHost(env: env, index: index)
        var cfg = Indexer.Config(chainId: options.chainId, adapter: EthereumAdapter(), upstreams: [up.url])
        cfg.batchBlocks = batch
        cfg.pollMillis = 20
        let ix = Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)))
        return (up, host, ix)
    }

    func waitUntil(_ seconds: Double = 20, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if cond() { return true }; usleep(20_000) }
        return cond()
    }

    @Test func tamperedBlockIsRefusedAlertedAndNeverIndexed() throws {
        var o = SimChainOptions(); o.txsPerBlock = 5; o.blockTimeMillis = 0; o.pregenerate = 12
        let (up, host, ix) = try setup(o)
        defer { ix.stop(); up.stop() }
        up.tamper(5)
        ix.start()
        #expect(waitUntil { ix.status.refusedBlocks > 0 })
        let s = ix.status
        #expect(s.lastAlert?.contains("block 5") == true, "alert names the block: \(s.lastAlert ?? "none")")
        #expect(s.lastAlert?.contains("transactionHashes") == true || s.lastAlert?.contains("transactionsRoot") == true)
        #expect(try host.index.head(o.chainId)?.number == 4, "nothing at or past the bad block is indexed")
        // Once the upstream serves the real block again, ingestion continues.
        up.tamper(nil)
        #expect(waitUntil { (try? host.index.head(o.chainId)?.number) == 12 })
        for n in 0...12 {
            let ours = try #require(try host.index.block(o.chainId, number: UInt64(n), fullTransactions: true))
            #expect(try ours.objectValue!.hash("hash") == up.chain.snapshot[n].hash)
        }
    }

    @Test func followsReorgsToTheCanonicalChainWithTracerState() throws {
        var o = SimChainOptions(); o.txsPerBlock = 6; o.blockTimeMillis = 0; o.pregenerate = 10
        o.reorgAt = [14: 3, 18: 4]
        let (up, host, ix) = try setup(o, batch: 2)
        defer { ix.stop(); up.stop() }
        ix.start()
        for _ in 0..<14 {
            _ = waitUntil { (try? host.index.head(o.chainId)?.number) == up.chain.headNumber }
            up.chain.mine()
        }
        #expect(waitUntil { (try? host.index.head(o.chainId)?.hash) == up.chain.snapshot.last!.hash })
        #expect(ix.status.reorgs >= 2, "rewinds: \(ix.status.reorgs)")
        let canonical = up.chain.snapshot
        for b in canonical {
            let ours = try #require(try host.index.block(o.chainId, number: b.number, fullTransactions: false))
            #expect(try ours.objectValue!.hash("hash") == b.hash, "block \(b.number)")
            // Archive state from the tracer's diffs equals the simulator's state at every block.
            for t in b.transactions.prefix(3) {
                let a = try t.address("from")
                #expect(try host.index.balance(o.chainId, a, at: b.number) == b.state.account(a).balance, "balance of \(a) at \(b.number)")
                #expect(try host.index.nonce(o.chainId, a, at: b.number) == b.state.account(a).nonce)
            }
        }
        #expect(ix.status.stateSource == "prestateTracer")
    }
}
