import Upstream
@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Chain
import Foundation
import ChainIndex
import ChainFollower
import Net
import SimChain
import Synchronization
import Testing
import TestSupport
@testable import Node

/// JSON-RPC, GraphQL and REST on one node answer through one request view each. While a
/// writer thread applies blocks and reorgs (rewind, then a new branch) through Raft, three
/// readers ask each surface questions whose answers combine several reads; every answer
/// must describe one state of the chain (`BranchingChain` makes a mixed one visible). When
/// the chain is quiet the three agree on every block and account, never-seen accounts
/// included — answered locally with forwarding off, by the upstream with it on.
@Suite(.serialized) struct ReadSurfacesAgreeTests {
    static let chainId: UInt64 = 4242

    /// One voter (its own leader) and the HTTP handler in front of it.
    final class OneNode: @unchecked Sendable {
        let node: TestNode
        let api: NodeAPI

        init(_ name: String, upstream: String, forward: Bool) throws {
            node = TestNode(id: 1, dir: temporaryDirectory(name), hub: LocalHub())
            try node.start(voters: [1])
            var c = NodeConfig()
            c.nodeId = 1
            c.chain = Indexer.Config(chainId: ReadSurfacesAgreeTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: upstream)])
            c.rpc.forward = forward
            api = NodeAPI(node: node.node, config: c, peerStatus: { [:] })
            guard waitUntil(timeoutSeconds: 30, { self.node.node.report.status.role == .leader }) else { throw TestFailure("the single voter never led") }
        }

        func propose(_ command: ChainCommand) throws {
            let outcome = node.node.proposeAndApply(command.encoded(), timeoutMillis: 20_000)
            if outcome != .applied { throw TestFailure("entry not applied: \(outcome)") }
        }

        func stop() { node.stop() }

        func get(_ target: String) -> (status: Int, body: JSONValue?) {
            let r = api.handle(HTTPRequest(method: "GET", target: target))
            return (r.status, try? JSON.parse(r.body))
        }

        /// The JSON-RPC result, or the error object as `error`.
        func rpc(_ method: String, _ params: [JSONValue]) -> (result: JSONValue?, error: JSONValue?) {
            let body = JSON.serialize(.object(["jsonrpc": .string("2.0"), "id": .number("1"), "method": .string(method), "params": .array(params)]))
            let r = api.handle(HTTPRequest(method: "POST", target: "/", headers: [(name: "Content-Type", value: "application/json")], body: Array(body.utf8)))
            let v = try? JSON.parse(r.body)
            return (v?["result"], v?["error"] ?? (v == nil ? .string("status \(r.status)") : nil))
        }

        /// `data`, or the errors as `errors`.
        func graphQL(_ query: String) -> (data: JSONValue?, errors: JSONValue?) {
            let body = JSON.serialize(.object(["query": .string(query)]))
            let r = api.handle(HTTPRequest(method: "POST", target: "/graphql", headers: [(name: "Content-Type", value: "application/json")], body: Array(body.utf8)))
            let v = try? JSON.parse(r.body)
            return (v?["data"], v?["errors"] ?? (v == nil ? .string("status \(r.status)") : nil))
        }
    }

    /// What a reader saw, checked against the chain's history once the writer stopped.
    enum Seen: Sendable {
        case restHead(JSONValue), restAccount(JSONValue), restBlock(JSONValue)
        case graphQLBlock(JSONValue)
        case rpcBlock(JSONValue), rpcBalance(JSONValue), rpcNonce(JSONValue)
    }

    /// The readers' log and the writer's stop signal.
    final class Shared: Sendable {
        let done = Atomic<Bool>(false)
        let seen = Mutex<[(surface: String, what: Seen)]>([])
        let failures = Mutex<[String]>([])
    }

    static func quantity(_ v: JSONValue?) -> U256? { v?.stringValue.flatMap { try? U256(quantity: $0) } }
    static func number(_ v: JSONValue?) -> UInt64? {
        if case .number(let n)? = v { return UInt64(n) }
        return v?.stringValue.flatMap { try? Hex.decodeQuantity($0) }
    }
    static func hash(_ v: JSONValue?) -> Hash32? { v?.stringValue.flatMap { try? Hash32(hex: $0) } }

    static func latestQuery(_ account: Address) -> String {
        "{ block { number hash parent { hash } transactions { hash } account(address: \"\(account.hex)\") { balance transactionCount } } }"
    }

    @Test func everyAnswerComesFromOneChainStateWhileTheChainRewinds() throws {
        let seed = SeededRandom.seed("ReadSurfacesAgreeTests")
        let n = try OneNode("surfaces", upstream: "http://127.0.0.1:9", forward: false)
        defer { n.stop() }
        let chain = BranchingChain(chainId: Self.chainId, seed: seed)
        try n.propose(chain.extend(8))
        chain.committed(head: chain.head.hash)

        let shared = Shared()
        let account = chain.account
        func reader(_ surface: String, _ ask: @escaping @Sendable (Int) -> Result<Seen, TestFailure>) -> Thread {
            Thread {
                var i = 0
                while !shared.done.load(ordering: .acquiring) {
                    switch ask(i) {
                    case .success(let s): shared.seen.withLock { $0.append((surface, s)) }
                    case .failure(let f): shared.failures.withLock { $0.append("\(surface): \(f.description)") }
                    }
                    i += 1
                }
            }
        }
        let readers = [
            reader("REST") { i in
                let target = ["/v1/chain/head", "/v1/chain/accounts/\(account.hex)?block=latest", "/v1/chain/blocks/latest?full=true"][i % 3]
                let (status, body) = n.get(target)
                guard status == 200, let body else { return .failure(TestFailure("\(target): \(status) \(body.map { JSON.serialize($0) } ?? "")")) }
                return .success([Seen.restHead(body), .restAccount(body), .restBlock(body)][i % 3])
            },
            reader("GraphQL") { _ in
                let (data, errors) = n.graphQL(Self.latestQuery(account))
                guard errors == nil, let block = data?["block"] else { return .failure(TestFailure("errors \(errors.map { JSON.serialize($0) } ?? "none")")) }
                return .success(.graphQLBlock(block))
            },
            reader("JSON-RPC") { i in
                let (method, params): (String, [JSONValue]) = [("eth_getBlockByNumber", [.string("latest"), .bool(true)]),
                                                               ("eth_getBalance", [.string(account.hex), .string("latest")]),
                                                               ("eth_getTransactionCount", [.string(account.hex), .string("latest")])][i % 3]
                let (result, error) = n.rpc(method, params)
                guard error == nil, let result else { return .failure(TestFailure("\(method): \(error.map { JSON.serialize($0) } ?? "no result")")) }
                return .success([Seen.rpcBlock(result), .rpcBalance(result), .rpcNonce(result)][i % 3])
            },
        ]
        readers.forEach { $0.start() }

        // Writes until each reader has answers from many states, however the threads are scheduled.
        let minSteps = 80, minAnswersPerSurface = 150, maxSteps = 5000
        var step = 0
        var writeError: (any Error)?
        func answers(_ surface: String) -> Int { shared.seen.withLock { $0.filter { $0.surface == surface }.count } }
        while step < maxSteps && (step < minSteps || ["REST", "GraphQL", "JSON-RPC"].contains { answers($0) < minAnswersPerSurface }) {
            do {
                if chain.current.count > 3, chain.random(0...2) == 0 {
                    let r = chain.reorg(depth: 6)
                    try n.propose(r.rewind)
                    chain.committed(head: r.ancestor)
                    try n.propose(r.branch)
                } else {
                    try n.propose(chain.extend(chain.random(1...3)))
                }
                chain.committed(head: chain.head.hash)
            } catch {
                writeError = error
                break
            }
            step += 1
        }
        shared.done.store(true, ordering: .releasing)
        while readers.contains(where: { !$0.isFinished }) { usleep(1000) }
        if let writeError { throw writeError }
        print("ReadSurfacesAgreeTests: \(step) writes, \(chain.reorgs) reorgs, answers: \(["REST", "GraphQL", "JSON-RPC"].map { "\($0) \(answers($0))" }.joined(separator: ", "))")
        #expect(step < maxSteps, "seed \(seed): the readers never got \(minAnswersPerSurface) answers each")
        #expect(chain.reorgs >= 5, "seed \(seed): only \(chain.reorgs) reorgs")
        let failures = shared.failures.withLock { $0 }
        #expect(failures.isEmpty, "seed \(seed): \(failures.prefix(5))")

        var problems = [String]()
        for (surface, s) in shared.seen.withLock({ $0 }) {
            if let p = Self.problem(s, chain) { problems.append("\(surface): \(p)") }
        }
        #expect(problems.isEmpty, "seed \(seed): \(problems.count) answers mixed chain states, e.g. \(problems.prefix(5))")

        try Self.surfacesAgree(n, chain, never: Address(unchecked: [UInt8](repeating: 0xbe, count: 20)), seed: seed) { _ in .string("0x0") }
    }

    /// Why an answer cannot have come from one committed state of the chain, or nil.
    static func problem(_ s: Seen, _ chain: BranchingChain) -> String? {
        /// The head of a state: the block must have been a head, with its own parent and transactions.
        func latestBlock(_ b: JSONValue, parent: Hash32?, txs: [Hash32]?) -> String? {
            guard let h = hash(b["hash"]), let n = number(b["number"]), let known = chain.byHash[h] else { return "unknown block \(JSON.serialize(b).prefix(120))" }
            guard chain.heads.contains(h) else { return "block \(n) of branch \(known.branch) answered as latest but was never a head" }
            guard known.number == n, parent == known.parent, txs == known.txs else { return "block \(n) of branch \(known.branch) with another block's number, parent or transactions" }
            return nil
        }
        /// The touched account at the head of a state: its value names the block, which must have been a head.
        func latestAccount(branch: UInt64, number n: UInt64, answeredBlock: UInt64?) -> String? {
            if let answeredBlock, answeredBlock != n { return "account of block \(n) answered as block \(answeredBlock)" }
            guard chain.heads.contains(BranchingChain.hash(branch: branch, number: n)) else { return "account as of block \(n) of branch \(branch), never a head" }
            return nil
        }
        switch s {
        case .restHead(let o):
            guard let latest = hash(o["latest"]?["hash"]), chain.heads.contains(latest) else { return "head \(JSON.serialize(o)) was never a head" }
            for tag in ["safe", "finalized"] {
                guard let t = hash(o[tag]?["hash"]) else { continue }
                if !chain.isAncestor(t, of: latest) { return "\(tag) \(t) is not on the chain of latest \(latest)" }
            }
            return nil
        case .restAccount(let o):
            guard let b = quantity(o["balance"]).flatMap(BranchingChain.decode), let nonce = number(o["nonce"]) else { return "account \(JSON.serialize(o))" }
            if nonce != BranchingChain.nonce(branch: b.branch, number: b.number) { return "balance of branch \(b.branch) block \(b.number) with nonce \(nonce)" }
            return latestAccount(branch: b.branch, number: b.number, answeredBlock: number(o["block"]))
        case .restBlock(let b), .rpcBlock(let b):
            return latestBlock(b, parent: hash(b["parentHash"]), txs: b["transactions"]?.arrayValue?.map { hash($0["hash"]) ?? .zero })
        case .graphQLBlock(let b):
            if let p = latestBlock(b, parent: hash(b["parent"]?["hash"]), txs: b["transactions"]?.arrayValue?.map { hash($0["hash"]) ?? .zero }) { return p }
            guard let known = hash(b["hash"]).flatMap({ chain.byHash[$0] }), let bal = quantity(b["account"]?["balance"]).flatMap(BranchingChain.decode),
                  let nonce = number(b["account"]?["transactionCount"]) else { return "account in \(JSON.serialize(b).prefix(200))" }
            if bal.branch != known.branch || bal.number != known.number || nonce != BranchingChain.nonce(branch: known.branch, number: known.number) {
                return "block \(known.number) of branch \(known.branch) with the account of block \(bal.number) of branch \(bal.branch) (nonce \(nonce))"
            }
            return nil
        case .rpcBalance(let v):
            guard let b = quantity(v).flatMap(BranchingChain.decode) else { return "balance \(JSON.serialize(v))" }
            return latestAccount(branch: b.branch, number: b.number, answeredBlock: nil)
        case .rpcNonce(let v):
            guard let nonce = number(v) else { return "nonce \(JSON.serialize(v))" }
            return latestAccount(branch: nonce >> 20, number: nonce & 0xfffff, answeredBlock: nil)
        }
    }

    /// The quiet chain through all three surfaces: every block by number and by hash (undone
    /// ones too), the touched account at every block, and `never` (an account no block
    /// touched) as `expectedNever` says for each block.
    static func surfacesAgree(_ n: OneNode, _ chain: BranchingChain, never: Address, seed: UInt64,
                              expectedNever: (UInt64) throws -> JSONValue) throws {
        let head = chain.head
        #expect(n.get("/v1/chain/head").body?["latest"]?["number"] == .number(String(head.number)), "seed \(seed)")
        #expect(n.rpc("eth_blockNumber", []).result == .string(Hex.encodeQuantity(head.number)), "seed \(seed)")
        #expect(n.graphQL("{ block { number } }").data?["block"]?["number"] == .number(String(head.number)), "seed \(seed)")
        for b in chain.current {
            let at = Hex.encodeQuantity(b.number)
            let context = "block \(b.number), seed \(seed)"
            #expect(hash(n.get("/v1/chain/blocks/\(b.number)").body?["hash"]) == b.hash, "REST \(context)")
            #expect(hash(n.rpc("eth_getBlockByNumber", [.string(at), .bool(false)]).result?["hash"]) == b.hash, "JSON-RPC \(context)")
            #expect(hash(n.graphQL("{ block(number: \(b.number)) { hash } }").data?["block"]?["hash"]) == b.hash, "GraphQL \(context)")
            #expect(number(n.get("/v1/chain/blocks/\(b.hash.hex)").body?["number"]) == b.number, "REST by hash, \(context)")

            let balance = JSON.serialize(.string(BranchingChain.balance(branch: b.branch, number: b.number).quantity))
            let rest = n.get("/v1/chain/accounts/\(chain.account.hex)?block=\(b.number)").body
            let gql = n.graphQL("{ block(number: \(b.number)) { account(address: \"\(chain.account.hex)\") { balance transactionCount } } }").data?["block"]?["account"]
            #expect(rest?["balance"].map { JSON.serialize($0) } == balance, "REST account, \(context)")
            #expect(n.rpc("eth_getBalance", [.string(chain.account.hex), .string(at)]).result.map { JSON.serialize($0) } == balance, "JSON-RPC account, \(context)")
            #expect(gql?["balance"].map { JSON.serialize($0) } == balance, "GraphQL account, \(context)")
            let nonce = BranchingChain.nonce(branch: b.branch, number: b.number)
            #expect(number(rest?["nonce"]) == nonce && number(gql?["transactionCount"]) == nonce
                    && number(n.rpc("eth_getTransactionCount", [.string(chain.account.hex), .string(at)]).result) == nonce, "nonce, \(context)")

            let want = try expectedNever(b.number)
            let restNever = n.get("/v1/chain/accounts/\(never.hex)?block=\(b.number)")
            #expect(restNever.status == 200 && restNever.body?["balance"] == want, "REST never-seen, \(context): \(restNever.body.map { JSON.serialize($0) } ?? "")")
            #expect(n.rpc("eth_getBalance", [.string(never.hex), .string(at)]).result == want, "JSON-RPC never-seen, \(context)")
            let gqlNever = n.graphQL("{ block(number: \(b.number)) { account(address: \"\(never.hex)\") { balance } } }")
            #expect(gqlNever.data?["block"]?["account"]?["balance"] == want, "GraphQL never-seen, \(context): \(gqlNever.errors.map { JSON.serialize($0) } ?? "")")
        }
        // Blocks a reorg replaced are gone from every surface alike.
        for old in chain.byHash.values where !chain.current.contains(where: { $0.hash == old.hash }) {
            let context = "undone block \(old.number) of branch \(old.branch), seed \(seed)"
            #expect(n.get("/v1/chain/blocks/\(old.hash.hex)").status == 404, "REST \(context)")
            #expect(n.rpc("eth_getBlockByHash", [.string(old.hash.hex), .bool(false)]).result == .null, "JSON-RPC \(context)")
            #expect(n.graphQL("{ block(hash: \"\(old.hash.hex)\") { number } }").data?["block"] == .null, "GraphQL \(context)")
        }
        // Above the head: refused alike rather than answered with the head's state.
        let above = head.number + 1
        #expect(n.get("/v1/chain/accounts/\(chain.account.hex)?block=\(above)").status == 404, "seed \(seed)")
        #expect(n.rpc("eth_getBalance", [.string(chain.account.hex), .string(Hex.encodeQuantity(above))]).error?["message"] == .string("header not found"), "seed \(seed)")
        let gqlAbove = n.graphQL("{ block(number: \(head.number)) { miner(block: \(above)) { balance } } }")
        #expect(gqlAbove.errors?.arrayValue?.first?["message"] == .string("header not found"), "seed \(seed): \(gqlAbove.errors.map { JSON.serialize($0) } ?? "no errors")")
    }

    @Test func neverSeenAccountsComeFromTheUpstreamOnEverySurface() throws {
        let seed = SeededRandom.seed("ReadSurfacesAgreeTests.neverSeen")
        var o = SimChainOptions()
        o.blockTimeMillis = 0
        o.chainId = Self.chainId
        o.seed = seed % 10_000 + 1
        o.txsPerBlock = 3
        let sim = try SimChainServer(options: o)
        let url = sim.start()
        defer { sim.stop() }
        let n = try OneNode("surfaces-fwd", upstream: url, forward: true)
        defer { n.stop() }
        let chain = BranchingChain(chainId: Self.chainId, seed: seed)
        try n.propose(chain.extend(6))
        for _ in 0..<3 {
            let r = chain.reorg(depth: 3)
            try n.propose(r.rewind)
            try n.propose(r.branch)
            try n.propose(chain.extend(2))
        }
        _ = sim.chain.mine(Int(chain.head.number) + 2)
        // A SimChain account our chain never touched: its state is the upstream's, at the same block.
        let never = sim.chain.eoas[0]
        let upstream = SimChainRPC(chain: sim.chain)
        func theirs(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
            let body = JSON.serialize(.object(["jsonrpc": .string("2.0"), "id": .number("1"), "method": .string(method), "params": .array(params)]))
            guard let bytes = upstream.respond(to: Array(body.utf8)), let result = try JSON.parse(bytes)["result"] else { throw TestFailure("upstream gave no \(method)") }
            return result
        }
        try Self.surfacesAgree(n, chain, never: never, seed: seed) { b in try theirs("eth_getBalance", [.string(never.hex), .string(Hex.encodeQuantity(b))]) }
        #expect(try theirs("eth_getBalance", [.string(never.hex), .string("0x1")]) != .string("0x0"), "seed \(seed): the upstream funds the account, so zero would be wrong")

        // The other fields and a slot, at one block, alike on every surface.
        let b = chain.head.number - 1
        let at = JSONValue.string(Hex.encodeQuantity(b))
        let slot = Hash32.zero.hex
        let rest = n.get("/v1/chain/accounts/\(never.hex)?block=\(b)").body
        let gql = n.graphQL("{ block(number: \(b)) { account(address: \"\(never.hex)\") { transactionCount code storage(slot: \"\(slot)\") } } }").data?["block"]?["account"]
        let nonce = try theirs("eth_getTransactionCount", [.string(never.hex), at])
        #expect(rest?["nonce"] == nonce && n.rpc("eth_getTransactionCount", [.string(never.hex), at]).result == nonce, "seed \(seed)")
        #expect(Self.number(gql?["transactionCount"]) == Self.number(nonce), "seed \(seed)")
        let code = try theirs("eth_getCode", [.string(never.hex), at])
        #expect(rest?["code"] == code && gql?["code"] == code && n.rpc("eth_getCode", [.string(never.hex), at]).result == code, "seed \(seed)")
        let word = try theirs("eth_getStorageAt", [.string(never.hex), .string(slot), at])
        #expect(n.get("/v1/chain/storage/\(never.hex)/0x0?block=\(b)").body == word, "seed \(seed)")
        #expect(gql?["storage"] == word && n.rpc("eth_getStorageAt", [.string(never.hex), .string(slot), at]).result == word, "seed \(seed)")
    }
}
