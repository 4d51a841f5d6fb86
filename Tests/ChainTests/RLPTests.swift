import TestSupport
import Foundation
import Testing
@testable import Chain

@Suite struct RLPTests {
    /// Converts an ethereum/tests RLP "in" value to an item: strings are UTF-8,
    /// integers and "#bigint" strings are minimal big-endian.
    static func item(_ v: JSONValue) throws -> RLPItem {
        switch v {
        case .string(let s) where s.hasPrefix("#"): return .bytes(decimalToBigEndian(String(s.dropFirst())))
        case .string(let s): return .string(s)
        case .number(let n): return .bytes(decimalToBigEndian(n))
        case .array(let a): return .list(try a.map(item))
        default: throw TestFailure("unexpected RLP test input \(v)")
        }
    }

    /// Arbitrary-size decimal to minimal big-endian bytes (the fixtures include 2^256).
    static func decimalToBigEndian(_ s: String) -> [UInt8] {
        var out = [UInt8]()   // little-endian while building
        for c in s.utf8 {
            var carry = Int(c - UInt8(ascii: "0"))
            for i in 0..<out.count { let v = Int(out[i]) * 10 + carry; out[i] = UInt8(v & 0xff); carry = v >> 8 }
            while carry > 0 { out.append(UInt8(carry & 0xff)); carry >>= 8 }
        }
        return out.reversed()
    }

    @Test(.enabled(if: References.runFixtureTests)) func everyValidCase() throws {
        let cases = try References.fixtureJSON("ethereum-tests/RLPTests/rlptest.json").requireObject
        #expect(cases.count == 28)
        for (name, c) in cases.pairs {
            let o = try c.requireObject
            let expected = try o.data("out")
            let it = try Self.item(try o.value("in"))
            #expect(RLP.encode(it) == expected, "encode \(name)")
            #expect(try RLP.decode(expected) == it, "decode \(name)")
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func everyInvalidCaseIsRejected() throws {
        let cases = try References.fixtureJSON("ethereum-tests/RLPTests/invalidRLPTest.json").requireObject
        #expect(cases.count == 26)
        for (name, c) in cases.pairs {
            // A few upstream cases omit the 0x prefix.
            let text = try c.requireObject.string("out")
            let bytes = try Hex.decodeData(text.hasPrefix("0x") ? text : "0x" + text)
            #expect(throws: RLPError.self, "invalid case \(name) must be rejected") { try RLP.decode(bytes) }
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func randomRLPExample() throws {
        let cases = try References.fixtureJSON("ethereum-tests/RLPTests/RandomRLPTests/example.json").requireObject
        for (name, c) in cases.pairs {
            let bytes = try c.requireObject.data("out")
            let decoded = try RLP.decode(bytes)
            #expect(RLP.encode(decoded) == bytes, "\(name) round-trips")
        }
    }

    @Test func strictDecodingRejectsNonCanonicalForms() {
        for bad: [UInt8] in [[0x81, 0x00], [0x81, 0x7f], [0xb8, 0x01, 0x00], [0xb9, 0x00, 0x38] + [UInt8](repeating: 0, count: 56),
                             [0xf8, 0x01, 0x80], [0x82, 0x01], [0xc2, 0x80], [0x80, 0x80], []] {
            #expect(throws: RLPError.self, "\(bad.hexString)") { try RLP.decode(bad) }
        }
        #expect(throws: RLPError.nonCanonicalInteger) { try RLPItem.bytes([0, 1]).uint64() }
    }

    static func randomItem(_ rng: inout SeededRandom, depth: Int = 0) -> RLPItem {
        if depth < 3 && Int.random(in: 0..<4, using: &rng) == 0 {
            return .list((0..<Int.random(in: 0...5, using: &rng)).map { _ in randomItem(&rng, depth: depth + 1) })
        }
        let lens = [0, 1, 1, 2, 20, 32, 55, 56, 57, 200, 1100]
        let len = lens[Int.random(in: 0..<lens.count, using: &rng)]
        return .bytes(rng.bytes(len))
    }

    static func toJSON(_ i: RLPItem) -> JSONValue {
        switch i { case .bytes(let b): .string(b.hexString); case .list(let l): .array(l.map(toJSON)) }
    }

    @Test func randomRoundTrip() throws {
        let seed = SeededRandom.seed()
        var rng = SeededRandom(seed: seed)
        for _ in 0..<3000 {
            let it = Self.randomItem(&rng)
            #expect(try RLP.decode(RLP.encode(it)) == it, "seed \(seed)")
        }
    }

    @Test(.enabled(if: References.runPythonTests)) func randomItemsAgainstPyRLP() throws {
        let seed = SeededRandom.seed()
        var rng = SeededRandom(seed: seed)
        let items = (0..<2000).map { _ in Self.randomItem(&rng) }
        let encoded = try References.python(.object(["op": .string("rlp_encode"), "items": .array(items.map(Self.toJSON))])).arrayValue ?? []
        #expect(encoded.count == items.count)
        for (it, e) in zip(items, encoded) {
            #expect(RLP.encode(it).hexString == e.stringValue, "seed \(seed)")
        }
        // Mutated encodings: our strict decoder and pyrlp's strict mode must agree on accept/reject.
        var inputs = [[UInt8]]()
        for it in items.prefix(1500) {
            var b = RLP.encode(it)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0 where !b.isEmpty: b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 1 where b.count > 1: b.removeLast(Int.random(in: 1...min(3, b.count - 1), using: &rng))
            default: b.append(UInt8.random(in: 0...255, using: &rng))
            }
            inputs.append(b)
        }
        let verdicts = try References.python(.object(["op": .string("rlp_decode"), "inputs": .array(inputs.map { .string($0.hexString) })])).arrayValue ?? []
        #expect(verdicts.count == inputs.count)
        for (input, v) in zip(inputs, verdicts) {
            let ours = try? RLP.decode(input)
            if let ok = v["ok"] {
                #expect(ours.map(Self.toJSON) == ok, "seed \(seed): pyrlp accepts \(input.hexString)")
            } else {
                #expect(ours == nil, "seed \(seed): pyrlp rejects \(input.hexString) (\(v["error"]?.stringValue ?? ""))")
            }
        }
    }
}
