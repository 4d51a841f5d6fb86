import Testing
import TestSupport
import Net
@testable import Chain

/// Nesting limits sit well inside a worker thread's stack: a value exactly at the limit parses,
/// drops, compares, hashes and serializes on a thread with the production worker stack, and one
/// level more is a clean error. (An object nested 511 deep used to crash a 1 MiB worker.)
@Suite struct ParserDepthTests {
    /// `depth` containers: objects, arrays, or the two alternating.
    static func nestedJSON(_ depth: Int, _ shape: Int) -> String {
        var open = "", close = ""
        for level in 0..<depth {
            let object = shape == 0 || (shape == 2 && level % 2 == 0)
            open += object ? "{\"k\":" : "["
            close = (object ? "}" : "]") + close
        }
        return open + "1" + close
    }

    static func nestedRLP(_ depth: Int) -> [UInt8] {
        var e = RLP.encode(.bytes([1, 2, 3]))
        for _ in 0..<depth { e = RLP.encodeList(encodedItems: [e]) }
        return e
    }

    /// `depth` lists, each holding only the next, built outside-in in linear time.
    static func deepEmptyLists(_ depth: Int) -> [UInt8] {
        var headers = [[UInt8]]()
        var length = 0
        for _ in 0..<depth {
            var h = [UInt8]()
            RLP.appendHeader(count: length, offset: 0xc0, to: &h)
            headers.append(h)
            length += h.count
        }
        return headers.reversed().flatMap { $0 }
    }

    static func isTooDeep(_ e: RLPError) -> Bool { if case .tooDeep(_, RLP.maxDepth) = e { return true }; return false }

    @Test func jsonAtTheLimitAndPastIt() throws {
        let limit = JSON.maxDepth
        #expect(limit <= 128, "the limit the stack budget was sized for")
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for shape in 0..<3 {
                for depth in [limit - 1, limit] {
                    let text = Self.nestedJSON(depth, shape)
                    let v = try JSON.parse(text)
                    let w = try JSON.parse(text)
                    try Fuzz.check(v == w && v.hashValue == w.hashValue && Set([v, w]).count == 1, "shape \(shape) depth \(depth): equal values")
                    try Fuzz.check(JSON.serialize(v) == text, "shape \(shape) depth \(depth): round trip")
                    try Fuzz.check(try JSONSpans.elements(Array("[\(text)]".utf8), 0..<(text.utf8.count + 2)).count == 1, "spans")
                }
                let past = Self.nestedJSON(limit + 1, shape)
                let e = try Fuzz.expectError(JSONError.self, "shape \(shape): \(limit + 1) levels") { () throws(JSONError) in _ = try JSON.parse(past) }
                try Fuzz.check(e.message.contains("nesting deeper than \(limit)"), "\(e)")
                let wrapped = Array("[\(past)]".utf8)
                try Fuzz.expectError(JSONError.self, "spans past the limit") { () throws(JSONError) in _ = try JSONSpans.elements(wrapped, 0..<wrapped.count) }
                // Far past the limit (what used to crash) is the same clean error.
                let far = String(repeating: shape == 1 ? "[" : "{\"a\":", count: 100_000)
                try Fuzz.expectError(JSONError.self, "100,000 levels") { () throws(JSONError) in _ = try JSON.parse(far) }
            }
        }
    }

    @Test func rlpAtTheLimitAndPastIt() throws {
        let limit = RLP.maxDepth
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for depth in [limit - 1, limit] {
                let e = Self.nestedRLP(depth)
                let item = try RLP.decode(e)
                try Fuzz.check(item == (try RLP.decode(e)) && RLP.encode(item) == e, "depth \(depth): round trip")
            }
            let pastInput = Self.nestedRLP(limit + 1)
            let past = try Fuzz.expectError(RLPError.self, "\(limit + 1) levels") { () throws(RLPError) in _ = try RLP.decode(pastInput) }
            try Fuzz.check(Self.isTooDeep(past), "\(past)")
            // 100,000 nested list headers: the limit stops it long before the stack would.
            let farInput = Self.deepEmptyLists(100_000)
            let far = try Fuzz.expectError(RLPError.self, "100,000 levels") { () throws(RLPError) in _ = try RLP.decode(farInput) }
            try Fuzz.check(Self.isTooDeep(far), "\(far)")
        }
    }

    @Test func jsonDuplicateKeyMessageIsBounded() {
        let key = String(repeating: "k", count: 1_000_000)
        do { _ = try JSON.parse("{\"\(key)\":1,\"\(key)\":2}"); Issue.record("accepted") } catch {
            #expect(error.message.hasPrefix("duplicate key \"kkkk") && error.message.utf8.count < 120, "\(error.message.prefix(200))")
        }
    }
}
