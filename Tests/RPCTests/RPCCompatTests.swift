import Chain
import Foundation
import ChainIndex
import Storage
import Testing
import TestSupport
@testable import RPC

/// The execution-apis rpc-compat cases (fixtures/execution-apis/tests) for every method
/// this node serves from its own index. The test chain is loaded the way the indexer
/// would store it: blocks and transactions rebuilt from chain.rlp, receipts and state at
/// every block from re-executing the chain in py-evm (Tests/python/compat_chain.py; it
/// checks what it rebuilt against every block, transaction and receipt the fixture
/// records). Results are reported per method; every case must pass.
@Suite(.serialized) struct RPCCompatTests {
    struct Case { let method: String; let file: String; let request: String; let expected: String; let specOnly: Bool }

    static func cases(_ dir: URL, methods: Set<String>) throws -> [Case] {
        var out = [Case]()
        for method in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where methods.contains(method) {
            for file in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(method).path).sorted() where file.hasSuffix(".io") {
                let text = try String(contentsOf: dir.appendingPathComponent(method).appendingPathComponent(file), encoding: .utf8)
                let lines = text.split(separator: "\n").map(String.init)
                let specOnly = lines.contains { $0.hasPrefix("//") && $0.contains("speconly") }
                var request: String? = nil
                for l in lines {
                    if l.hasPrefix(">> ") { request = String(l.dropFirst(3)) }
                    if l.hasPrefix("<< "), let r = request {
                        out.append(Case(method: method, file: file, request: r, expected: String(l.dropFirst(3)), specOnly: specOnly))
                        request = nil
                    }
                }
            }
        }
        return out
    }

    /// Order-insensitive form: JSON-RPC objects are compared by members, as clients read them.
    static func canonical(_ v: JSONValue) -> String {
        switch v {
        case .object(let o):
            return "{" + o.keys.sorted().map { JSON.serialize(.string($0)) + ":" + canonical(o[$0]!) }.joined(separator: ",") + "}"
        case .array(let a): return "[" + a.map(canonical).joined(separator: ",") + "]"
        default: return JSON.serialize(v)
        }
    }

    static func loadChain(_ tests: URL) throws -> EthAPI {
        let built = try JSON.parse(Array(try References.runPython("compat_chain.py", input: Data(), arguments: [tests.path])))
        let mismatches = built["mismatches"]?.arrayValue ?? []
        #expect(mismatches.isEmpty, "rebuilt blocks/transactions differ from recorded ones: \(JSON.serialize(.array(mismatches)).prefix(500))")
        let genesis = try JSON.parse(Array(try Data(contentsOf: tests.appendingPathComponent("genesis.json"))))
        guard case .number(let cidText)? = genesis["config"]?["chainId"], let chainId = UInt64(cidText) else { throw TestFailure("genesis.json has no chainId") }
        var payloads = [ChainCommand.BlockPayload]()
        for (n, entry) in (built["blocks"]?.arrayValue ?? []).enumerated() {
            let block = try #require(entry["block"]?.objectValue)
            // The rebuilt block must pass the same verification the indexer applies.
            let report = try BlockVerifier.verify(block: block)
            #expect(report.failures.isEmpty, "block \(n) fails verification: \(report.failures)")
            var post = [StateChanges.Account]()
            for a in entry["state"]?.arrayValue ?? [] {
                let o = try #require(a.objectValue)
                let storage = try (o["storage"]?.objectValue?.pairs ?? []).map { (slot: try Hash32(hex: AccountProofCheck.storageSlot($0.0).hexString), value: try Hash32(hex: AccountProofCheck.storageSlot($0.1.stringValue ?? "0x0").hexString)) }
                post.append(StateChanges.Account(address: try o.address("address"), balance: try o.u256("balance"), nonce: try o.quantity("nonce"),
                                                 code: try o.data("code"), storage: storage))
            }
            payloads.append(ChainCommand.BlockPayload(number: try block.quantity("number"), hash: try block.hash("hash"), parentHash: try block.hash("parentHash"),
                                                      block: Array(JSON.serialize(.object(block)).utf8),
                                                      receipts: Array(JSON.serialize(entry["receipts"] ?? .array([])).utf8),
                                                      state: StateChanges(post: post, source: .unrecorded)))
        }
        let env = try Environment(path: NSTemporaryDirectory() + "rpc-compat-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        func num(_ k: String) -> UInt64? { if case .number(let n)? = built[k] { return UInt64(n) }; return nil }
        let outcome = try env.write { txn in
            try index.apply(.blocks(chainId: chainId, blocks: payloads, safe: num("safe"), finalized: num("finalized")), in: txn)
        }
        #expect(outcome.skipped.isEmpty && outcome.applied.count == payloads.count, "\(outcome.skipped)")
        return EthAPI(config: .init(chainId: chainId), index: index, feed: nil, forwarder: nil)
    }

    @Test func executionApisCasesForLocalMethods() throws {
        guard References.runFixtureTests, References.runPythonTests else { return }
        let tests = References.fixtures.appendingPathComponent("execution-apis/tests")
        let api = try Self.loadChain(tests)
        let server = JSONRPCServer { m, p in try api.encodedCall(m, p) }
        let cases = try Self.cases(tests, methods: Set(EthAPI.localMethodNames))
        var passed = [String: Int](), total = [String: Int]()
        var failures = [String]()
        for c in cases {
            total[c.method, default: 0] += 1
            let got = try JSON.parse(server.respond(to: Array(c.request.utf8)) ?? Array("null".utf8))
            let want = try JSON.parse(c.expected)
            let ok = c.specOnly ? ((got["result"] != nil) == (want["result"] != nil)) : Self.canonical(got) == Self.canonical(want)
            if ok { passed[c.method, default: 0] += 1 } else {
                failures.append("\(c.method)/\(c.file): got \(JSON.serialize(got).prefix(160)) want \(c.expected.prefix(160))")
            }
        }
        let methods = total.keys.sorted()
        print("rpc-compat (execution-apis) for locally served methods: \(passed.values.reduce(0, +))/\(cases.count) cases pass")
        for m in methods { print("  \(m): \(passed[m] ?? 0)/\(total[m]!)") }
        for f in failures { print("  not passing: \(f)") }
        #expect(cases.count >= 75, "the fixture cases were found (\(cases.count))")
        #expect(failures.isEmpty, "every case of every locally served method answers as geth did: \(failures.count) do not")
    }
}

extension Array where Element == UInt8 {
    var hexString: String { Hex.encode(self) }
}
