import Testing
import TestSupport
@testable import Net

/// Seeded fuzzing of the HTTP request parser and the WebSocket frame parser (see `Fuzz` for the
/// seed and iteration knobs; `chaos/parser-fuzz` runs these long). Every case ends in requests,
/// a clean "need more bytes", or an HTTPParseError with one of the statuses the parser uses —
/// never a crash — and the outcome does not depend on how the bytes were split across reads.
@Suite struct HTTPParserFuzzTests {
    static let statuses: Set<Int> = [400, 413, 417, 431, 501, 505]
    static var limits: HTTPLimits { var l = HTTPLimits(); l.maxHeaderBytes = 1024; l.maxBodyBytes = 4096; return l }

    static let valid: [String] = [
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a?x=1&y=%20 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nExpect: 100-continue\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
        "PUT /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0000a\r\n0123456789\r\n0\r\n\r\n",
    ]

    /// Requests, then "partial" or the error status: everything a parse can end in.
    static func outcome(_ pieces: [[UInt8]]) -> String {
        var p = HTTPRequestParser(limits: limits)
        var out = [String]()
        for piece in pieces {
            p.feed(piece)
            do {
                while let r = try p.next() { out.append("\(r.method) \(r.target) \(r.headers.count) \(r.body.count)") }
            } catch {
                out.append("error \(error.status)")
                return out.joined(separator: " | ")
            }
        }
        if p.hasPartialRequest { out.append("partial") }
        return out.joined(separator: " | ")
    }

    static func split(_ bytes: [UInt8], _ rng: inout SeededRandom) -> [[UInt8]] {
        var pieces = [[UInt8]]()
        var i = 0
        while i < bytes.count {
            let n = Int.random(in: 1...max(1, min(64, bytes.count - i)), using: &rng)
            pieces.append(Array(bytes[i..<(i + n)]))
            i += n
        }
        return pieces
    }

    static func check(_ outcome: String, _ context: @autoclosure () -> String) throws {
        if let r = outcome.range(of: "error ") {
            let status = Int(outcome[r.upperBound...].prefix(3)) ?? 0
            try Fuzz.check(statuses.contains(status), "unexpected status in \(outcome): \(context())")
        }
    }

    /// Sizes of 16 hex digits at and past the sign bit, all ones, and longer: 413 or 400, never a crash.
    @Test func extremeChunkSizesAndLengths() throws {
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            let sizes = ["ffffffffffffffff", "8000000000000000", "7fffffffffffffff", "7FFFFFFFFFFFFFFF", "10000000000000000",
                         "fffffffffffffff0", "1001", "1000", String(repeating: "f", count: 100), String(repeating: "0", count: 100) + "1"]
            for size in sizes {
                let text = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\n" + String(repeating: "x", count: 16) + "\r\n0\r\n\r\n"
                let o = Self.outcome([Array(text.utf8)])
                try Self.check(o, size)
                // Past the body limit it is 413 whatever the width; small sizes here frame the 16 bytes wrongly (400).
                let significant = size.drop { $0 == "0" }
                let tooLarge = significant.count > 4 || (Int(significant, radix: 16) ?? 0) > Self.limits.maxBodyBytes
                try Fuzz.check(tooLarge ? o == "error 413" : (o == "error 400" || o == "partial"), "\(size): \(o)")
                // A second chunk pushing the total past the limit, sizes summed without overflow.
                let second = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + String(repeating: "x", count: 2048) + "\r\n\(size)\r\n"
                try Self.check(Self.outcome([Array(second.utf8)]), "second \(size)")
            }
            for length in ["18446744073709551615", "9223372036854775808", "9223372036854775807", "4097", String(repeating: "9", count: 500)] {
                try Fuzz.check(Self.outcome([Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(length)\r\n\r\n".utf8)]) == "error 413", length)
            }
        }
    }

    /// Every strict prefix of a valid request is "need more bytes", never an error.
    @Test func truncationAtEveryByte() throws {
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for text in Self.valid {
                let bytes = Array(text.utf8)
                let whole = Self.outcome([bytes])
                try Fuzz.check(!whole.contains("error") && !whole.contains("partial"), "\(text.debugDescription): \(whole)")
                for cut in 0..<bytes.count {
                    let o = Self.outcome([Array(bytes[..<cut])])
                    try Fuzz.check(o == "partial" || o.isEmpty, "\(text.debugDescription) cut at \(cut): \(o)")
                }
            }
        }
    }

    /// Mutated valid requests, generated heads with extreme values, and random bytes; each parsed
    /// in one piece and in random pieces, with the same outcome.
    @Test func mutationsGeneratedHeadsAndRandomBytes() throws {
        let iterations = Fuzz.iterations(ci: 3000)
        for seed in Fuzz.seeds("HTTPParserFuzzTests.mutationsGeneratedHeadsAndRandomBytes") {
            try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
                var rng = SeededRandom(seed: seed)
                let interesting = Array("\r\n:; ,\t\0\u{7f}0fF-+xHTTP/1.1".utf8) + [0x80, 0xff]
                for i in 0..<iterations {
                    let input: [UInt8]
                    switch i % 4 {
                    case 0, 1:
                        var s = Array(Self.valid.randomElement(using: &rng)!.utf8)
                        if Bool.random(using: &rng) { s += Array(Self.valid.randomElement(using: &rng)!.utf8) }
                        input = Fuzz.mutate(s, &rng, interesting: interesting)
                    case 2: input = Self.generatedHead(&rng)
                    default: input = rng.bytes(Int.random(in: 0...300, using: &rng))
                    }
                    let whole = Self.outcome([input])
                    try Self.check(whole, "seed \(seed) case \(i)")
                    let pieces = Self.outcome(Self.split(input, &rng))
                    try Fuzz.check(pieces == whole, "seed \(seed) case \(i): \(whole) whole, \(pieces) in pieces; input \(input)")
                }
            }
        }
    }

