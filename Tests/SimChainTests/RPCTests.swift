import Chain
import Foundation
import Net
import TestSupport
import Testing
@testable import SimChain

@Suite struct RPCTests {
    @Test func errorCodesFollowTheSpec() throws {
        let chain = SimChain(options: options(seed: 1))
        chain.mine(5)
        let rpc = Client(chain)
        func code(_ body: String) throws -> Int? {
            guard case .number(let n)? = try rpc.raw(body)?["error"]?["code"] else { return nil }
            return Int(n)
        }
        #expect(try code("{bad") == -32700)
        #expect(try code("") == -32700)
        #expect(try code("[]") == -32600)
        #expect(try code("5") == -32600)
        #expect(try code(#"{"id":1,"method":"eth_chainId"}"#) == -32600)              // no jsonrpc
        #expect(try code(#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#) == -32600)
        #expect(try code(#"{"jsonrpc":"2.0","id":1,"method":7}"#) == -32600)
        #expect(try code(#"{"jsonrpc":"2.0","id":[1],"method":"eth_chainId"}"#) == -32600)
        #expect(try code(#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":{"a":1}}"#) == -32602)
        #expect(try rpc.errorCode("eth_nope", []) == -32601)

        // Invalid params: the message names the argument.
        func message(_ method: String, _ params: [JSONValue]) throws -> String {
            let r = try rpc.call(method, params)
            #expect(r["error"]?["code"] == .number("-32602"), "\(method) \(params)")
            return r["error"]?["message"]?.stringValue ?? ""
        }
        #expect(try message("eth_getBalance", [.string("0x12")]).contains("address"))
        #expect(try message("eth_getBalance", []).contains("argument 0 (address)"))
        #expect(try message("eth_getBlockByNumber", []).contains("blockNumber"))
        #expect(try message("eth_getBlockByNumber", [.string("5"), .bool(false)]).contains("blockNumber"))
        #expect(try message("eth_getBlockByNumber", [.string("0x1"), .string("yes")]).contains("fullTransactions"))
        #expect(try message("eth_getBlockByHash", [.string("0x1234"), .bool(false)]).contains("blockHash"))
        #expect(try message("eth_getStorageAt", [.string(chain.store.hex), .string("zz")]).contains("storageSlot"))
        #expect(try message("eth_getTransactionByHash", [.number("3")]).contains("transactionHash"))
        #expect(try message("eth_getLogs", [.object(["fromBlock": .string("0x4"), "toBlock": .string("0x2")])]).contains("invalid block range"))
        #expect(try message("eth_getLogs", [.object(["toBlock": .string("0x50")])]).contains("beyond current head"))
        #expect(try message("eth_getLogs", [.object(["blockHash": .string(chain.block(1)!.hash.hex), "fromBlock": .string("0x1")])]).contains("BlockHash"))
        #expect(try message("eth_getLogs", [.object(["topics": .array([.string("0x01")])])]).contains("topics[0]"))
        #expect(try message("eth_getLogs", [.object(["address": .array([.string("0xnope")])])]).contains("address"))
        #expect(try message("debug_traceBlockByNumber", [.string("0x1")]).contains("prestateTracer"))
        #expect(try message("debug_traceBlockByNumber", [.string("0x1"), .object(["tracer": .string("callTracer")])]).contains("argument 1"))

        // A missing block: null where geth answers null, -32000 where a state query needs it.
        #expect(try rpc.result("eth_getBlockByNumber", [.string("0x99"), .bool(false)]) == .null)
        #expect(try rpc.result("eth_getBlockByHash", [.string(Hash32.zero.hex), .bool(true)]) == .null)
        #expect(try rpc.result("eth_getBlockReceipts", [.string("0x99")]) == .null)
        #expect(try rpc.result("eth_getTransactionByHash", [.string(Hash32.zero.hex)]) == .null)
        #expect(try rpc.result("eth_getTransactionReceipt", [.string(Hash32.zero.hex)]) == .null)
        #expect(try rpc.errorCode("eth_getBalance", [.string(chain.store.hex), .string("0x99")]) == -32000)
        #expect(try rpc.errorCode("debug_traceBlockByNumber", [.string("0x99"), diffTracer]) == -32000)
    }

