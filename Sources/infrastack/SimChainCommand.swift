import Foundation
import Net
import SimChain

/// `infrastack simchain`: serves the embedded simulated chain over JSON-RPC.
enum SimChainCommand {
    static let usage = """
    usage: infrastack simchain --listen HOST:PORT [--seed N] [--chain-id N] [--block-time-ms N]
                               [--txs-per-block N] [--pregenerate N]
                               [--reorg-every N --reorg-depth D] [--reorg-at H:D,...]

    A deterministic simulated EVM chain (transfers, token Transfer logs, contract creations,
    storage writes; valid hashes and roots) for demos, tests, chaos runs and benchmarks.
      --listen HOST:PORT   JSON-RPC endpoint (POST /)
      --seed N             everything follows from it (default 1)
      --chain-id N         default 1337
      --block-time-ms N    mine a block every N ms (default 1000; 0 = never)
      --txs-per-block N    default 20
      --pregenerate N      blocks to mine before serving (default 0)
      --reorg-every N      a reorg about every N blocks (default 0: none)
      --reorg-depth D      depth of those reorgs (default 2; kept below the safe head)
      --reorg-at H:D,...   scripted reorgs: at height H replace the last D blocks
    Methods: eth_chainId, net_version, eth_blockNumber, eth_getBlockByNumber/ByHash,
    eth_getBlockReceipts, eth_getTransactionByHash, eth_getTransactionReceipt,
    eth_getBalance, eth_getTransactionCount, eth_getCode, eth_getStorageAt, eth_getLogs,
    debug_traceBlockByNumber (prestateTracer, diffMode). Tags: latest, safe, finalized,
    earliest, pending.
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["listen", "seed", "chain-id", "block-time-ms", "txs-per-block", "pregenerate", "reorg-every", "reorg-depth", "reorg-at"]) { o in
            var opts = SimChainOptions()
            func int(_ k: String, min: Int, max: Int) throws -> Int? {
                guard let v = o.values[k] else { return nil }
                guard let i = Int(v), (min...max).contains(i) else { throw Options.Problem(description: "--\(k) must be an integer between \(min) and \(max), got \(v)") }
                return i
            }
            let listen: SocketAddress
            do { listen = try SocketAddress(parsing: try o.require("listen")) } catch let e as NetError { throw Options.Problem(description: "--listen: \(e)") }
            opts.seed = UInt64(try int("seed", min: 0, max: Int.max) ?? 1)
            opts.chainId = UInt64(try int("chain-id", min: 1, max: Int(Int32.max)) ?? 1337)
            opts.blockTimeMillis = try int("block-time-ms", min: 0, max: 86_400_000) ?? 1000
            opts.txsPerBlock = try int("txs-per-block", min: 0, max: 100_000) ?? 20
            opts.pregenerate = try int("pregenerate", min: 0, max: 10_000_000) ?? 0
            opts.reorgEvery = try int("reorg-every", min: 0, max: 1_000_000) ?? 0
            opts.reorgDepth = try int("reorg-depth", min: 1, max: Int(opts.safeDistance) - 1) ?? 2
            if let script = o.values["reorg-at"] {
                for item in script.split(separator: ",") {
                    let hd = item.split(separator: ":")
                    guard hd.count == 2, let h = UInt64(hd[0]), let d = Int(hd[1]), d > 0 else {
                        throw Options.Problem(description: "--reorg-at: expected H:D pairs, got \(item)")
                    }
                    opts.reorgAt[h] = d
                }
            }
            let server = try SimChainServer(options: opts, listen: listen)
            server.start()
            print("simchain: \(server.url) chain id \(opts.chainId), head \(server.chain.headNumber)")
            FileHandle.standardOutput.synchronizeFile()
            signal(SIGPIPE, SIG_IGN)
            let stop = DispatchSemaphore(value: 0)
            var sources = [DispatchSourceSignal]()
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                s.setEventHandler { stop.signal() }
                s.resume()
                sources.append(s)
            }
            stop.wait()
            server.stop()
            return 0
        }
    }
}
