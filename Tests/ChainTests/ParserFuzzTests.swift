import Testing
import TestSupport
import Net
@testable import Chain

/// Seeded fuzzing of the JSON parser (and the JSONSpans scanner that trusts its output) and of
/// strict RLP decoding (see `Fuzz` for the knobs; `chaos/parser-fuzz` runs these long). Every
/// case is a value or a typed error, on a thread with the production worker stack.
@Suite struct JSONParserFuzzTests {
    static let corpus: [String] = [
        #"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1b4",true]}"#,
        #"[{"a":[1,2.5e-3,-0,true,false,null]},{"b":{"c":"d\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}},[]]"#,
        #"{"logs":[{"topics":["0xdead","0xbeef"],"data":"0x"}],"n":123456789012345678901234567890}"#,
        #""plain string""#, "12.5E+10", "[[[[[[[[[[]]]]]]]]]]",
    ]

    /// Nesting of objects, arrays and both at limit-1, limit (accepted) and limit+1 (a JSONError).
    @Test func maximalNesting() throws {
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for shape in 0..<3 {
                for (depth, ok) in [(JSON.maxDepth - 1, true), (JSON.maxDepth, true), (JSON.maxDepth + 1, false)] {
                    let text = ParserDepthTests.nestedJSON(depth, shape)
                    switch Self.parse(Array(text.utf8)) {
                    case .success(let v): try Fuzz.check(ok && JSON.serialize(v) == text, "shape \(shape) depth \(depth) accepted")
                    case .failure(let error): try Fuzz.check(!ok, "shape \(shape) depth \(depth): \(error)")
                    }
                }
            }
        }
    }

    /// Every strict prefix of each corpus document either fails cleanly or (a number cut short) parses.
    @Test func truncationAtEveryByte() throws {
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for doc in Self.corpus {
                let bytes = Array(doc.utf8)
                for cut in 0..<bytes.count { try Self.exercise(Array(bytes[..<cut]), "\(doc) cut at \(cut)") }
            }
        }
    }

    @Test func mutationsAndRandomBytes() throws {
        let iterations = Fuzz.iterations(ci: 4000)
        for seed in Fuzz.seeds("JSONParserFuzzTests.mutationsAndRandomBytes") {
            try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
                var rng = SeededRandom(seed: seed)
                let interesting = Array("{}[]\",:\\u0123456789eE+-.tfn ".utf8) + [0x00, 0x1f, 0x80, 0xc3, 0xed, 0xff]
                for i in 0..<iterations {
                    let input: [UInt8]
                    switch i % 5 {
                    case 0: input = rng.bytes(Int.random(in: 0...64, using: &rng))
                    case 1:
                        // Deep mixtures around the limit.
                        let depth = JSON.maxDepth + Int.random(in: -2...2, using: &rng)
                        input = Fuzz.mutate(Array(ParserDepthTests.nestedJSON(depth, Int.random(in: 0..<3, using: &rng)).utf8), &rng, interesting: interesting)
                    default: input = Fuzz.mutate(Array(Self.corpus.randomElement(using: &rng)!.utf8), &rng, interesting: interesting)
                    }
                    try Self.exercise(input, "seed \(seed) case \(i)")
                }
            }
        }
    }

    static func parse(_ b: [UInt8]) -> Result<JSONValue, JSONError> {
        do throws(JSONError) { return .success(try JSON.parse(b)) } catch { return .failure(error) }
    }

    /// Parses; a value must survive serialize → parse unchanged, and JSONSpans must see the same
    /// members and elements in the serialized form. Errors must carry an offset within the input.
    static func exercise(_ input: [UInt8], _ context: @autoclosure () -> String) throws {
        switch parse(input) {
        case .success(let v):
            let text = Array(JSON.serialize(v).utf8)
            let again = try JSON.parse(text)
            try Fuzz.check(again == v && again.hashValue == v.hashValue, "round trip: \(context())")
            switch v {
            case .object(let o): try Fuzz.check(try JSONSpans.members(text, 0..<text.count).map(\.key) == o.keys, "spans keys: \(context())")
            case .array(let a): try Fuzz.check(try JSONSpans.elements(text, 0..<text.count).count == a.count, "spans elements: \(context())")
            default: break
            }
        case .failure(let error):
            try Fuzz.check(error.offset >= 0 && error.offset <= input.count, "offset \(error.offset) of \(input.count): \(context())")
        }
        // The scanner is for trusted input, but on anything else it must still throw, not crash.
        _ = try? JSONSpans.members(input, 0..<input.count)
        _ = try? JSONSpans.elements(input, 0..<input.count)
    }
}

