import Hashing
import Chain
import Net
import TestSupport
import Testing
@testable import SimChain

/// Calls the RPC layer in-process (the HTTP path has its own test).
struct Client {
    let rpc: SimChainRPC
    init(_ chain: SimChain) { rpc = SimChainRPC(chain: chain) }

    func raw(_ body: String) throws -> JSONValue? {
        guard let out = rpc.respond(to: Array(body.utf8)) else { return nil }
        return try JSON.parse(out)
    }
    func call(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let body = JSON.serialize(.object(["jsonrpc": .string("2.0"), "id": .number("1"), "method": .string(method), "params": .array(params)]))
        return try raw(body)!
    }
    func result(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let r = try call(method, params)
        guard let v = r["result"] else { throw TestFailure("\(method) \(params): \(JSON.serialize(r))") }
        return v
    }
    func errorCode(_ method: String, _ params: [JSONValue]) throws -> Int? {
        guard case .number(let n)? = try call(method, params)["error"]?["code"] else { return nil }
        return Int(n)
    }
}

func q(_ n: UInt64) -> JSONValue { .string(Hex.encodeQuantity(n)) }
let diffTracer: JSONValue = .object(["tracer": .string("prestateTracer"), "tracerConfig": .object(["diffMode": .bool(true)])])

func options(seed: UInt64, txs: Int = 8, reorgEvery: Int = 0, reorgDepth: Int = 2, reorgAt: [UInt64: Int] = [:]) -> SimChainOptions {
    var o = SimChainOptions()
    o.seed = seed
    o.txsPerBlock = txs
    o.blockTimeMillis = 0
    o.reorgEvery = reorgEvery
    o.reorgDepth = reorgDepth
    o.reorgAt = reorgAt
    return o
}

@Suite struct GenerationTests {
    @Test func sameSeedSameChainOtherSeedOtherChain() {
        let o = options(seed: 9, reorgEvery: 5, reorgDepth: 4, reorgAt: [12: 3])
        let a = SimChain(options: o), b = SimChain(options: o)
        var other = o
        other.seed = 10
        let c = SimChain(options: other)
        for _ in 0..<40 { a.mine(); b.mine(); c.mine() }
        #expect(a.canonical.map(\.hash) == b.canonical.map(\.hash))
        #expect(a.reorgs == b.reorgs && a.reorgCount > 0)
        #expect(a.canonical[1].hash != c.canonical[1].hash)
        #expect(a.headNumber == 40 && c.headNumber == 40)
        // Pre-generation is the same as mining one block at a time.
        var pre = o
        pre.pregenerate = 40
        #expect(SimChain(options: pre).canonical.map(\.hash) == a.canonical.map(\.hash))
    }

