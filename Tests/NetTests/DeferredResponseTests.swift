import Foundation
import Synchronization
import Testing
@testable import Net

@Suite(.serialized) struct DeferredResponseTests {
    @Test func fulfilsOnceAndRunsEveryContinuation() {
        let d = DeferredResponse()
        let seen = Mutex<[Int]>([])
        d.whenDone { r in seen.withLock { $0.append(r.status) } }
        #expect(!d.isDone)
        d.fulfil(.text("a", status: 201))
        d.fulfil(.text("b", status: 500))   // a timeout racing the completion: ignored
        d.whenDone { r in seen.withLock { $0.append(r.status) } }   // after the fact: runs at once
        #expect(d.isDone)
        #expect(seen.withLock { $0 } == [201, 201])
    }

    @Test func mapAppliesNowOrOnArrival() {
        let now = HTTPResponse.text("x").map { r in var r = r; r.headers.append(("X-A", "1")); return r }
        #expect(now.later == nil && now.header("x-a") == "1")

        let d = DeferredResponse()
        let mapped = HTTPResponse.later(d).map { r in var r = r; r.headers.append(("X-A", "2")); return r }
        #expect(mapped.later != nil && mapped.status == 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) { d.fulfil(.text("late", status: 202)) }
        let final = mapped.settled()
        #expect(final.status == 202 && final.header("X-A") == "2" && final.body == Array("late".utf8))
    }

    @Test func settledGivesUpAfterItsTimeout() {
        let r = HTTPResponse.later(DeferredResponse()).settled(timeoutMillis: 10)
        #expect(r.status == 504)
    }

    @Test func headerNamesCompareWithoutCaseOnlyForLetters() {
        #expect(headerNamesEqual("Content-Length", "content-length"))
        #expect(headerNamesEqual("X-API-KEY", "x-api-key"))
        #expect(!headerNamesEqual("Content-Length", "Content-Lengt"))
        #expect(!headerNamesEqual("a", "b"))
        // '@' (0x40) and '`' (0x60) differ only in bit 5 but are not letters.
        #expect(!headerNamesEqual("@", "`"))
        #expect(!headerNamesEqual("[", "{"))
        #expect(headerNamesEqual("", ""))
    }

    /// Fifty requests wait at once on deferred answers fulfilled out of order from another
    /// thread; each connection gets its own answer, and keeps working for the next request.
    @Test func serverWritesDeferredAnswersToTheirOwnConnections() throws {
        let loop = try EventLoop(name: "test-deferred")
        loop.start()
        let waiting = Mutex<[(String, DeferredResponse)]>([])
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in
            if req.path == "/now" { return .text("now") }
            let d = DeferredResponse()
            waiting.withLock { $0.append((req.path, d)) }
            // Wrapping steps run on the server's loop, not on the thread that fulfils.
            return HTTPResponse.later(d).map { r in
                var r = r
                r.headers.append(("X-Step-On-Loop", loop.inLoop ? "yes" : "no"))
                return r
            }
        }
        server.start()
        defer { server.shutdown(); loop.stop() }

        let count = 50
        let results = Mutex<[Int: String]>([:])
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let c = HTTPClient(address: server.address)
                guard let r = try? c.get("/w\(i)"), r.status == 200, let again = try? c.get("/now"), again.text == "now" else { return }
                results.withLock { $0[i] = r.text + " on loop: " + (r.header("X-Step-On-Loop") ?? "") }
            }
        }
        let deadline = Date().addingTimeInterval(20)
        while waiting.withLock({ $0.count }) < count && Date() < deadline { usleep(5000) }
        #expect(waiting.withLock { $0.count } == count, "every request reached the handler and is waiting")
        #expect(server.openConnections == count)
        for (path, d) in waiting.withLock({ $0 }).reversed() { d.fulfil(.text("answer for \(path)")) }
        #expect(group.wait(timeout: .now() + 20) == .success)
        let got = results.withLock { $0 }
        #expect(got.count == count)
        for i in 0..<count { #expect(got[i] == "answer for /w\(i) on loop: yes") }
    }
}
