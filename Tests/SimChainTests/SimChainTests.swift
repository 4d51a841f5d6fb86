import Chain
import Net
import Testing
@testable import SimChain

@Suite struct SimChainTests {
    func rpc(_ chain: SimChain, _ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let body = JSON.serialize(.object(["jsonrpc": .string("2.0"), "id": .number("1"), "method": .string(method), "params": .array(params)]))
        let r = SimChainRPC(chain: chain).handle(HTTPRequest(method: "POST", target: "/", body: Array(body.utf8)))
        return try JSON.parse(r.body)
    }

    func options(seed: UInt64, reorgs: Bool) -> SimChainOptions {
        var o = SimChainOptions()
        o.seed = seed
        o.txsPerBlock = 12
        o.blockTimeMillis = 0
        if reorgs { o.reorgEvery = 7; o.reorgDepth = 3; o.reorgAt = [40: 5] }
        return o
    }

    @Test func deterministicFromTheSeed() {
        let a = SimChain(options: options(seed: 9, reorgs: true)), b = SimChain(options: options(seed: 9, reorgs: true)), c = SimChain(options: options(seed: 10, reorgs: true))
        for _ in 0..<30 { a.mine(); b.mine(); c.mine() }
        #expect(a.snapshot.map(\.hash) == b.snapshot.map(\.hash))
        #expect(a.snapshot.last!.hash != c.snapshot.last!.hash)
    }

    @Test func everyBlockVerifiesAcrossReorgs() throws {
        let chain = SimChain(options: options(seed: 3, reorgs: true))
        var seen = Set<Hash32>()
        var abandoned = 0
        for _ in 0..<120 {
            let before = chain.snapshot
            chain.mine()
            let after = chain.snapshot
            for (old, new) in zip(before, after) where old.hash != new.hash { abandoned += 1; _ = new }
            let head = after.last!
            let report = try BlockVerifier.verify(block: head.full, receipts: head.receipts.map { .object($0) })
            #expect(report.ok, "block \(head.number): \(report.failures)")
            #expect(report.performed.contains(.receiptsRoot) && report.performed.contains(.transactionsRoot) && report.performed.contains(.withdrawalsRoot))
            seen.insert(head.hash)
        }
        let blocks = chain.snapshot
        for (i, b) in blocks.enumerated() where i > 0 {
            #expect(try b.full.hash("parentHash") == blocks[i - 1].hash, "parent link at \(b.number)")
            let report = try BlockVerifier.verify(block: b.full, receipts: b.receipts.map { .object($0) })
            #expect(report.ok, "canonical block \(b.number): \(report.failures)")
        }
        #expect(chain.reorgCount > 5 && abandoned > 10, "reorgs happened: \(chain.reorgCount), abandoned blocks \(abandoned)")
    }

    /// The prestate diffs agree with state queries: post at N equals the state at N; pre equals N − 1.
    @Test func tracesAgreeWithStateQueries() throws {
        let chain = SimChain(options: options(seed: 5, reorgs: false))
        for _ in 0..<20 { chain.mine() }
        for n in [1, 7, 20] {
            let trace = try rpc(chain, "debug_traceBlockByNumber", [.string(Hex.encodeQuantity(UInt64(n))), .object(["tracer": .string("prestateTracer"), "tracerConfig": .object(["diffMode": .bool(true)])])])
            var lastPost = [String: String](), firstPre = [String: String]()
            for t in trace["result"]?.arrayValue ?? [] {
                for (a, v) in t["result"]?["pre"]?.objectValue?.pairs ?? [] where firstPre[a] == nil { firstPre[a] = v["balance"]?.stringValue }
                for (a, v) in t["result"]?["post"]?.objectValue?.pairs ?? [] { if let b = v["balance"]?.stringValue { lastPost[a] = b } }
            }
            #expect(!lastPost.isEmpty)
            for (a, bal) in lastPost {
                #expect(try rpc(chain, "eth_getBalance", [.string(a), .string(Hex.encodeQuantity(UInt64(n)))])["result"]?.stringValue == bal, "post of \(a) at \(n)")
            }
            for (a, bal) in firstPre {
                #expect(try rpc(chain, "eth_getBalance", [.string(a), .string(Hex.encodeQuantity(UInt64(n - 1)))])["result"]?.stringValue == bal, "pre of \(a) at \(n)")
            }
        }
    }

    @Test func logsFilterMatchesBruteForce() throws {
        let chain = SimChain(options: options(seed: 11, reorgs: false))
        for _ in 0..<15 { chain.mine() }
        let all = chain.snapshot.flatMap { $0.receipts.flatMap { $0["logs"]?.arrayValue ?? [] } }
        #expect(!all.isEmpty)
        let got = try rpc(chain, "eth_getLogs", [.object(["fromBlock": .string("0x0"), "toBlock": .string("latest"), "address": .string(chain.token.hex),
                                                          "topics": .array([.string(SimChain.transferTopic.hex)])])])["result"]?.arrayValue
        #expect(got == all.filter { $0["address"]?.stringValue == chain.token.hex })
        let none = try rpc(chain, "eth_getLogs", [.object(["fromBlock": .string("0x1"), "toBlock": .string("0x3"), "topics": .array([.null, .string(Hash32.keccak([1, 2, 3]).hex)])])])
        #expect(none["result"]?.arrayValue?.isEmpty == true)
    }

    @Test func errorsFollowTheSpec() throws {
        let chain = SimChain(options: options(seed: 1, reorgs: false))
        #expect(try rpc(chain, "eth_nope", [])["error"]?["code"] == .number("-32601"))
        #expect(try rpc(chain, "eth_getBalance", [.string("0x12")])["error"]?["code"] == .number("-32602"))
        #expect(try rpc(chain, "eth_getBlockByNumber", [])["error"]?["code"] == .number("-32602"))
        let r = SimChainRPC(chain: chain).handle(HTTPRequest(method: "POST", target: "/", body: Array("{bad".utf8)))
        #expect(try JSON.parse(r.body)["error"]?["code"] == .number("-32700"))
        #expect(try rpc(chain, "eth_getBlockByNumber", [.string("0x99"), .bool(false)])["result"] == .null)
    }
}
