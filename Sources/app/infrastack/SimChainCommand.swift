import Foundation
import Net
import SimChain

/// `infrastack simchain`: serves the embedded simulated chain over JSON-RPC.
enum SimChainCommand {
    static let usage = """
    usage: infrastack simchain --listen HOST:PORT [--seed N] [--chain-id N] [--block-time-ms N]
                               [--txs-per-block N] [--pregenerate N [--replay]]
                               [--reorg-every N --reorg-depth D] [--reorg-at H:D,...] [--op-sync-status]

    A deterministic simulated EVM chain served over JSON-RPC (POST /) for demos, tests,
    chaos runs and benchmarks: ETH transfers (legacy, EIP-2930, EIP-1559), token Transfer
    logs, contract creations, storage writes, failing calls and withdrawals, in blocks whose
    hashes and roots verify. There is no EVM and signatures are not real (see SimChain).
      --listen HOST:PORT   JSON-RPC endpoint (port 0: any free port, printed at start)
      --seed N             everything follows from it (default 1)
      --chain-id N         default 1337
      --block-time-ms N    mine a block every N ms (default 1000; 0 = never)
      --txs-per-block N    default 20 (at most 100000)
      --pregenerate N      blocks to mine before serving (default 0)
      --replay             answer the indexer's per-block calls (full block, receipts,
                           prestate trace) for the pregenerated blocks from answers
                           serialized before serving, so an ingest benchmark measures the
                           cluster, not the simulator (no reorg options with it)
      --reorg-every N      a random reorg about every N blocks (default 0: none)
      --reorg-depth D      the deepest random reorg (default 2; 1...64: finalized = latest - 64)
      --reorg-at H:D,...   scripted reorgs: when mining height H, first replace the last D blocks
      --op-sync-status     also serve optimism_syncStatus like an OP Stack rollup node, with
                           safe_l2 = latest - 8 and finalized_l2 = latest - 16
    Heads: latest (= pending), safe = latest - 32, finalized = latest - 64, earliest.
    Methods: eth_chainId, net_version, web3_clientVersion, eth_syncing, eth_gasPrice,
    eth_blockNumber, eth_getBlockByNumber/ByHash, eth_getBlockReceipts,
    eth_getBlockTransactionCountByNumber/ByHash, eth_getTransactionByHash,
    eth_getTransactionByBlockNumberAndIndex/ByBlockHashAndIndex, eth_getTransactionReceipt,
    eth_getBalance, eth_getTransactionCount, eth_getCode, eth_getStorageAt, eth_getLogs,
    debug_traceBlockByNumber/ByHash and debug_traceTransaction (prestateTracer, diffMode).
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["listen", "seed", "chain-id", "block-time-ms", "txs-per-block", "pregenerate", "reorg-every", "reorg-depth", "reorg-at"],
                   boolean: ["replay", "op-sync-status"]) { o in
            if let extra = o.positional.first { throw Options.Problem(description: "unexpected argument \(extra)") }
            var opts = SimChainOptions()
            func int(_ k: String, min: Int, max: Int) throws -> Int? {
                guard let v = o.values[k] else { return nil }
                guard let i = Int(v), (min...max).contains(i) else { throw Options.Problem(description: "--\(k) must be an integer between \(min) and \(max), got '\(v)'") }
                return i
            }
            let listen: SocketAddress
            do { listen = try SocketAddress(parsing: try o.require("listen")) } catch let e as NetError { throw Options.Problem(description: "--listen: \(e)") }
            if let v = o.values["seed"] {
                guard let s = UInt64(v) else { throw Options.Problem(description: "--seed must be an unsigned 64-bit integer, got '\(v)'") }
                opts.seed = s
            }
            opts.chainId = UInt64(try int("chain-id", min: 1, max: Int(Int32.max)) ?? 1337)
            opts.blockTimeMillis = try int("block-time-ms", min: 0, max: 86_400_000) ?? 1000
            opts.txsPerBlock = try int("txs-per-block", min: 0, max: 100_000) ?? 20
            opts.pregenerate = try int("pregenerate", min: 0, max: 10_000_000) ?? 0
            opts.reorgEvery = try int("reorg-every", min: 0, max: 1_000_000) ?? 0
            opts.replay = o.flags.contains("replay")
            opts.opSyncStatus = o.flags.contains("op-sync-status")
            opts.reorgDepth = try int("reorg-depth", min: 1, max: Int(opts.finalizedDistance)) ?? 2
            if let script = o.values["reorg-at"] {
                for item in script.split(separator: ",", omittingEmptySubsequences: false) {
                    let hd = item.split(separator: ":", omittingEmptySubsequences: false)
                    guard hd.count == 2, let h = UInt64(hd[0]), h > 0, let d = Int(hd[1]), d > 0 else {
                        throw Options.Problem(description: "--reorg-at: expected HEIGHT:DEPTH pairs separated by commas (height and depth at least 1), got '\(item)'")
                    }
                    opts.reorgAt[h] = d
                }
            }
            do { try opts.validate() } catch { throw Options.Problem(description: "\(error)") }
            let server = try SimChainServer(options: opts, listen: listen)
            server.start()
            // Unbuffered, so scripts tailing the log see the URL at once.
            FileHandle.standardOutput.write(Data("simchain: \(server.url) chain id \(opts.chainId), head \(server.chain.headNumber)\n".utf8))
            waitForTerminationSignal()
            server.stop()
            return 0
        }
    }
}