    /// Every block ever produced — canonical or later abandoned — passes BlockVerifier with
    /// its receipts, and the bookkeeping geth clients rely on holds.
    @Test func everyBlockVerifiesAcrossReorgs() throws {
        let chain = SimChain(options: options(seed: 3, reorgEvery: 6, reorgDepth: 5, reorgAt: [50: 64, 120: 9]))
        var checked = Set<Hash32>()
        var types = Set<String>(), statuses = Set<String>(), creations = 0, transfers = 0
        for _ in 0..<200 {
            chain.mine()
            for b in chain.canonical where !checked.contains(b.hash) {
                checked.insert(b.hash)
                let report = try BlockVerifier.verify(block: b.full, receipts: b.receipts.map { .object($0) })
                #expect(report.ok, "block \(b.number): \(report.failures)")
                #expect(Set(report.performed).isSuperset(of: [.headerHash, .transactionsRoot, .receiptsRoot, .logsBloom, .withdrawalsRoot, .receiptBlooms]))
                var cumulative: UInt64 = 0, logIndex: UInt64 = 0
                let transactions = b.transactions
                for (i, r) in b.receipts.enumerated() {
                    cumulative += try r.quantity("gasUsed")
                    #expect(try r.quantity("cumulativeGasUsed") == cumulative)
                    for l in try r.array("logs") {
                        #expect(try l.objectValue!.quantity("logIndex") == logIndex)
                        logIndex += 1
                        if l["topics"]?.arrayValue?.first == .string(SimChain.transferTopic.hex) { transfers += 1 }
                    }
                    statuses.insert(try r.string("status"))
                    let tx = transactions[i]
                    types.insert(try tx.string("type"))
                    if let created = try r.optionalAddress("contractAddress") {
                        creations += 1
                        let sender = try tx.address("from"), nonce = try tx.quantity("nonce")
                        #expect(created == Address(unchecked: Array(keccak256(RLP.encode(.list([.bytes(sender.bytes), .uint(nonce)])))[12...])))
                        #expect(tx["to"] == .null)
                    }
                }
                #expect(try b.full.quantity("gasUsed") == cumulative)
                #expect(try b.full.array("withdrawals").count == 2 || b.number == 0)
                #expect(b.hashesOnly["transactions"]?.arrayValue?.count == b.transactionCount)
            }
        }
        let blocks = chain.canonical
        #expect(blocks.count == 201)
        for (i, b) in blocks.enumerated() where i > 0 {
            #expect(b.parentHash == blocks[i - 1].hash, "parent link at \(b.number)")
            #expect(try b.full.quantity("timestamp") > blocks[i - 1].full.quantity("timestamp"))
        }
        #expect(chain.reorgCount >= 10, "reorgs: \(chain.reorgCount)")
        #expect(checked.count > blocks.count + 30, "abandoned blocks verified too: \(checked.count - blocks.count)")
        // The scripted 64-deep reorg at height 50 stopped at the finalized block (49 − 64 < 0: the genesis).
        #expect(chain.reorgs.contains { $0.oldHead == 49 && $0.depth == 49 })
        #expect(types == ["0x0", "0x1", "0x2"] && statuses == ["0x0", "0x1"] && creations > 20 && transfers > 100)
    }

    @Test func reorgReplacesTheBranchAndStateFollowsIt() throws {
        let chain = SimChain(options: options(seed: 21))
        chain.mine(100)
        let rpc = Client(chain)
        let before = chain.canonical
        let sender = chain.eoas[0], token = chain.tokens[0]
        let slot = Hash32.keccak([UInt8](repeating: 0, count: 12) + sender.bytes + [UInt8](repeating: 0, count: 32))
        func snapshot(_ n: UInt64) throws -> [JSONValue] {
            try chain.eoas.prefix(16).map { try rpc.result("eth_getBalance", [.string($0.hex), q(n)]) }
                + [try rpc.result("eth_getTransactionCount", [.string(sender.hex), q(n)]),
                   try rpc.result("eth_getStorageAt", [.string(token.hex), .string(slot.hex), q(n)])]
        }
        let at96 = try snapshot(96), at97 = try snapshot(97), at100 = try snapshot(100)
        let oldTx = before[98].transactionHashes[0]

        chain.reorg(depth: 3)   // replaces 98, 99, 100 and mines 101
        let after = chain.canonical
        #expect(after.count == 102)
        #expect(Array(after.prefix(98).map(\.hash)) == Array(before.prefix(98).map(\.hash)))
        for n in 98...100 { #expect(after[n].hash != before[n].hash, "block \(n) replaced") }
        #expect(chain.reorgs.last == SimChain.Reorg(oldHead: 100, depth: 3, replaced: before[98...100].map(\.hash)))
        // The old branch is gone: its blocks and transactions are not found.
        #expect(try rpc.result("eth_getBlockByHash", [.string(before[99].hash.hex), .bool(false)]) == .null)
        #expect(try rpc.result("eth_getTransactionByHash", [.string(oldTx.hex)]) == .null)
        #expect(try rpc.errorCode("eth_getBalance", [.string(sender.hex), .object(["blockHash": .string(before[99].hash.hex)])]) == -32000)
        // State below the fork is untouched; above it, it is the new branch's.
        #expect(try snapshot(96) == at96 && snapshot(97) == at97)
        #expect(try snapshot(100) != at100)
        #expect(try rpc.result("eth_getBalance", [.string(after[99].full["miner"]!.stringValue!), .object(["blockHash": .string(after[99].hash.hex)])])
                == rpc.result("eth_getBalance", [.string(after[99].full["miner"]!.stringValue!), q(99)]))
        try checkTracesAgainstState(chain, blocks: 90...101)

        // A reorg never crosses the finalized block.
        let finalized = try rpc.result("eth_getBlockByNumber", [.string("finalized"), .bool(false)])["hash"]
        #expect(finalized == .string(after[101 - 64].hash.hex))
        chain.reorg(depth: 1000)
        #expect(chain.reorgs.last?.depth == 64)
        #expect(chain.canonical[101 - 64].hash == after[101 - 64].hash)
        #expect(chain.canonical[101 - 63].hash != after[101 - 63].hash)
    }