    static func generatedHead(_ rng: inout SeededRandom) -> [UInt8] {
        let methods = ["GET", "POST", "PUT", "get", "", "G E T", "PO\u{0}ST"]
        let targets = ["/", "/a?b=c", "*", "", "/\u{1}", "/\u{7f}", "/" + String(repeating: "a", count: 2000)]
        let versions = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.10", "http/1.1", ""]
        let values = ["0", "5", "-1", "+5", " 5 ", "5,5", "5, 6", "ffffffffffffffff", "18446744073709551616", "chunked", "gzip, chunked",
                      "100-continue", "a\u{0}b", "a\rb", "\t", String(repeating: "9", count: 30)]
        let names = ["Host", "Content-Length", "Transfer-Encoding", "Expect", "Connection", "X-A", "Bad Name", "", "\u{1}"]
        var s = "\(methods.randomElement(using: &rng)!) \(targets.randomElement(using: &rng)!) \(versions.randomElement(using: &rng)!)\r\n"
        for _ in 0..<Int.random(in: 0...5, using: &rng) { s += "\(names.randomElement(using: &rng)!): \(values.randomElement(using: &rng)!)\r\n" }
        s += "\r\n"
        var bytes = Array(s.utf8)
        if Bool.random(using: &rng) {
            bytes += Array("\(values.randomElement(using: &rng)!)\r\n".utf8) + rng.bytes(Int.random(in: 0...40, using: &rng))
        }
        return bytes
    }

    /// WebSocket frame headers with every length encoding and extreme values: a frame, "need
    /// more", or a protocol error with the close code for it (1002 or 1009), before any allocation.
    @Test func webSocketFrameLengths() throws {
        let iterations = Fuzz.iterations(ci: 3000)
        for seed in Fuzz.seeds("HTTPParserFuzzTests.webSocketFrameLengths") {
            try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
                var rng = SeededRandom(seed: seed)
                let extremes: [UInt64] = [0, 1, 125, 126, 65535, 65536, 4096, 4097, UInt64(Int.max), UInt64(Int.max) + 1, UInt64.max, 1 << 62]
                for i in 0..<iterations {
                    var frame: [UInt8] = [UInt8.random(in: 0...255, using: &rng) & 0x8F | (Bool.random(using: &rng) ? 0x80 : 0)]
                    let n = Bool.random(using: &rng) ? extremes.randomElement(using: &rng)! : UInt64.random(in: 0...UInt64.max, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: frame.append(0x80 | UInt8(n % 126))
                    case 1: frame += [0x80 | 126, UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
                    default: frame.append(0x80 | 127); for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: n >> UInt64(shift))) }
                    }
                    frame += rng.bytes(Int.random(in: 0...64, using: &rng))
                    var p = WebSocketFrameParser(maxPayloadBytes: 4096)
                    for piece in Self.split(frame, &rng) {
                        p.feed(piece)
                        do throws(WebSocketProtocolError) {
                            while let f = try p.next() { try? Fuzz.check(f.payload.count <= 4096, "payload over the limit") }
                        } catch {
                            try Fuzz.check([.protocolError, .messageTooBig].contains(error.code), "seed \(seed) case \(i): \(error)")
                            break
                        }
                    }
                }
            }
        }
    }
}
