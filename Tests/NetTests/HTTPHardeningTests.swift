import ByteCodec
import Foundation
import Testing
@testable import Net

/// Lengths from the wire, control bytes, expectations and bounded error messages in the parser.
@Suite struct HTTPParserHardeningTests {
    func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
        var p = HTTPRequestParser(limits: limits)
        p.feed(Array(text.utf8))
        do { while try p.next() != nil {} ; return nil } catch { return error.status }
    }

    func chunked(_ size: String) -> String {
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n"
    }

    /// Sizes of 16 hex digits at or past the sign bit used to wrap to a negative Int and crash.
    @Test func chunkSizesAreBoundedBeforeArithmetic() {
        for size in ["ffffffffffffffff", "8000000000000000", "7fffffffffffffff", "10000000000000000", "fffffffffffffffffffffffffff", "800001"] {
            #expect(status(chunked(size)) == 413, "\(size)")
        }
        for size in ["", "-5", "+5", "0x5", "5 ", " 5", "g", "ffffffffffffffffzz"] {
            #expect(status(chunked(size)) == 400, "\(size.debugDescription)")
        }
        // Leading zeros are valid hex, however many.
        #expect(status(chunked("00000000000000000005")) == nil)
    }

    @Test func contentLengthIsPlainBoundedDigits() {
        func cl(_ v: String) -> Int? { status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(v)\r\n\r\n") }
        for v in ["+5", "-0", "0x10", "5 5", "5,", ",5", "5;", "1e3", "٣"] { #expect(cl(v) == 400, "\(v)") }
        for v in ["99999999999999999999999999999", "9223372036854775808", "9223372036854775807", "18446744073709551616", "8388609"] {
            #expect(cl(v) == 413, "\(v)")
        }
        #expect(cl("0") == nil && cl("00") == nil && cl("5, 5") == nil)
        #expect(cl("5, 6") == 400)
    }

    @Test func controlBytesAndVersionRules() {
        for value in ["a\u{0}b", "a\u{1}b", "a\rb", "a\u{7f}", "a\u{1b}[31m"] {
            var p = HTTPRequestParser()
            p.feed(Array("GET / HTTP/1.1\r\nHost: h\r\nX-Evil: \(value)\r\n\r\n".utf8))
            do { _ = try p.next(); Issue.record("accepted \(value.debugDescription)") } catch {
                #expect(error.status == 400 && error.message.contains("\"X-Evil\""), "\(error)")
            }
        }
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX-Tab: a\tb\r\n\r\n") == nil)
        #expect(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
        #expect(status("GET /a\u{1}b HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET /a\u{7f} HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n") == nil)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\nContent-Length: 3\r\n\r\n") == 417)
    }

    /// A head with its body still to come is visible (for 100-continue) and its limit errors come first.
    @Test func pendingHeadBeforeTheBody() throws {
        var p = HTTPRequestParser()
        p.feed(Array("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhe".utf8))
        #expect(try p.next() == nil)
        #expect(p.pendingHead?.target == "/x" && p.pendingHeadExpectsContinue && p.pendingBodyBytes == 2)
        p.feed(Array("llo".utf8))
        #expect(try p.next()?.body == Array("hello".utf8))
        #expect(p.pendingHead == nil && !p.hasPartialRequest)
    }

    @Test func errorMessagesQuoteABoundedPrefix() {
        let huge = String(repeating: "A", count: 10_000)
        let texts = ["GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \(huge)\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: \(huge)\r\n\r\n",
                     "G\(String(repeating: "e", count: 10_000)) / HTTP/1.1\r\nHost: h\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: h\r\n\(huge)\u{1}: v\r\n\r\n",
                     "GET / HTTP/\(huge)\r\nHost: h\r\n\r\n"]
        var limits = HTTPLimits(); limits.maxHeaderBytes = 64 * 1024
        for t in texts {
            var p = HTTPRequestParser(limits: limits)
            p.feed(Array(t.utf8))
            do { _ = try p.next(); Issue.record("accepted") } catch { #expect(error.message.utf8.count < 200, "\(error.message.prefix(300))") }
        }
        #expect(boundedQuote(String(repeating: "a", count: 100), limit: 4) == "\"aaaa\"…(100 bytes)")
        #expect(boundedQuote("short") == "\"short\"")
        #expect(boundedQuote("a\u{0}\"", limit: 64) == "\"a\\u0000\\\"\"")
    }
}

/// Slow clients, half-closed connections and `Expect: 100-continue` against a live server.
@Suite(.serialized) struct HTTPServerEdgeTests {
    static func withServer(limits: HTTPLimits = HTTPLimits(), shouldContinue: HTTPServer.ContinueCheck? = nil,
                           _ body: (HTTPServer, Counter) throws -> Void) throws {
        let loop = try EventLoop(name: "test-http-edge")
        loop.start()
        let handled = Counter()
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), limits: limits, loop: loop, handler: { req in
            handled.add()
            if req.path == "/slow" { usleep(300_000) }
            return .text("\(req.method) \(req.path) \(String(decoding: req.body, as: UTF8.self))")
        }, shouldContinue: shouldContinue)
        server.start()
        defer { server.shutdown(); loop.stop() }
        try body(server, handled)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    /// A blocking client socket that can send in pieces, half-close, and read.
    final class Raw {
        let fd: Int32
        init(_ addr: SocketAddress) throws {
            fd = try Socket.connectBlocking(to: addr, timeoutMillis: 2000)
            Socket.setTimeouts(fd, millis: 10_000)
        }
        deinit { close(fd) }
        /// False once the server has closed (or reset) the connection.
        @discardableResult func send(_ s: String) -> Bool {
            let b = Array(s.utf8)
            return b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == b.count
        }
        func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }
        /// Reads until the peer closes or `until` holds.
        func read(until: ((String) -> Bool)? = nil) -> String { receiveText(fd, until: until) }
        /// Sends `text` a byte at a time until the server closes; returns how many bytes went out.
        func trickle(_ text: String, everyMillis: UInt32) -> Int {
            var sent = 0
            for c in text.utf8 {
                if !send(String(decoding: [c], as: UTF8.self)) { break }
                sent += 1
                // The server answering (408) shows up as readable data.
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, Int32(everyMillis)) > 0 { break }
            }
            return sent
        }
    }

    /// Slowloris: a head trickled one byte at a time used to restart the request timer on every
    /// byte and could hold a connection forever; now the head deadline counts from its first byte.
    @Test func trickledHeadGets408() throws {
        var limits = HTTPLimits()
        limits.headerTimeoutMillis = 300
        try Self.withServer(limits: limits) { server, handled in
            let c = try Raw(server.address)
            let head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "p", count: 400))\r\n\r\n"
            let sent = c.trickle(head, everyMillis: 20)
            #expect(sent < head.utf8.count, "the whole head went through byte by byte")
            #expect(c.read().hasPrefix("HTTP/1.1 408 "))
            #expect(handled.value == 0)
        }
    }

    /// A body trickled below the minimum rate is cut after the grace period (408).
    @Test func trickledBodyGets408() throws {
        var limits = HTTPLimits()
        limits.bodyRateGraceMillis = 200
        limits.minBodyBytesPerSecond = 1000
        try Self.withServer(limits: limits) { server, handled in
            let c = try Raw(server.address)
            c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            let sent = c.trickle(String(repeating: "b", count: 1000), everyMillis: 20)
            #expect(sent < 1000)
            let out = c.read()
            #expect(out.hasPrefix("HTTP/1.1 408 ") && out.contains("bytes/s"), "\(out)")
            // A fast start does not buy a trickle after the grace period: the average is checked
            // again while bytes keep arriving (they do not postpone the check).
            let d = try Raw(server.address)
            d.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "b", count: 200))
            _ = d.trickle(String(repeating: "b", count: 800), everyMillis: 20)
            let late = d.read()
            #expect(late.hasPrefix("HTTP/1.1 408 ") && late.contains("bytes/s"), "\(late)")
            #expect(handled.value == 0)
        }
    }

    /// The whole request has an absolute deadline even when the body keeps up the minimum rate.
    @Test func bodyMustCompleteWithinTheRequestTimeout() throws {
        var limits = HTTPLimits()
        limits.requestTimeoutMillis = 400
        limits.minBodyBytesPerSecond = 0
        try Self.withServer(limits: limits) { server, _ in
            let c = try Raw(server.address)
            c.send("POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            _ = c.trickle(String(repeating: "1\r\nb\r\n", count: 1000), everyMillis: 10)
            let out = c.read()
            #expect(out.hasPrefix("HTTP/1.1 408 ") && out.contains("not completed"), "\(out)")
        }
    }

    /// Request then shutdown(SHUT_WR): the response still arrives (it used to be dropped while
    /// the request was applied anyway), for every pipelined request, then the server closes.
    @Test func halfCloseGetsEveryResponse() throws {
        try Self.withServer { server, handled in
            let c = try Raw(server.address)
            c.send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
            c.shutdownWrite()
            let out = c.read()
            #expect(out.hasPrefix("HTTP/1.1 200 "), "\(out)")
            #expect(out.contains("POST /slow abc") && out.contains("GET /two "), "\(out)")
            #expect(handled.value == 2)
            // A half-closed partial request is refused, not left hanging.
            let d = try Raw(server.address)
            d.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            d.shutdownWrite()
            #expect(d.read().hasPrefix("HTTP/1.1 400 "))
        }
    }

    @Test func expectContinue() throws {
        let refuse: HTTPServer.ContinueCheck = { head in
            head.path.hasPrefix("/admin") && head.header("Authorization") == nil ? .text("credentials required\n", status: 401) : nil
        }
        var limits = HTTPLimits()
        limits.maxBodyBytes = 100
        try Self.withServer(limits: limits, shouldContinue: refuse) { server, handled in
            // 100 first, then the body, then the final response.
            let c = try Raw(server.address)
            c.send("POST /data HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = c.read { $0.hasSuffix("\r\n\r\n") }
            #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
            c.send("hello")
            let final = c.read { $0.hasSuffix("hello") }
            #expect(final.hasPrefix("HTTP/1.1 200 ") && final.hasSuffix("POST /data hello"), "\(final)")
            // Refusals come at once, before any body: the hook's 401, 413 for a length past the limit, 417.
            for (head, status) in [("POST /admin/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 401),
                                   ("POST /data HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n", 413),
                                   ("POST /data HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, other\r\nContent-Length: 5\r\n\r\n", 417)] {
                let r = try Raw(server.address)
                r.send(head)
                let out = r.read()
                #expect(out.hasPrefix("HTTP/1.1 \(status) ") && !out.contains("100 Continue"), "\(status): \(out)")
            }
            #expect(handled.value == 1)
            // An authorized admin request continues.
            let a = try Raw(server.address)
            a.send("POST /admin/x HTTP/1.1\r\nHost: x\r\nAuthorization: k\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            #expect(a.read { $0.hasSuffix("\r\n\r\n") } == "HTTP/1.1 100 Continue\r\n\r\n")
            a.send("ok")
            #expect(a.read { $0.hasSuffix("ok") }.hasPrefix("HTTP/1.1 200 "))
        }
    }
}