    @Test func batchesAndNotifications() throws {
        let chain = SimChain(options: options(seed: 2))
        chain.mine(3)
        let rpc = Client(chain)
        let body = """
        [{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},
         {"jsonrpc":"2.0","method":"eth_chainId"},
         {"jsonrpc":"2.0","id":"two","method":"eth_getBlockByNumber","params":["latest",false]},
         {"jsonrpc":"2.0","id":3,"method":"eth_nope"},
         17,
         {"jsonrpc":"2.0","id":4,"method":"eth_chainId","params":[]}]
        """
        let answers = try #require(try rpc.raw(body)?.arrayValue)
        #expect(answers.count == 5)   // the notification gets no answer
        #expect(answers[0] == .object(["jsonrpc": .string("2.0"), "id": .number("1"), "result": .string("0x3")]))
        #expect(answers[1]["id"] == .string("two") && answers[1]["result"]?["hash"] == .string(chain.block(3)!.hash.hex))
        #expect(answers[2]["error"]?["code"] == .number("-32601") && answers[2]["id"] == .number("3"))
        #expect(answers[3]["error"]?["code"] == .number("-32600") && answers[3]["id"] == .null)
        #expect(answers[4]["result"] == .string("0x539"))
        #expect(try rpc.raw(#"{"jsonrpc":"2.0","method":"eth_chainId"}"#) == nil)
        #expect(try rpc.raw(#"[{"jsonrpc":"2.0","method":"eth_chainId"}]"#) == nil)
    }

    @Test func tagsLookupsAndShapes() throws {
        let chain = SimChain(options: options(seed: 4, txs: 10))
        chain.mine(100)
        let rpc = Client(chain)
        func number(_ tag: String) throws -> UInt64 {
            try rpc.result("eth_getBlockByNumber", [.string(tag), .bool(false)]).objectValue!.quantity("number")
        }
        #expect(try number("latest") == 100 && number("pending") == 100 && number("earliest") == 0)
        #expect(try number("safe") == 68 && number("finalized") == 36)
        #expect(try rpc.result("eth_blockNumber", []) == .string("0x64"))
        #expect(try rpc.result("eth_chainId", []) == .string("0x539") && rpc.result("net_version", []) == .string("1337"))

        let b = chain.block(42)!
        let byHash = try rpc.result("eth_getBlockByHash", [.string(b.hash.hex), .bool(true)])
        #expect(byHash == .object(b.full))
        #expect(try rpc.result("eth_getBlockTransactionCountByNumber", [q(42)]) == q(UInt64(b.transactions.count)))
        #expect(try rpc.result("eth_getBlockReceipts", [.string(b.hash.hex)]).arrayValue?.count == b.receipts.count)
        let txHash = b.transactionHashes[3]
        #expect(try rpc.result("eth_getTransactionByHash", [.string(txHash.hex)]) == .object(b.transactions[3]))
        #expect(try rpc.result("eth_getTransactionByBlockNumberAndIndex", [q(42), q(3)]) == .object(b.transactions[3]))
        #expect(try rpc.result("eth_getTransactionReceipt", [.string(txHash.hex)]) == .object(b.receipts[3]))
        #expect(try rpc.result("debug_traceTransaction", [.string(txHash.hex), diffTracer]) == b.trace[3]["result"])
        // Transactions re-encode to their hash.
        for t in b.transactions { #expect(try Transaction(json: t).hash.hex == t["hash"]?.stringValue) }

        // Field names and order as geth serves them (from the execution-apis fixtures).
        #expect(Array(b.full.keys) == ["baseFeePerGas", "blobGasUsed", "difficulty", "excessBlobGas", "extraData", "gasLimit", "gasUsed", "hash",
                                       "logsBloom", "miner", "mixHash", "nonce", "number", "parentBeaconBlockRoot", "parentHash", "receiptsRoot",
                                       "sha3Uncles", "size", "stateRoot", "timestamp", "transactions", "transactionsRoot", "uncles", "withdrawals",
                                       "withdrawalsRoot"])
        let txKeys: [String: [String]] = [
            "0x0": ["blockHash", "blockNumber", "blockTimestamp", "from", "gas", "gasPrice", "hash", "input", "nonce", "to", "transactionIndex",
                    "value", "type", "chainId", "v", "r", "s"],
            "0x1": ["blockHash", "blockNumber", "blockTimestamp", "from", "gas", "gasPrice", "hash", "input", "nonce", "to", "transactionIndex",
                    "value", "type", "accessList", "chainId", "v", "r", "s", "yParity"],
            "0x2": ["blockHash", "blockNumber", "blockTimestamp", "from", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "hash", "input",
                    "nonce", "to", "transactionIndex", "value", "type", "accessList", "chainId", "v", "r", "s", "yParity"],
        ]
        let receiptKeys = ["blockHash", "blockNumber", "contractAddress", "cumulativeGasUsed", "effectiveGasPrice", "from", "gasUsed", "logs",
                           "logsBloom", "status", "to", "transactionHash", "transactionIndex", "type"]
        let logKeys = ["address", "topics", "data", "blockNumber", "transactionHash", "transactionIndex", "blockHash", "blockTimestamp", "logIndex", "removed"]
        var seenTypes = Set<String>()
        for blk in chain.canonical {
            for (t, r) in zip(blk.transactions, blk.receipts) {
                let type = t["type"]!.stringValue!
                seenTypes.insert(type)
                #expect(Array(t.keys) == txKeys[type], "transaction keys, type \(type)")
                #expect(Array(r.keys) == receiptKeys)
                for l in r["logs"]!.arrayValue! { #expect(Array(l.objectValue!.keys) == logKeys) }
            }
        }
        #expect(seenTypes.count == 3)
        #expect(Array(b.full["withdrawals"]!.arrayValue![0].objectValue!.keys) == ["index", "validatorIndex", "address", "amount"])
    }

