import Hashing
import TestSupport
import Foundation
import Testing
@testable import Chain

@Suite struct KeccakTests {
    @Test func knownValues() {
        #expect(keccak256([UInt8]()).hexString == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(keccak256(Array("abc".utf8)).hexString == "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    }

    @Test(.enabled(if: References.runFixtureTests)) func everyKATVector() throws {
        let kat = try References.fixtureJSON("keccak/keccak256_kat.json")
        let vectors = (kat["short"]?.arrayValue ?? []) + (kat["long"]?.arrayValue ?? [])
        #expect(vectors.count >= 321, "expected the 256 short + 65 long KATs")
        for v in vectors {
            let o = try v.requireObject
            let input = try o.data("input"), expected = try o.data("keccak256")
            #expect(keccak256(input) == expected, "KAT of \(input.count) bytes")
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func everyKATTextFileVector() throws {
        // The Keccak team's own text format: Len (bits), Msg, MD. For Len = 0 the message is empty.
        for file in ["keccak/ShortMsgKAT_256.txt", "keccak/LongMsgKAT_256.txt"] {
            let text = String(decoding: try References.fixture(file), as: UTF8.self)
            var len = -1, msg = [UInt8](), count = 0
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "Len": len = Int(parts[1])!
                case "Msg": msg = try Hex.decodeData("0x" + parts[1])
                case "MD":
                    let input = Array(msg.prefix(len / 8))
                    #expect(keccak256(input) == (try Hex.decodeData("0x" + parts[1].lowercased())), "\(file) Len=\(len)")
                    count += 1
                default: break
                }
            }
            #expect(count > 60, "\(file) parsed \(count) vectors")
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func generatedVectors() throws {
        let g = try References.fixtureJSON("keccak/keccak256_generated.json")
        var n = 0
        for v in (g["vectors"]?.arrayValue ?? []) + (g["ascii"]?.arrayValue ?? []) {
            let o = try v.requireObject
            let input = try o.data("input")
            #expect(keccak256(input) == (try o.data("keccak256")), "generated vector of \(input.count) bytes")
            // The streaming hasher must agree however the input is split.
            var h = Keccak256()
            let cut = input.count / 3
            h.update(input[..<cut]); h.update(input[cut...])
            #expect(h.finalize() == (try o.data("keccak256")))
            n += 1
        }
        #expect(n == 324)
        for v in g["large"]?.arrayValue ?? [] {
            let o = try v.requireObject
            let rep = try o.object("repeat")
            let pattern = try rep.data("pattern_hex")
            let count = Int(try JSON.serialize(rep.value("count")).description)!
            var input = [UInt8](); input.reserveCapacity(pattern.count * count)
            for _ in 0..<count { input.append(contentsOf: pattern) }
            let name = try o.string("name")
            #expect(keccak256(input) == (try o.data("keccak256")), "\(name)")
        }
    }

    /// The 1 GiB extremely-long KAT, streamed. Slow in debug builds, so it runs in CI
    /// (INFRASTACK_REQUIRE_REFERENCES) or when asked for, not on every local run.
    @Test(.enabled(if: References.runFixtureTests && (References.required || ProcessInfo.processInfo.environment["INFRASTACK_SLOW"] == "1")))
    func extremelyLongKAT() throws {
        let text = String(decoding: try References.fixture("keccak/ExtremelyLongMsgKAT_256.txt"), as: UTF8.self)
        var repeatCount = 0, pattern = "", md = ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "Repeat" { repeatCount = Int(parts[1])! }
            if parts[0] == "Text" { pattern = parts[1] }
            if parts[0] == "MD" { md = parts[1].lowercased() }
        }
        #expect(repeatCount == 16_777_216 && pattern.utf8.count == 64)
        let chunk = Array(String(repeating: pattern, count: 1024).utf8)
        var h = Keccak256()
        for _ in 0..<(repeatCount / 1024) { h.update(chunk) }
        #expect(h.finalize() == (try Hex.decodeData("0x" + md)))
    }

    @Test(.enabled(if: References.runPythonTests)) func randomInputsAgainstPycryptodome() throws {
        let seed = SeededRandom.seed()
        var rng = SeededRandom(seed: seed)
        var inputs = [[UInt8]]()
        for i in 0..<3000 {
            let len = i < 600 ? i : Int.random(in: 0...4096, using: &rng)
            inputs.append(rng.bytes(len))
        }
        let answer = try References.python(.object(["op": .string("keccak"), "inputs": .array(inputs.map { .string($0.hexString) })]))
        let expected = answer.arrayValue ?? []
        #expect(expected.count == inputs.count)
        for (i, e) in zip(inputs, expected) {
            #expect(keccak256(i).hexString == e.stringValue, "seed \(seed), input of \(i.count) bytes")
        }
    }
}
