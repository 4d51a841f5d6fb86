import Chain
import ChainIndex
import Synchronization
import TestSupport
import Testing
@testable import GraphQL

/// EIP-1767 answers against the stored JSON-RPC objects of a seeded synthetic chain.
@Suite struct EthereumSchemaTests {
    func q(_ n: UInt64) -> Int { Int(n) }

    @Test func blocksMatchTheStoredObjects() throws {
        let seed = SeededRandom.seed("blocksMatchTheStoredObjects")
        var rng = SeededRandom(seed: seed)
        let chain = try TestChain.make(seed: seed)
        let service = chain.service()
        let query = """
            query ($n: Long) { block(number: $n) { number hash parent { hash } gasUsed gasLimit timestamp baseFeePerGas nextBaseFeePerGas
              miner { address } transactionCount ommerCount ommerHash withdrawals { index validator address amount }
              transactions { hash index nonce value gasPrice gas inputData status gasUsed cumulativeGasUsed effectiveGasPrice
                from { address } to { address } createdContract { address } block { number } logs { index topics data account { address } } } } }
            """
        for _ in 0..<25 {
            let n = UInt64.random(in: chain.first...chain.last, using: &rng)
            let stored = try #require(try chain.index.view { try $0.block(TestChain.chainId, number: n, fullTransactions: true) }?.objectValue)
            let d = try data(service, query, ["n": .number(String(n))])
            let b = try #require(d.at("block"))
            #expect(b.at("number")?.number == n, "seed \(seed)")
            #expect(b.at("hash") == stored["hash"], "seed \(seed) block \(n)")
            #expect(b.at("gasUsed")?.number == stored.number("gasUsed"))
            #expect(b.at("timestamp")?.number == stored.number("timestamp"))
            #expect(b.at("baseFeePerGas") == stored["baseFeePerGas"])
            #expect(b.at("miner.address") == stored["miner"])
            #expect(b.at("parent.hash") == (n == chain.first ? nil : chain.blocks[n - 1]?["hash"]), "seed \(seed) block \(n)")
            if n < chain.last { #expect(b.at("nextBaseFeePerGas") == chain.blocks[n + 1]?["baseFeePerGas"]) }
            #expect(b.at("withdrawals.0.index")?.number == n * 2)
            let txs = stored["transactions"]?.arrayValue ?? []
            #expect(b.at("transactionCount")?.number == UInt64(txs.count))
            #expect(b.at("transactions")?.arrayValue?.map { $0["hash"] } == txs.map { $0["hash"] }, "seed \(seed) block \(n)")
            let receipts = chain.receipts[n] ?? []
            for (i, t) in (b.at("transactions")?.arrayValue ?? []).enumerated() {
                let st = txs[i], r = receipts[i]
                #expect(t["index"]?.number == UInt64(i))
                #expect(t["value"] == st["value"] && t["gasPrice"] == st["gasPrice"] && t["inputData"] == st["input"])
                #expect(t["from"]?["address"] == st["from"])
                #expect((t["to"]?["address"] ?? .null) == st["to"])
                #expect(t["status"]?.number == r.objectValue?.number("status"))
                #expect(t["cumulativeGasUsed"]?.number == r.objectValue?.number("cumulativeGasUsed"))
                #expect((t["createdContract"]?["address"] ?? .null) == r["contractAddress"])
                #expect(t.at("block.number")?.number == n)
                let logs = r["logs"]?.arrayValue ?? []
                #expect(t["logs"]?.arrayValue?.map { $0["topics"] } == logs.map { $0["topics"] })
                #expect(t["logs"]?.arrayValue?.map { $0["index"]?.number } == logs.map { $0.objectValue?.number("logIndex") })
            }
        }
    }

    @Test func lookupsByHashAndAccountsAtABlock() throws {
        let seed = SeededRandom.seed("lookupsByHashAndAccountsAtABlock")
        var rng = SeededRandom(seed: seed)
        let chain = try TestChain.make(seed: seed)
        let service = chain.service()
        for _ in 0..<10 {
            let n = UInt64.random(in: chain.first...chain.last, using: &rng)
            let hash = try #require(chain.blocks[n]?["hash"]?.stringValue)
            let d = try data(service, "query ($h: Bytes32) { block(hash: $h) { number } }", ["h": .string(hash.uppercased().replacingOccurrences(of: "0X", with: "0x"))])
            #expect(d.at("block.number")?.number == n, "seed \(seed)")
            let who = chain.addresses[Int.random(in: 0..<chain.addresses.count, using: &rng)]
            let a = try data(service, "{ block(number: \(n)) { account(address: \"\(who.hex)\") { address balance transactionCount code } } }")
            let (balance, nonce) = try #require(chain.balances[n]?[who])
            #expect(a.at("block.account.balance") == .string(balance.quantity), "seed \(seed) block \(n)")
            #expect(a.at("block.account.transactionCount")?.number == nonce)
            #expect(a.at("block.account.code") == .string("0x") && a.at("block.account.address") == .string(who.hex))
            if let tx = chain.blocks[n]?["transactions"]?.arrayValue?.first, let h = tx["hash"]?.stringValue {
                let t = try data(service, "{ transaction(hash: \"\(h)\") { hash nonce block { number } } }")
                #expect(t.at("transaction.hash") == .string(h) && t.at("transaction.block.number")?.number == n)
            }
        }
        // Unknown block and transaction are null, not errors; latest is the default block.
        let none = try data(service, "{ block(number: 999999) { hash } transaction(hash: \"0x\(String(repeating: "ab", count: 32))\") { hash } }")
        #expect(none == (try JSON.parse(#"{"block":null,"transaction":null}"#)))
        #expect(try data(service, "{ block { number } }").at("block.number")?.number == chain.last)
        #expect(try data(service, "{ chainID }").at("chainID") == .string(Hex.encodeQuantity(TestChain.chainId)))
        // Long accepts hex and decimal strings; BigInt comes back as hex.
        #expect(try data(service, "{ block(number: \"0x\(String(chain.first, radix: 16))\") { number } }").at("block.number")?.number == chain.first)
    }

    @Test func logsMatchTheIndexAndTheFilter() throws {
        let seed = SeededRandom.seed("logsMatchTheIndexAndTheFilter")
        let chain = try TestChain.make(seed: seed)
        let service = chain.service()
        let all = (chain.first...chain.last).flatMap { n in (chain.receipts[n] ?? []).flatMap { $0["logs"]?.arrayValue ?? [] } }
        let topic = chain.topics[0].hex
        let d = try data(service, "query ($f: FilterCriteria!) { logs(filter: $f) { index topics transaction { hash } } }",
                         ["f": .object(["fromBlock": .number(String(chain.first)), "toBlock": .number(String(chain.last)),
                                        "topics": .array([.array([.string(topic)])])])])
        let expected = all.filter { $0["topics"]?.arrayValue?.first == .string(topic) }
        #expect(d.at("logs")?.arrayValue?.map { $0["topics"] } == expected.map { $0["topics"] }, "seed \(seed)")
        #expect(d.at("logs")?.arrayValue?.map { $0.at("transaction.hash") } == expected.map { $0["transactionHash"] })
    }

    @Test func filteredTransactions() throws {
        let seed = SeededRandom.seed("filteredTransactions")
        let chain = try TestChain.make(seed: seed)
        let service = chain.service()
        for n in chain.first...chain.last {
            let who = chain.addresses[Int(n) % chain.addresses.count].hex
            let d = try data(service, "{ block(number: \(n)) { transactionsWhere(from: \"\(who)\") { hash } } }")
            let expected = (chain.blocks[n]?["transactions"]?.arrayValue ?? []).filter { $0["from"] == .string(who) }.map { $0["hash"] }
            #expect(d.at("block.transactionsWhere")?.arrayValue?.map { $0["hash"] } == expected, "seed \(seed) block \(n)")
        }
    }

    @Test func blockPagesCoverEveryBlockOnce() throws {
        let seed = SeededRandom.seed("blockPagesCoverEveryBlockOnce")
        var rng = SeededRandom(seed: seed)
        let chain = try TestChain.make(seed: seed, blocks: 37)
        let service = chain.service()
        for _ in 0..<3 {
            let size = Int.random(in: 1...10, using: &rng)
            var seen = [UInt64]()
            var after: JSONValue = .null
            var pages = 0
            while pages < 100 {
                let d = try data(service, "query ($a: String, $f: Int) { blocksPage(first: $f, after: $a) { edges { cursor node { number } } pageInfo { hasNextPage endCursor } } }",
                                 ["a": after, "f": .number(String(size))])
                let edges = d.at("blocksPage.edges")?.arrayValue ?? []
                seen += edges.compactMap { $0.at("node.number")?.number }
                pages += 1
                guard d.at("blocksPage.pageInfo.hasNextPage") == .bool(true) else { break }
                after = d.at("blocksPage.pageInfo.endCursor") ?? .null
                #expect(after == edges.last?["cursor"])
            }
            #expect(seen == Array(chain.first...chain.last), "seed \(seed) page size \(size)")
        }
    }

    @Test func logPagesCoverEveryMatchingLogOnce() throws {
        let seed = SeededRandom.seed("logPagesCoverEveryMatchingLogOnce")
        var rng = SeededRandom(seed: seed)
        let chain = try TestChain.make(seed: seed)
        let service = chain.service()
        let all = (chain.first...chain.last).flatMap { n in (chain.receipts[n] ?? []).flatMap { $0["logs"]?.arrayValue ?? [] } }
        for filterAddress in [nil, chain.addresses[1].hex] {
            let size = Int.random(in: 1...7, using: &rng)
            var filter: JSONObject = ["fromBlock": .number(String(chain.first)), "toBlock": .number(String(chain.last))]
            if let filterAddress { filter["addresses"] = .array([.string(filterAddress)]) }
            var seen = [JSONValue]()
            var after: JSONValue = .null
            for _ in 0..<1000 {
                let d = try data(service, "query ($f: FilterCriteria!, $a: String, $n: Int) { logsPage(filter: $f, first: $n, after: $a) { nodes { index transaction { hash } } pageInfo { hasNextPage endCursor } } }",
                                 ["f": .object(filter), "a": after, "n": .number(String(size))])
                let nodes = d.at("logsPage.nodes")?.arrayValue ?? []
                #expect(nodes.count <= size)
                seen += nodes
                guard d.at("logsPage.pageInfo.hasNextPage") == .bool(true) else { break }
                after = d.at("logsPage.pageInfo.endCursor") ?? .null
            }
            let expected = all.filter { filterAddress == nil || $0["address"] == .string(filterAddress!) }
            #expect(seen.map { $0.at("transaction.hash") } == expected.map { $0["transactionHash"] }, "seed \(seed)")
            #expect(seen.map { $0["index"]?.number } == expected.map { $0.objectValue?.number("logIndex") })
        }
        let bad = service.execute(query: "{ logsPage(filter: {}, after: \"!!\") { nodes { index } } }", operationName: nil, variables: nil)
        #expect(bad.at("errors.0.message")?.stringValue?.hasPrefix("invalid cursor") == true)
    }

    @Test func blockStatsEqualABruteForceSum() throws {
        let seed = SeededRandom.seed("blockStatsEqualABruteForceSum")
        var rng = SeededRandom(seed: seed)
        let chain = try TestChain.make(seed: seed)
        let service = chain.service()
        for _ in 0..<5 {
            let a = UInt64.random(in: chain.first - 5...chain.last, using: &rng)
            let b = UInt64.random(in: a...chain.last + 5, using: &rng)
            let d = try data(service, "{ blockStats(from: \(a), to: \(b)) { blockCount transactionCount gasUsed logCount } }")
            // A query wholly below the indexed blocks covers none of them (an empty range, not crossed bounds).
            let lo = max(a, chain.first), hi = min(b, chain.last)
            let range = lo <= hi ? lo..<(hi + 1) : lo..<lo
            let txs = range.reduce(0) { $0 + UInt64(chain.blocks[$1]?["transactions"]?.arrayValue?.count ?? 0) }
            let gas = range.reduce(U256.zero) { $0 + U256(chain.blocks[$1]?.number("gasUsed") ?? 0) }
            let logs = range.reduce(0) { s, n in s + (chain.receipts[n] ?? []).reduce(0) { $0 + UInt64($1["logs"]?.arrayValue?.count ?? 0) } }
            #expect(d.at("blockStats.blockCount")?.number == UInt64(range.count), "seed \(seed) \(a)...\(b)")
            #expect(d.at("blockStats.transactionCount")?.number == txs)
            #expect(d.at("blockStats.gasUsed") == .string(gas.quantity))
            #expect(d.at("blockStats.logCount")?.number == logs)
        }
    }

    @Test func depthAndCostLimitsRefuseBeforeExecution() throws {
        let chain = try TestChain.make(seed: 7, blocks: 5)
        let service = chain.service(limits: GraphQLLimits(maxDepth: 4, maxCost: 500, assumedListSize: 10))
        let deep = service.execute(query: "{ block { parent { parent { parent { parent { hash } } } } } }", operationName: nil, variables: nil)
        #expect(deep.at("errors.0.message") == .string("Query depth 6 exceeds the limit of 4."))
        #expect(deep["data"] == nil)
        // 1000 blocks × 1 field: the range counts, not what happens to be indexed.
        let wide = service.execute(query: "{ blocks(from: 0, to: 999) { hash } }", operationName: nil, variables: nil)
        #expect(wide.at("errors.0.message")?.stringValue?.hasPrefix("Query cost 1001 exceeds the limit of 500") == true)
        // Variables count too.
        let viaVars = service.execute(query: "query ($t: Long) { blocks(from: 0, to: $t) { hash } }", operationName: nil, variables: ["t": .number("600")])
        #expect(viaVars.at("errors.0.message")?.stringValue?.contains("exceeds the limit of 500") == true)
        // Nested lists multiply: 1 + 20 blocks × (1 + 10 txs × 3 fields).
        let nested = service.execute(query: "{ blocks(from: 1, to: 20) { transactions { hash from { address } } } }", operationName: nil, variables: nil)
        #expect(nested.at("errors.0.message")?.stringValue?.hasPrefix("Query cost 621 exceeds") == true, "\(JSON.serialize(nested))")
        #expect(service.execute(query: "{ blocks(from: 0, to: 9) { hash } }", operationName: nil, variables: nil)["errors"] == nil)
        // Introspection is bounded by the schema and allowed under small limits.
        #expect(service.execute(query: "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }", operationName: nil, variables: nil)["errors"] == nil)
    }

    @Test func upstreamFieldsForwardOrExplain() throws {
        let chain = try TestChain.make(seed: 3, blocks: 3)
        let disabled = chain.service().execute(query: "{ gasPrice chainID }", operationName: nil, variables: nil)
        #expect(disabled.at("errors.0.message")?.stringValue?.contains("forwarding to the upstream is disabled") == true)
        #expect(disabled.at("errors.0.path") == .array([.string("gasPrice")]))
        #expect(disabled["data"] == .null, "gasPrice is non-null, so data is null")

        let calls = Mutex<[String]>([])
        let service = chain.service(forward: { method, params in
            calls.withLock { $0.append(method + JSON.serialize(.array(params))) }
            switch method {
            case "eth_gasPrice": return .string("0x3b9aca00")
            case "eth_call": return .string("0xdeadbeef")
            case "eth_estimateGas": return .string("0x5208")
            case "eth_sendRawTransaction": return .string("0x" + String(repeating: "11", count: 32))
            default: throw FieldFailure("unexpected \(method)")
            }
        })
        let d = try data(service, "{ gasPrice block(number: \(chain.first)) { call(data: {to: \"0x\(String(repeating: "22", count: 20))\", gas: 5, data: \"0x01\"}) { data status gasUsed } estimateGas(data: {}) } }")
        #expect(d.at("gasPrice") == .string("0x3b9aca00"))
        #expect(d.at("block.call.data") == .string("0xdeadbeef") && d.at("block.call.gasUsed")?.number == 21000)
        #expect(d.at("block.estimateGas")?.number == 21000)
        #expect(calls.withLock { $0.contains("eth_call[{\"to\":\"0x\(String(repeating: "22", count: 20))\",\"gas\":\"0x5\",\"input\":\"0x01\"},\"\(Hex.encodeQuantity(chain.first))\"]") })
        let m = try data(service, "mutation { sendRawTransaction(data: \"0xAB\") }")
        #expect(m.at("sendRawTransaction") == .string("0x" + String(repeating: "11", count: 32)))
        #expect(calls.withLock { $0.last == "eth_sendRawTransaction[\"0xab\"]" })
    }

    @Test func httpConventions() throws {
        let chain = try TestChain.make(seed: 5, blocks: 3)
        let service = chain.service()
        let ok = service.handleHTTP(method: "POST", queryItems: [:], body: Array(#"{"query":"query ($n: Long) { block(number: $n) { number } }","variables":{"n":"0x65"}}"#.utf8), contentType: "application/json; charset=utf-8")
        #expect(ok.status == 200 && ok.body == #"{"data":{"block":{"number":101}}}"#)
        let gql = service.handleHTTP(method: "POST", queryItems: [:], body: Array("{ chainID }".utf8), contentType: "application/graphql")
        #expect(gql.status == 200 && gql.body.contains("chainID"))
        let get = service.handleHTTP(method: "GET", queryItems: ["query": "{ block { number } }"], body: [], contentType: nil)
        #expect(get.status == 200)
        let getMutation = service.handleHTTP(method: "GET", queryItems: ["query": "mutation { sendRawTransaction(data: \"0x\") }"], body: [], contentType: nil)
        #expect(getMutation.status == 405)
        // A caller that may only read (a read-only API key) runs queries, not mutations.
        let readOnlyMutation = service.handleHTTP(method: "POST", queryItems: [:], body: Array(#"{"query":"mutation { sendRawTransaction(data: \"0x\") }"}"#.utf8),
                                                  contentType: "application/json", mutationsAllowed: false)
        #expect(readOnlyMutation.status == 403 && readOnlyMutation.body.contains("read+write"), "\(readOnlyMutation)")
        #expect(service.handleHTTP(method: "POST", queryItems: [:], body: Array("{ chainID }".utf8), contentType: "application/graphql", mutationsAllowed: false).status == 200)
        let syntax = service.handleHTTP(method: "POST", queryItems: [:], body: Array(#"{"query":"{ block { "}"#.utf8), contentType: "application/json")
        #expect(syntax.status == 400)
        #expect(syntax.body == #"{"errors":[{"message":"Syntax Error: Expected Name, found <EOF>.","locations":[{"line":1,"column":11}]}]}"#)
        let invalid = service.handleHTTP(method: "POST", queryItems: [:], body: Array(#"{"query":"{ nope }"}"#.utf8), contentType: "application/json")
        #expect(invalid.status == 400)
        #expect(service.handleHTTP(method: "POST", queryItems: [:], body: Array("not json".utf8), contentType: "application/json").status == 400)
        #expect(service.handleHTTP(method: "GET", queryItems: [:], body: [], contentType: nil).status == 400)
        #expect(service.handleHTTP(method: "GET", queryItems: ["query": "{ chainID }", "variables": "{"], body: [], contentType: nil).status == 400)
        #expect(service.handleHTTP(method: "PUT", queryItems: [:], body: [], contentType: nil).status == 405)
        // A field error still executed: 200.
        let fieldError = service.handleHTTP(method: "POST", queryItems: [:], body: Array(#"{"query":"{ gasPrice }"}"#.utf8), contentType: "application/json")
        #expect(fieldError.status == 200 && fieldError.body.contains("forwarding"))
    }
}