    /// eth_getLogs against a brute-force scan of the receipts, with random filters.
    @Test func logsMatchABruteForceScan() throws {
        let seed = SeededRandom.seed("logsMatchABruteForceScan")
        var rng = SeededRandom(seed: seed)
        let chain = SimChain(options: options(seed: 11, txs: 10, reorgEvery: 5, reorgDepth: 3))
        chain.mine(60)
        let rpc = Client(chain)
        let blocks = chain.canonical
        let all: [(n: UInt64, log: JSONObject)] = blocks.flatMap { b in b.receipts.flatMap { r in r["logs"]!.arrayValue!.map { (b.number, $0.objectValue!) } } }
        let addresses = Array(Set(all.map { $0.log["address"]!.stringValue! })).sorted()
        let topics = Array(Set(all.flatMap { $0.log["topics"]!.arrayValue!.map { $0.stringValue! } })).sorted()
        #expect(addresses.count == 3 && all.count > 100)
        var nonEmpty = 0
        for round in 0..<150 {
            var filter = JSONObject()
            var lo: UInt64 = 60, hi: UInt64 = 60
            var only: UInt64? = nil
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: break   // latest..latest by default
            case 1:
                let n = UInt64.random(in: 0...60, using: &rng)
                filter["blockHash"] = .string(blocks[Int(n)].hash.hex)
                only = n
            default:
                lo = UInt64.random(in: 0...60, using: &rng); hi = UInt64.random(in: lo...60, using: &rng)
                filter["fromBlock"] = lo == 0 && Bool.random(using: &rng) ? .string("earliest") : q(lo)
                filter["toBlock"] = hi == 60 && Bool.random(using: &rng) ? .string("latest") : q(hi)
            }
            if let only { lo = only; hi = only }
            var wantAddresses: Set<String>? = nil
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: break
            case 1: let a = addresses.randomElement(using: &rng)!; filter["address"] = .string(a); wantAddresses = [a]
            default:
                let a = Array(addresses.shuffled(using: &rng).prefix(2)); filter["address"] = .array(a.map { .string($0) }); wantAddresses = Set(a)
            }
            var wantTopics = [Set<String>?]()
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: wantTopics.append(nil)
                case 1: wantTopics.append(nil)   // [] is a wildcard too
                case 2: wantTopics.append([topics.randomElement(using: &rng)!])
                default: wantTopics.append(Set((0..<3).map { _ in topics.randomElement(using: &rng)! }))
                }
            }
            if !wantTopics.isEmpty {
                filter["topics"] = .array(wantTopics.enumerated().map { k, t in
                    guard let t else { return k % 2 == 0 ? .null : .array([]) }
                    return t.count == 1 ? .string(t.first!) : .array(t.sorted().map { .string($0) })
                })
            }
            let expected = all.filter { entry in
                guard entry.n >= lo && entry.n <= hi else { return false }
                if let w = wantAddresses, !w.contains(entry.log["address"]!.stringValue!) { return false }
                let ts = entry.log["topics"]!.arrayValue!.map { $0.stringValue! }
                for (k, t) in wantTopics.enumerated() { if let t, k >= ts.count || !t.contains(ts[k]) { return false } }
                return true
            }.map { JSONValue.object($0.log) }
            let got = try rpc.result("eth_getLogs", [.object(filter)]).arrayValue
            #expect(got == expected, "seed \(seed) round \(round) filter \(JSON.serialize(.object(filter)))")
            if !expected.isEmpty { nonEmpty += 1 }
        }
        #expect(nonEmpty > 30, "seed \(seed): filters that matched something: \(nonEmpty)")
    }

    /// The server end to end: HTTP POST, batch, mining on demand, and on a timer.
    @Test func servesOverHTTP() throws {
        let server = try SimChainServer(options: options(seed: 8))
        let url = server.start()
        defer { server.stop() }
        let client = try HTTPClient(url: url)
        defer { client.close() }
        func post(_ body: String) throws -> JSONValue { try JSON.parse(try client.post("/", json: body).body) }
        #expect(try post(#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#)["result"] == .string("0x0"))
        server.chain.mine(4)
        let batch = try post(#"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["0x4",true]}]"#)
        #expect(batch.arrayValue?[0]["result"] == .string("0x4"))
        #expect(batch.arrayValue?[1]["result"]?["hash"] == .string(server.chain.block(4)!.hash.hex))
        #expect(try client.get("/").status == 405)

        var timed = options(seed: 8)
        timed.blockTimeMillis = 5
        let ticking = try SimChainServer(options: timed)
        ticking.start()
        // Polls until blocks appear; bounded by a count, not a clock.
        for _ in 0..<2_000 where ticking.chain.headNumber < 3 { usleep(5_000) }
        ticking.stop()
        let head = ticking.chain.headNumber
        #expect(head >= 3)
        // Same seed, same blocks, whether mined by the timer or on demand.
        #expect(ticking.chain.block(3)?.hash == server.chain.block(3)?.hash)
    }

    @Test func optionsAreValidated() {
        var o = SimChainOptions()
        #expect(throws: Never.self) { try o.validate() }
        o.reorgDepth = 65
        #expect { try o.validate() } throws: { ($0 as? SimChainOptions.Invalid)?.option == "reorg-depth" }
        o = SimChainOptions(); o.reorgAt = [0: 2]
        #expect { try o.validate() } throws: { ($0 as? SimChainOptions.Invalid)?.option == "reorg-at" }
        o = SimChainOptions(); o.reorgEvery = -1
        #expect { try o.validate() } throws: { ($0 as? SimChainOptions.Invalid)?.option == "reorg-every" }
        o = SimChainOptions(); o.chainId = 0
        #expect { try o.validate() } throws: { ($0 as? SimChainOptions.Invalid)?.option == "chain-id" }
    }
}

