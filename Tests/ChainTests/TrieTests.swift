import Hashing
import TestSupport
import Foundation
import Testing
@testable import Chain

@Suite struct TrieTests {
    /// ethereum/tests convention: "0x…" is hex, anything else is the ASCII bytes.
    static func bytes(_ s: String) throws -> [UInt8] { s.hasPrefix("0x") ? try Hex.decodeData(s) : Array(s.utf8) }

    static func run(_ file: String, secure: Bool) throws {
        let cases = try References.fixtureJSON("ethereum-tests/TrieTests/\(file)").requireObject
        #expect(cases.count > 0)
        for (name, c) in cases.pairs {
            let o = try c.requireObject
            var t = MerklePatriciaTrie()
            let input = try o.value("in")
            var ops = [([UInt8], [UInt8]?)]()
            if let list = input.arrayValue {
                for op in list {
                    let pair = op.arrayValue ?? []
                    ops.append((try bytes(pair[0].stringValue ?? ""), try pair[1].stringValue.map(bytes)))
                }
            } else if let map = input.objectValue {
                for (k, v) in map.pairs { ops.append((try bytes(k), try v.stringValue.map(bytes))) }
            }
            for (k, v) in ops {
                let key = secure ? keccak256(k) : k
                if let v { t.put(key, v) } else { t.delete(key) }
            }
            #expect(t.root == (try o.hash("root")), "\(file) \(name)")
            // Every present key proves its value against the root.
            for (k, _) in ops {
                let key = secure ? keccak256(k) : k
                let got = try MerklePatriciaTrie.verifyProof(root: t.root, key: key, proof: t.proof(for: key))
                #expect(got == t.get(key), "\(file) \(name) proof for \(k.hexString)")
            }
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func trietest() throws { try Self.run("trietest.json", secure: false) }
    @Test(.enabled(if: References.runFixtureTests)) func trieanyorder() throws { try Self.run("trieanyorder.json", secure: false) }
    @Test(.enabled(if: References.runFixtureTests)) func secureTrie() throws { try Self.run("trietest_secureTrie.json", secure: true) }
    @Test(.enabled(if: References.runFixtureTests)) func secureAnyOrder() throws { try Self.run("trieanyorder_secureTrie.json", secure: true) }
    @Test(.enabled(if: References.runFixtureTests)) func hexEncodedSecure() throws { try Self.run("hex_encoded_securetrie_test.json", secure: true) }

    @Test(.enabled(if: References.runFixtureTests)) func nextAndPrevious() throws {
        let cases = try References.fixtureJSON("ethereum-tests/TrieTests/trietestnextprev.json").requireObject
        for (name, c) in cases.pairs {
            let o = try c.requireObject
            var t = MerklePatriciaTrie()
            for k in try o.array("in") { t.put(Array(k.stringValue!.utf8), [1]) }
            for test in try o.array("tests") {
                let a = test.arrayValue!.map { Array($0.stringValue!.utf8) }
                #expect((t.previousKey(before: a[0]) ?? []) == a[1], "\(name) prev of \(String(decoding: a[0], as: UTF8.self))")
                #expect((t.nextKey(after: a[0]) ?? []) == a[2], "\(name) next of \(String(decoding: a[0], as: UTF8.self))")
            }
        }
    }

    @Test func emptyTrieAndTamperedProofs() throws {
        #expect(MerklePatriciaTrie().root.hex == "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        var t = MerklePatriciaTrie()
        for i in 0..<50 { t.put(Array("key-\(i)".utf8), Array(String(repeating: "v\(i)", count: 20).utf8)) }
        let key = Array("key-7".utf8)
        var proof = t.proof(for: key)
        #expect(try MerklePatriciaTrie.verifyProof(root: t.root, key: key, proof: proof) == t.get(key))
        // Absent key: the proof shows absence.
        #expect(try MerklePatriciaTrie.verifyProof(root: t.root, key: Array("key-x".utf8), proof: t.proof(for: Array("key-x".utf8))) == nil)
        // A tampered node no longer hangs from the root.
        proof[proof.count - 1][proof[proof.count - 1].count - 2] ^= 1
        #expect(throws: MerklePatriciaTrie.ProofError.self) { try MerklePatriciaTrie.verifyProof(root: t.root, key: key, proof: proof) }
        // A proof against another root fails.
        #expect(throws: MerklePatriciaTrie.ProofError.self) { try MerklePatriciaTrie.verifyProof(root: Hash32.keccak([1]), key: key, proof: t.proof(for: key)) }
    }

    @Test(.enabled(if: References.runPythonTests)) func randomTriesAgainstPyTrie() throws {
        let seed = SeededRandom.seed()
        var rng = SeededRandom(seed: seed)
        var cases = [JSONValue]()
        var tries = [MerklePatriciaTrie]()
        var proofKeys = [[[UInt8]]]()
        for c in 0..<300 {
            let secure = c % 3 == 0
            var t = MerklePatriciaTrie()
            var pairs = [JSONValue]()
            let n = Int.random(in: 1...(c % 10 == 0 ? 400 : 40), using: &rng)
            var keys = [[UInt8]]()
            for _ in 0..<n {
                // Short keys with shared prefixes exercise extensions and branch values.
                let k = c % 2 == 0 ? rng.bytes(Int.random(in: 1...4, using: &rng)) : rng.bytes(32)
                let v = rng.bytes(Int.random(in: 1...70, using: &rng))
                t.put(secure ? keccak256(k) : k, v)
                keys.append(k)
                pairs.append(.array([.string(k.hexString), .string(v.hexString)]))
            }
            let probe = Array(keys.shuffled(using: &rng).prefix(5)) + [rng.bytes(3)]
            let pk = probe.map { secure ? keccak256($0) : $0 }
            proofKeys.append(pk)
            let proofs: [JSONValue] = pk.map { k in
                .object(["key": .string(k.hexString), "nodes": .array(t.proof(for: k).map { .string($0.hexString) })])
            }
            cases.append(.object(["secure": .bool(secure), "pairs": .array(pairs), "proofs": .array(proofs)]))
            tries.append(t)
        }
        let answers = try References.python(.object(["op": .string("trie"), "cases": .array(cases)])).arrayValue ?? []
        #expect(answers.count == tries.count)
        for (i, (t, a)) in zip(tries, answers).enumerated() {
            #expect(t.root.hex == a["root"]?.stringValue, "seed \(seed) case \(i)")
            for (k, p) in zip(proofKeys[i], a["proofs"]?.arrayValue ?? []) {
                let expected = t.get(k).map { $0.hexString } ?? "0x"
                #expect(p["value"]?.stringValue == expected, "seed \(seed) case \(i): py-trie verifies our proof for \(k.hexString)")
            }
        }
    }
}
