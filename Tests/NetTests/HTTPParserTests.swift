import Testing
import TestSupport
@testable import Net

@Suite struct HTTPParserTests {
    func parseAll(_ text: String, limits: HTTPLimits = HTTPLimits()) throws(HTTPParseError) -> [HTTPRequest] {
        var p = HTTPRequestParser(limits: limits)
        p.feed(Array(text.utf8))
        var out = [HTTPRequest]()
        while let r = try p.next() { out.append(r) }
        return out
    }

    @Test func simpleAndPipelined() throws {
        let reqs = try parseAll("GET /a?x=1&y=two%20words HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.0\r\n\r\n")
        #expect(reqs.map(\.target) == ["/a?x=1&y=two%20words", "/b", "/c"])
        #expect(reqs[0].path == "/a" && reqs[0].query == ["x": "1", "y": "two words"])
        #expect(reqs[1].body == Array("hello".utf8))
        #expect(reqs[0].keepAlive && !reqs[2].keepAlive)
    }

    @Test func chunkedBody() throws {
        let reqs = try parseAll("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
        #expect(reqs.count == 1 && reqs[0].body == Array("hello world".utf8))
    }

    @Test func limitsAndErrors() {
        var small = HTTPLimits(); small.maxHeaderBytes = 100; small.maxBodyBytes = 10
        let cases: [(String, Int)] = [
            ("GET / HTTP/1.1\r\nHost: h\r\nX: \(String(repeating: "a", count: 150))\r\n\r\n", 431),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", 413),
            ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("get / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET /\r\n\r\n", 400),
        ]
        for (text, status) in cases {
            #expect(throws: HTTPParseError.self, "\(text.debugDescription)") { _ = try parseAll(text, limits: small) }
            do { _ = try parseAll(text, limits: small) } catch { #expect(error.status == status, "\(text.debugDescription): \(error)") }
        }
    }

    /// However the bytes are split across reads, the same requests come out.
    @Test func arbitrarySplitsGiveTheSameRequests() throws {
        let text = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\nPUT /z HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
        let bytes = Array(text.utf8)
        let expected = try parseAll(text).map { "\($0.method) \($0.target) \(String(decoding: $0.body, as: UTF8.self))" }
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SeededRandom(seed: seed)
        for _ in 0..<500 {
            var p = HTTPRequestParser()
            var got = [String]()
            var i = 0
            while i < bytes.count {
                let n = Int(rng.next() % 7) + 1
                p.feed(Array(bytes[i..<min(bytes.count, i + n)]))
                i += n
                while let r = try p.next() { got.append("\(r.method) \(r.target) \(String(decoding: r.body, as: UTF8.self))") }
            }
            #expect(got == expected, "seed \(seed)")
        }
    }

    /// Seeded random-input fuzzing: mutated and random byte streams never crash the parser;
    /// each ends in requests, a clean "need more", or an error with a 4xx/5xx status.
    @Test func fuzzNeverCrashes() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SeededRandom(seed: seed)
        let corpus = [
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ].map { Array($0.utf8) }
        var limits = HTTPLimits(); limits.maxHeaderBytes = 512; limits.maxBodyBytes = 256
        for _ in 0..<20_000 {
            var input = corpus[Int(rng.next() % UInt64(corpus.count))]
            for _ in 0..<Int(rng.next() % 4) {
                let pos = Int(rng.next() % UInt64(input.count + 1))
                switch rng.next() % 4 {
                case 0 where pos < input.count: input[pos] = UInt8(truncatingIfNeeded: rng.next())
                case 1: input.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
                case 2 where pos < input.count: input.remove(at: pos)
                default: input.append(contentsOf: corpus[Int(rng.next() % 3)])
                }
            }
            if rng.next() % 10 == 0 { input = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            var p = HTTPRequestParser(limits: limits)
            p.feed(input)
            do {
                while try p.next() != nil {}
            } catch {
                #expect((400..<600).contains(error.status), "seed \(seed)")
            }
        }
    }
}