    @Test func tracesAgreeWithStateQueries() throws {
        let chain = SimChain(options: options(seed: 5, txs: 12, reorgEvery: 4, reorgDepth: 3))
        chain.mine(40)
        try checkTracesAgainstState(chain, blocks: 1...40)
    }
}

/// For each block N: the first `pre` of every account and slot equals the state at N − 1,
/// and the last `post` (a slot in pre but absent from that transaction's post became zero)
/// equals the state at N, both read through eth_getBalance / eth_getTransactionCount /
/// eth_getCode / eth_getStorageAt.
func checkTracesAgainstState(_ chain: SimChain, blocks: ClosedRange<UInt64>) throws {
    let rpc = Client(chain)
    for n in blocks {
        let trace = try rpc.result("debug_traceBlockByNumber", [q(n), diffTracer]).arrayValue!
        #expect(trace.count == chain.block(n)!.transactions.count)
        var first = [String: JSONObject](), firstSlots = [String: [String: String]]()
        var last = [String: [String: JSONValue]](), lastSlots = [String: [String: String]]()
        for item in trace {
            let pre = item["result"]!["pre"]!.objectValue!, post = item["result"]!["post"]!.objectValue!
            for (a, v) in pre.pairs {
                if first[a] == nil { first[a] = v.objectValue! }
                for (s, value) in v["storage"]?.objectValue?.pairs ?? [] where firstSlots[a]?[s] == nil { firstSlots[a, default: [:]][s] = value.stringValue! }
                // Present before and missing after: cleared.
                for (s, _) in v["storage"]?.objectValue?.pairs ?? [] where post[a]?["storage"]?[s] == nil { lastSlots[a, default: [:]][s] = Hash32.zero.hex }
            }
            for (a, v) in post.pairs {
                for k in ["balance", "nonce", "code"] { if let x = v[k] { last[a, default: [:]][k] = x } }
                for (s, value) in v["storage"]?.objectValue?.pairs ?? [] {
                    lastSlots[a, default: [:]][s] = value.stringValue!
                    if firstSlots[a]?[s] == nil, pre[a]?["storage"]?[s] == nil { firstSlots[a, default: [:]][s] = Hash32.zero.hex }
                }
            }
        }
        #expect(!last.isEmpty || trace.isEmpty)
        for (a, p) in first {
            let at = q(n - 1)
            #expect(try rpc.result("eth_getBalance", [.string(a), at]) == p["balance"], "pre balance of \(a) at \(n)")
            let nonce: UInt64 = if case .number(let t)? = p["nonce"] { UInt64(t)! } else { 0 }
            #expect(try rpc.result("eth_getTransactionCount", [.string(a), at]) == q(nonce), "pre nonce of \(a) at \(n)")
            #expect(try rpc.result("eth_getCode", [.string(a), at]) == p["code"] ?? .string("0x"), "pre code of \(a) at \(n)")
        }
        for (a, slots) in firstSlots {
            for (s, v) in slots { #expect(try rpc.result("eth_getStorageAt", [.string(a), .string(s), q(n - 1)]) == .string(v), "pre slot \(s) of \(a) at \(n)") }
        }
        for (a, fields) in last {
            if let b = fields["balance"] { #expect(try rpc.result("eth_getBalance", [.string(a), q(n)]) == b, "post balance of \(a) at \(n)") }
            if case .number(let t)? = fields["nonce"] { #expect(try rpc.result("eth_getTransactionCount", [.string(a), q(n)]) == q(UInt64(t)!)) }
            if let c = fields["code"] { #expect(try rpc.result("eth_getCode", [.string(a), q(n)]) == c) }
        }
        for (a, slots) in lastSlots {
            for (s, v) in slots { #expect(try rpc.result("eth_getStorageAt", [.string(a), .string(s), q(n)]) == .string(v), "post slot \(s) of \(a) at \(n)") }
        }
    }
}
