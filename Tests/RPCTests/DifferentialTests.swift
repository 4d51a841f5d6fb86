import Chain
import Foundation
import ChainIndex
import SimChain
import Testing
import TestSupport
@testable import RPC

/// For many random requests, the answer our index gives equals the upstream's: blocks
/// (hashes and full), transactions, receipts, log filters, and account state at past
/// blocks — after reorgs, so rewound data must be gone and replaced exactly.
@Suite(.serialized) struct DifferentialTests {
    @Test func answersEqualTheUpstreamAcrossReorgs() throws {
        let (ix, seed) = try IndexedSimChain.seeded("rpc differential", txs: 8, blocks: 30)
        defer { ix.stop() }
        var rng = SeededRandom(seed: seed)
        let chain = ix.sim.chain
        _ = chain.reorg(depth: 3)
        _ = chain.mine(6)
        _ = chain.reorg(depth: 2)
        _ = chain.mine(4)
        #expect(ix.waitCaughtUp(), "seed \(seed): indexer did not follow the reorgs to head \(chain.headNumber)")
        let head = chain.headNumber

        // Things to ask about, drawn from the upstream's canonical chain and its traces.
        let blocks = chain.canonical
        let txHashes = blocks.flatMap { b in b.transactionHashes.map { JSONValue.string($0.hex) } }
        var accounts = Set(chain.eoas + chain.tokens + [chain.store, chain.miner])
        var slots = [(Address, String)]()
        for n in stride(from: 1, through: head, by: 3) {
            guard let traces = try ix.theirs("debug_traceBlockByNumber", [hex(n), .object(["tracer": .string("prestateTracer"), "tracerConfig": .object(["diffMode": .bool(true)])])])["result"]?.arrayValue else { continue }
            for t in traces {
                for side in ["pre", "post"] {
                    for (a, acct) in t["result"]?[side]?.objectValue?.pairs ?? [] {
                        guard let addr = try? Address(hex: a.lowercased()) else { continue }
                        accounts.insert(addr)
                        for slot in acct["storage"]?.objectValue?.keys ?? [] { slots.append((addr, slot)) }
                    }
                }
            }
        }
        let accountList = Array(accounts).sorted { $0.hex < $1.hex } + [try Address(hex: "0x00000000000000000000000000000000000000aa")]
        let abandoned = chain.reorgs.flatMap(\.replaced)
        #expect(!abandoned.isEmpty && !slots.isEmpty && txHashes.count > 100, "seed \(seed): workload too thin")

        var compared = [String: Int]()
        func same(_ method: String, _ params: [JSONValue]) throws {
            let theirs = try ix.theirs(method, params)
            let ours = try ix.ours(method, params)
            compared[method, default: 0] += 1
            if theirs["error"] != nil {
                #expect(ours["error"] != nil, "seed \(seed): \(method) \(JSON.serialize(.array(params))): upstream errs, we answered \(JSON.serialize(ours))")
            } else {
                #expect(ours["result"] == theirs["result"], "seed \(seed): \(method) \(JSON.serialize(.array(params)))\n ours:   \(JSON.serialize(ours).prefix(600))\n theirs: \(JSON.serialize(theirs).prefix(600))")
            }
        }
        func block() -> UInt64 { UInt64.random(in: 0...head + 2, using: &rng) }
        func pick<T>(_ a: [T]) -> T { a[Int.random(in: 0..<a.count, using: &rng)] }
        let tags: [JSONValue] = [.string("latest"), .string("earliest"), .string("safe"), .string("finalized"), .string("pending")]

        try same("eth_chainId", [])
        try same("eth_blockNumber", [])
        for t in tags { try same("eth_getBlockByNumber", [t, .bool(false)]) }
        for _ in 0..<60 {
            let n = block()
            try same("eth_getBlockByNumber", [hex(n), .bool(Bool.random(using: &rng))])
            try same("eth_getBlockTransactionCountByNumber", [hex(n)])
            try same("eth_getBlockReceipts", [hex(n)])
            if n <= head {
                let h = JSONValue.string(blocks[Int(n)].hash.hex)
                try same("eth_getBlockByHash", [h, .bool(Bool.random(using: &rng))])
                try same("eth_getBlockTransactionCountByHash", [h])
                let i = UInt64.random(in: 0...UInt64(blocks[Int(n)].transactions.count) + 1, using: &rng)
                try same("eth_getTransactionByBlockNumberAndIndex", [hex(n), hex(i)])
                try same("eth_getTransactionByBlockHashAndIndex", [h, hex(i)])
            }
        }
        for h in abandoned {
            try same("eth_getBlockByHash", [.string(h.hex), .bool(true)])
            try same("eth_getBlockReceipts", [.string(h.hex)])
        }
        for _ in 0..<120 {
            let t = pick(txHashes)
            try same("eth_getTransactionByHash", [t])
            try same("eth_getTransactionReceipt", [t])
        }
        try same("eth_getTransactionByHash", [.string(Hash32.keccak([1, 2, 3]).hex)])
        for _ in 0..<80 {
            var f = JSONObject()
            let a = block() % (head + 1), b = block() % (head + 1)
            f["fromBlock"] = hex(min(a, b)); f["toBlock"] = hex(max(a, b))
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: f["address"] = .string(pick(chain.tokens).hex)
            case 1: f["address"] = .array(chain.tokens.map { .string($0.hex) })
            case 2: f["topics"] = .array([.string(SimChain.transferTopic.hex)])
            default: break
            }
            if Bool.random(using: &rng), let e = pick(chain.eoas).bytes as [UInt8]? {
                f["topics"] = .array([.null, .array([.string(Hash32(unchecked: [UInt8](repeating: 0, count: 12) + e).hex)])])
            }
            try same("eth_getLogs", [.object(f)])
        }
        for _ in 0..<150 {
            let a = JSONValue.string(pick(accountList).hex)
            let n = hex(block() % (head + 1))
            try same("eth_getBalance", [a, n])
            try same("eth_getTransactionCount", [a, n])
            try same("eth_getCode", [a, n])
        }
        for _ in 0..<150 {
            let (a, s) = pick(slots)
            try same("eth_getStorageAt", [.string(a.hex), .string(s), hex(block() % (head + 1))])
        }
        for t in tags where t != .string("earliest") {
            try same("eth_getBalance", [.string(pick(chain.eoas).hex), t])
        }
        print("rpc differential (seed \(seed)): head \(head), \(abandoned.count) abandoned blocks, compared \(compared.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
    }
}