@Suite struct RLPParserFuzzTests {
    static func randomItem(_ rng: inout SeededRandom, depth: Int = 0) -> RLPItem {
        if depth > 6 || Int.random(in: 0..<3, using: &rng) > 0 {
            let n = [0, 1, 1, 2, 31, 55, 56, 57, 300].randomElement(using: &rng)!
            return .bytes(rng.bytes(n))
        }
        return .list((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomItem(&rng, depth: depth + 1) })
    }

    static func decode(_ b: [UInt8]) -> Result<RLPItem, RLPError> {
        do throws(RLPError) { return .success(try RLP.decode(b)) } catch { return .failure(error) }
    }

    /// Strict decoding: a successful decode is canonical, so it re-encodes to exactly the input.
    static func exercise(_ input: [UInt8], _ context: @autoclosure () -> String) throws {
        if case .success(let item) = decode(input) {
            try Fuzz.check(RLP.encode(item) == input, "not canonical: \(context())")
        }
        _ = try? RLP.splitConcatenated(input)
    }

    /// Lists at limit-1 and limit decode; limit+1 is RLPError.tooDeep.
    @Test func deepLists() throws {
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for depth in [RLP.maxDepth - 1, RLP.maxDepth, RLP.maxDepth + 1, 10_000] {
                let input = ParserDepthTests.deepEmptyLists(depth)
                switch Self.decode(input) {
                case .success: try Fuzz.check(depth <= RLP.maxDepth, "\(depth) levels accepted")
                case .failure(let error): try Fuzz.check(depth > RLP.maxDepth && ParserDepthTests.isTooDeep(error), "\(depth): \(error)")
                }
            }
        }
    }

    /// Length prefixes of 1 to 8 bytes with the sign bit set, all ones, and lengths past the input.
    @Test func hostileLengthPrefixes() throws {
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for base: UInt8 in [0xb7, 0xf7] {
                for lenOfLen in 1...8 {
                    for fill: UInt8 in [0x80, 0xff, 0x7f, 0x01] {
                        let header = [base + UInt8(lenOfLen)] + [UInt8](repeating: fill, count: lenOfLen)
                        for tail in [[], [0x01], [UInt8](repeating: 0xc0, count: 64)] as [[UInt8]] {
                            let input = header + tail
                            if case .success = Self.decode(input) { try Fuzz.check(false, "accepted \(input.prefix(12))") }
                            _ = try? RLP.splitConcatenated(input)
                        }
                    }
                }
            }
        }
    }

    @Test func truncationMutationsAndRandomBytes() throws {
        let iterations = Fuzz.iterations(ci: 4000)
        for seed in Fuzz.seeds("RLPParserFuzzTests.truncationMutationsAndRandomBytes") {
            try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
                var rng = SeededRandom(seed: seed)
                let interesting: [UInt8] = [0x00, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xbf, 0xc0, 0xf7, 0xf8, 0xff]
                for i in 0..<iterations {
                    let item = Self.randomItem(&rng)
                    let encoded = RLP.encode(item)
                    try Fuzz.check(try RLP.decode(encoded) == item, "seed \(seed) case \(i): round trip")
                    if i % 8 == 0 {
                        // Every strict prefix of a canonical encoding is incomplete.
                        for cut in 0..<encoded.count {
                            let prefix = Array(encoded[..<cut])
                            try Fuzz.check((try? RLP.decode(prefix)) == nil, "seed \(seed) case \(i): prefix \(cut) decoded")
                        }
                    }
                    try Self.exercise(Fuzz.mutate(encoded, &rng, interesting: interesting), "seed \(seed) case \(i)")
                    try Self.exercise(rng.bytes(Int.random(in: 0...40, using: &rng)), "seed \(seed) case \(i) random")
                }
            }
        }
    }
}
