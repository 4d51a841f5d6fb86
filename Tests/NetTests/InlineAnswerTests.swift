import Foundation
import Synchronization
import Testing
@testable import Net

/// Requests the `inline` check accepts are answered on the event loop; one that would block
/// there is abandoned and answered again by a worker; pipelined ones keep their order.
@Suite(.serialized) struct InlineAnswerTests {
    final class Attempts: Sendable { let count = Atomic<Int>(0) }

    /// Paths starting with /inline are inline-eligible; /inline/blocks calls mayBlock first.
    /// Each answer says which thread produced it and how many attempts ran.
    static func withServer(_ body: (HTTPServer, Attempts) throws -> Void) throws {
        let loop = try EventLoop(name: "test-inline")
        loop.start()
        let attempts = Attempts()
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop, handler: { req in
            attempts.count.add(1, ordering: .relaxed)
            if req.path.hasPrefix("/inline/blocks") {
                do { try InlineAttempt.mayBlock() } catch { return .text("abandoned attempt leaked: \(error)\n", status: 500) }
            }
            return .text("\(loop.inLoop ? "loop" : "worker") \(req.path)\n")
        }, inline: { req in req.path.hasPrefix("/inline") })
        server.start()
        defer { server.shutdown(); loop.stop() }
        try body(server, attempts)
    }

    @Test func eligibleRequestsAreAnsweredOnTheLoop() throws {
        try Self.withServer { (server: HTTPServer, attempts: Attempts) throws in
            let c = HTTPClient(address: server.address)
            #expect(try c.get("/inline/a").text == "loop /inline/a\n")
            #expect(try c.get("/other").text == "worker /other\n", "requests the check refuses still go to a worker")
            #expect(server.inlineAnswers.load(ordering: .relaxed) == 1)
            #expect(attempts.count.load(ordering: .relaxed) == 2)
        }
    }

    @Test func anAttemptThatWouldBlockRunsAgainOnAWorker() throws {
        try Self.withServer { (server: HTTPServer, attempts: Attempts) throws in
            let c = HTTPClient(address: server.address)
            let r = try c.get("/inline/blocks")
            #expect(r.status == 200)
            #expect(r.text == "worker /inline/blocks\n", "the abandoned attempt's answer is discarded, the worker's is sent")
            #expect(attempts.count.load(ordering: .relaxed) == 2, "one abandoned attempt on the loop, one run on a worker")
            #expect(server.inlineAnswers.load(ordering: .relaxed) == 0)
            // The loop is not left marked: the next eligible request is answered inline.
            #expect(try c.get("/inline/after").text == "loop /inline/after\n")
        }
    }

    @Test func manyPipelinedInlineRequestsAreAnsweredInOrder() throws {
        try Self.withServer { (server: HTTPServer, _: Attempts) throws in
            // Thousands in one write: answered by a loop over the buffer, not by recursion,
            // mixed with requests that go to a worker and ones abandoned to it.
            let n = 3000
            var text = ""
            for i in 0..<n {
                let path = i % 10 == 3 ? "/other/\(i)" : i % 10 == 7 ? "/inline/blocks/\(i)" : "/inline/\(i)"
                text += "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"
            }
            text += "GET /inline/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let out = try HTTPServerTests.raw(server.address, text)
            var cursor = out.startIndex
            for i in 0..<n {
                let path = i % 10 == 3 ? "/other/\(i)" : i % 10 == 7 ? "/inline/blocks/\(i)" : "/inline/\(i)"
                let expected = (i % 10 == 3 || i % 10 == 7 ? "worker " : "loop ") + path + "\n"
                guard let r = out.range(of: expected, range: cursor..<out.endIndex) else {
                    Issue.record("answer \(i) (\(expected.dropLast())) missing or out of order")
                    return
                }
                cursor = r.upperBound
            }
            #expect(out.hasSuffix("loop /inline/last\n"))
            #expect(server.inlineAnswers.load(ordering: .relaxed) == n - 2 * (n / 10) + 1)
        }
    }

    @Test func mayBlockOutsideAnAttemptReturns() throws {
        try InlineAttempt.mayBlock()
        #expect(!InlineAttempt.abandoned)
        let inner: Int? = InlineAttempt.run { () -> Int in
            #expect(!InlineAttempt.abandoned)
            #expect(throws: InlineAttempt.WouldBlock.self) { try InlineAttempt.mayBlock() }
            #expect(InlineAttempt.abandoned)
            return 1
        }
        #expect(inner == nil)
        #expect(InlineAttempt.run { 7 } == 7)
        #expect(!InlineAttempt.abandoned, "the marker is cleared after an attempt")
    }
}

/// A server over several loops hands connections to each in turn; each loop answers its
/// own connections' inline requests, and shutdown closes connections on every loop.
@Suite(.serialized) struct MultiLoopServerTests {
    @Test func connectionsAreSpreadOverEveryLoop() throws {
        let loops = try (0..<3).map { try EventLoop(name: "test-multi-\($0)") }
        for l in loops { l.start() }
        defer { for l in loops { l.stop() } }
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loops[0], moreLoops: Array(loops.dropFirst()), handler: { req in
            let which = loops.firstIndex { $0.inLoop }.map { "loop\($0)" } ?? "worker"
            return .text("\(which) \(req.path)\n")
        }, inline: { req in req.path != "/worker" })
        server.start()
        #expect(server.loops.count == 3)
        var clients = [HTTPClient]()
        var seen = [String: Int]()
        for i in 0..<6 {
            let c = HTTPClient(address: server.address)
            clients.append(c)
            let text = try c.get("/c\(i)").text
            seen[String(text.split(separator: " ")[0]), default: 0] += 1
            // The same connection stays on its loop.
            #expect(try c.get("/again").text.split(separator: " ")[0] == text.split(separator: " ")[0])
            #expect(try c.get("/worker").text == "worker /worker\n")
        }
        #expect(seen == ["loop0": 2, "loop1": 2, "loop2": 2], "round-robin over the loops: \(seen)")
        #expect(server.openConnections == 6)
        server.shutdown(timeoutMillis: 1000)
        #expect(server.openConnections == 0, "shutdown closes the connections of every loop")
        for c in clients { #expect(throws: (any Error).self) { _ = try c.get("/after") } }
    }
}
