import ByteCodec
import Foundation
import Testing
@testable import Net

@Suite(.serialized) struct HTTPServerTests {
    /// A server on a free loopback port that echoes method, path and body.
    static func withServer(limits: HTTPLimits = HTTPLimits(), _ body: (HTTPServer) throws -> Void) throws {
        let loop = try EventLoop(name: "test-http")
        loop.start()
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), limits: limits, loop: loop) { req in
            if req.path == "/slow" { usleep(200_000) }
            return .json("{\"method\":\"\(req.method)\",\"path\":\"\(req.path)\",\"body\":\(jsonQuote(String(decoding: req.body, as: UTF8.self)))}")
        }
        server.start()
        defer { server.shutdown(); loop.stop() }
        try body(server)
    }

    /// Raw socket exchange: send bytes, read until the peer closes or `until` returns true.
    static func raw(_ addr: SocketAddress, _ text: String, until: ((String) -> Bool)? = nil) throws -> String {
        let fd = try Socket.connectBlocking(to: addr, timeoutMillis: 2000)
        defer { close(fd) }
        Socket.setTimeouts(fd, millis: 3000)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return receiveText(fd, until: until)
    }

    @Test func keepAliveRequests() throws {
        try Self.withServer { (server: HTTPServer) throws in
            let c = HTTPClient(address: server.address)
            for i in 0..<20 {
                let r = try c.post("/p\(i)", json: "{\"i\":\(i)}")
                #expect(r.status == 200)
                #expect(r.text == "{\"method\":\"POST\",\"path\":\"/p\(i)\",\"body\":\"{\\\"i\\\":\(i)}\"}")
            }
            #expect(server.openConnections == 1, "one connection reused for all requests")
        }
    }

    @Test func pipelinedResponsesComeInOrder() throws {
        try Self.withServer { (server: HTTPServer) throws in
            let text = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let out = try Self.raw(server.address, text)
            let slow = out.range(of: "/slow")!.lowerBound, fast = out.range(of: "/fast")!.lowerBound, last = out.range(of: "/last")!.lowerBound
            #expect(slow < fast && fast < last)
            #expect(out.components(separatedBy: "HTTP/1.1 200 OK").count == 4)
        }
    }

    @Test func limitsAnswerWithTheirStatus() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 100
        limits.maxHeaderBytes = 200
        try Self.withServer(limits: limits) { (server: HTTPServer) throws in
            #expect(try Self.raw(server.address, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n").hasPrefix("HTTP/1.1 413 "))
            #expect(try Self.raw(server.address, "GET / HTTP/1.1\r\nHost: x\r\nX: \(String(repeating: "a", count: 300))\r\n\r\n").hasPrefix("HTTP/1.1 431 "))
            #expect(try Self.raw(server.address, "GARBAGE\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
            // The server is still healthy afterwards.
            #expect(try HTTPClient(address: server.address).get("/ok").status == 200)
        }
    }

    @Test func slowAndIdleClientsAreCut() throws {
        var limits = HTTPLimits()
        limits.requestTimeoutMillis = 300
        limits.idleTimeoutMillis = 300
        try Self.withServer(limits: limits) { (server: HTTPServer) throws in
            // Half a request, then silence: 408.
            let out = try Self.raw(server.address, "GET / HTTP/1.1\r\nHost: x\r\n")
            #expect(out.hasPrefix("HTTP/1.1 408 "))
            // An idle keep-alive connection is closed.
            let c = HTTPClient(address: server.address)
            #expect(try c.get("/a").status == 200)
            usleep(700_000)
            #expect(server.openConnections == 0)
            #expect(try c.get("/b").status == 200, "the client reconnects transparently")
        }
    }

    @Test func manyConcurrentConnections() throws {
        try Self.withServer { (server: HTTPServer) throws in
            // Hold 1,000 connections open at once, then use every one of them.
            var fds = [Int32]()
            defer { fds.forEach { close($0) } }
            for _ in 0..<1000 { fds.append(try Socket.connectBlocking(to: server.address, timeoutMillis: 2000)) }
            for fd in fds {
                Socket.setTimeouts(fd, millis: 5000)
                let req = Array("GET /c HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                _ = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            var ok = 0
            var buf = [UInt8](repeating: 0, count: 1024)
            for fd in fds {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 && String(decoding: buf[0..<n], as: UTF8.self).hasPrefix("HTTP/1.1 200") { ok += 1 }
            }
            #expect(ok == 1000)
            #expect(server.openConnections == 1000)
        }
    }

    @Test func curlAndPythonClientsAgree() throws {
        try Self.withServer { (server: HTTPServer) throws in
            let url = "http://\(server.address)/curl"
            if let curl = ["/usr/bin/curl", "/bin/curl"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
                let out = try Self.run(curl, ["-sS", "-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", "chunked body", url])
                #expect(out == "{\"method\":\"POST\",\"path\":\"/curl\",\"body\":\"chunked body\"}")
            } else {
                print("SKIP: curl not installed")
            }
            let py = ProcessInfo.processInfo.environment["INFRASTACK_PYTHON"] ?? "/usr/bin/python3"
            if FileManager.default.isExecutableFile(atPath: py) {
                let script = """
                import http.client, sys
                c = http.client.HTTPConnection("\(server.address.host)", \(server.address.port))
                out = []
                for i in range(3):
                    c.request("POST", "/py%d" % i, body=b"x" * i)
                    r = c.getresponse()
                    out.append("%d %s" % (r.status, r.read().decode()))
                print("|".join(out), end="")
                """
                let out = try Self.run(py, ["-c", script])
                #expect(out == (0..<3).map { "200 {\"method\":\"POST\",\"path\":\"/py\($0)\",\"body\":\"\(String(repeating: "x", count: $0))\"}" }.joined(separator: "|"))
            }
        }
    }

    static func run(_ exe: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Reads from a blocking socket until the peer closes, the receive timeout passes, or `until` holds.
func receiveText(_ fd: Int32, until: ((String) -> Bool)? = nil) -> String {
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
        if let until, until(String(decoding: out, as: UTF8.self)) { break }
    }
    return String(decoding: out, as: UTF8.self)
}
