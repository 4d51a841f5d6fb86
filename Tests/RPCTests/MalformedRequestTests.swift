import Chain
import Foundation
import SimChain
import Testing
import TestSupport
@testable import RPC

/// Bad input never crashes the node and always gets a well-formed JSON-RPC error that
/// says what is wrong: every served method is called with seeded random and mutated
/// parameters, and raw bodies are mutated byte by byte.
@Suite(.serialized) struct MalformedRequestTests {
    static func randomValue(_ rng: inout SeededRandom, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0..<(depth > 2 ? 7 : 9), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(String(Int.random(in: -5...1_000_000, using: &rng)))
        case 3: return .string(["latest", "earliest", "pending", "safe", "finalized", "0x", "0x0", "0x00", "0xzz", "", "0x1", "0xffffffffffffffffff"][Int.random(in: 0..<12, using: &rng)])
        case 4: return .string("0x" + Hex.encodeBare(rng.bytes([20, 32, 31, 33, 1][Int.random(in: 0..<5, using: &rng)])))
        case 5: return .string(String(repeating: "a", count: Int.random(in: 0...70, using: &rng)))
        case 6: return .number("1e400")
        case 7: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o = JSONObject()
            for k in ["fromBlock", "toBlock", "address", "topics", "blockHash", "blockNumber", "requireCanonical", "x"] where Bool.random(using: &rng) {
                o[k] = randomValue(&rng, depth: depth + 1)
            }
            return .object(o)
        }
    }

    func check(_ text: [UInt8]?, _ what: String) {
        guard let text else { return }
        guard let v = try? JSON.parse(text) else { Issue.record("not JSON: \(what)"); return }
        for answer in v.arrayValue ?? [v] {
            #expect(answer["jsonrpc"] == .string("2.0"), "\(what)")
            if let e = answer["error"] {
                guard case .number(let code)? = e["code"], let c = Int(code) else { Issue.record("error without a code: \(what)"); continue }
                #expect(c == -32700 || (-32699 ... -32000).contains(c) || c == 3, "unexpected code \(c): \(what)")
                #expect((e["message"]?.stringValue ?? "").count > 5, "an error says what is wrong: \(what)")
                if c == -32603 { Issue.record("internal error for bad input: \(what) → \(JSON.serialize(e))") }
            } else {
                #expect(answer["result"] != nil, "\(what)")
            }
        }
    }

    @Test func randomParametersForEveryMethod() throws {
        let (ix, seed) = try IndexedSimChain.seeded("rpc malformed params", txs: 5, blocks: 6)
        defer { ix.stop() }
        var rng = SeededRandom(seed: seed)
        let methods = EthAPI.localMethodNames + ["eth_subscribe", "eth_nonexistent", "eth_call", "eth_getProof"]
        for _ in 0..<3000 {
            let m = methods[Int.random(in: 0..<methods.count, using: &rng)]
            let params = (0..<Int.random(in: 0...4, using: &rng)).map { _ in Self.randomValue(&rng) }
            let body = IndexedSimChain.body(m, params)
            check(ix.server.respond(to: body), "seed \(seed): \(m) \(JSON.serialize(.array(params)))")
        }
    }

    @Test func mutatedBodiesNeverCrash() throws {
        let (ix, seed) = try IndexedSimChain.seeded("rpc malformed bodies", txs: 3, blocks: 3)
        defer { ix.stop() }
        var rng = SeededRandom(seed: seed)
        let seeds = [IndexedSimChain.body("eth_getLogs", [.object(["fromBlock": .string("0x0"), "topics": .array([.null])])]),
                     IndexedSimChain.body("eth_getBalance", [.string("0x" + String(repeating: "ab", count: 20)), .string("latest")]),
                     Array(#"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","method":"eth_chainId"}]"#.utf8)]
        for _ in 0..<3000 {
            var b = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...6, using: &rng) where !b.isEmpty {
                let i = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: b.remove(at: i)
                default:
                    let syntax = Array("{}[]\",:0x-".utf8)
                    b.insert(syntax[Int.random(in: 0..<syntax.count, using: &rng)], at: i)
                }
            }
            check(ix.server.respond(to: b), "seed \(seed): body \(String(decoding: b, as: UTF8.self).prefix(200))")
        }
    }
}