/// `--replay` answers the indexer's per-block calls from bytes serialized before serving;
/// every batch must get the bytes the computing path gives, cached or not.
@Suite struct ReplayTests {
    @Test func replayedBatchesAreByteIdenticalToComputedOnes() throws {
        var o = options(seed: 4)
        o.txsPerBlock = 12
        o.pregenerate = 6
        o.replay = true
        let chain = SimChain(options: o)
        let plain = SimChainRPC(chain: chain)
        let replaying = SimChainRPC(chain: chain, replay: try ReplayCache(rpc: plain, through: chain.headNumber))
        #expect(chain.headNumber == 6 && replaying.replay?.result("eth_getBlockReceipts", [.string("0x3")]) != nil, "blocks 0...6 are cached")
        let tracer = #"{"tracer":"prestateTracer","tracerConfig":{"diffMode":true}}"#
        let bodies = [
            #"[{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x3",true]},{"jsonrpc":"2.0","id":"b","method":"eth_getBlockReceipts","params":["0x3"]},{"jsonrpc":"2.0","id":3,"method":"debug_traceBlockByNumber","params":["0x3",\#(tracer)]}]"#,
            // Uncached calls, a block past the replayed ones, a notification, an invalid entry.
            #"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["0x40",true]},{"jsonrpc":"2.0","method":"eth_getBlockReceipts","params":["0x1"]},{"id":4},{"jsonrpc":"2.0","id":5,"method":"eth_getBlockByNumber","params":["0x2",false]}]"#,
            #"[{"jsonrpc":"2.0","method":"eth_getBlockReceipts","params":["0x1"]}]"#,
            #"{"jsonrpc":"2.0","id":9,"method":"eth_getBlockReceipts","params":["0x1"]}"#,
        ]
        for body in bodies {
            let a = plain.respond(to: Array(body.utf8)), b = replaying.respond(to: Array(body.utf8))
            #expect(a == b, "\(body.prefix(80))")
        }
        var bad = o
        bad.reorgEvery = 5
        #expect(throws: SimChainOptions.Invalid.self) { try bad.validate() }
    }
}
