import Foundation
import Testing
import TestSupport
@testable import Chain

/// The span scanner agrees with the parser: every member and element range it reports
/// parses to exactly the value the parser builds, for random documents, compact or spaced.
@Suite struct JSONSpansTests {
    static func random(_ rng: inout SeededRandom, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(String(Int.random(in: -100_000...100_000, using: &rng)))
        case 3:
            let alphabet = Array("ab\"\\,:{}[] \u{e9}\n0x")
            return .string(String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }))
        case 4: return .string("0x" + Hex.encodeBare(rng.bytes(Int.random(in: 0...8, using: &rng))))
        case 5: return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in random(&rng, depth: depth + 1) })
        default:
            var o = JSONObject()
            for i in 0..<Int.random(in: 0...5, using: &rng) { o["k\(i)\(["", "\"", ",", "}"][Int.random(in: 0..<4, using: &rng)])"] = random(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    /// The same document with spaces and newlines between every token.
    static func spaced(_ v: JSONValue) -> String {
        switch v {
        case .array(let a): return "[ " + a.map(spaced).joined(separator: " ,\n ") + " ]"
        case .object(let o): return "{ " + o.pairs.map { JSON.serialize(.string($0.0)) + " : " + spaced($0.1) }.joined(separator: " , ") + " }"
        default: return JSON.serialize(v)
        }
    }

    @Test func rangesParseToTheParsersValues() throws {
        let seed = SeededRandom.seed("json spans")
        var rng = SeededRandom(seed: seed)
        var checked = 0
        for _ in 0..<2000 {
            var o = JSONObject()
            for i in 0..<Int.random(in: 1...6, using: &rng) { o["m\(i)"] = Self.random(&rng) }
            o["list"] = .array((0..<Int.random(in: 0...6, using: &rng)).map { _ in Self.random(&rng) })
            for text in [JSON.serialize(.object(o)), Self.spaced(.object(o))] {
                let b = Array(text.utf8)
                let members = try JSONSpans.members(b, 0..<b.count)
                #expect(members.map(\.key) == o.keys, "seed \(seed): \(text)")
                for (k, r) in members {
                    #expect(try JSON.parse(Array(b[r])) == o[k], "seed \(seed): member \(k) of \(text)")
                    checked += 1
                }
                let listRange = try #require(try JSONSpans.member(b, 0..<b.count, "list"))
                let elements = try JSONSpans.elements(b, listRange)
                #expect(try elements.map { try JSON.parse(Array(b[$0])) } == o["list"]?.arrayValue, "seed \(seed): \(text)")
            }
        }
        #expect(checked > 10_000)
        #expect(throws: JSONError.self) { try JSONSpans.members(Array("[1]".utf8), 0..<3) }
        #expect(throws: JSONError.self) { try JSONSpans.elements(Array("[1,\"2".utf8), 0..<5) }
        #expect(throws: JSONError.self) { try JSONSpans.members(Array("{\"a\" 1}".utf8), 0..<7) }
    }
}
