import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Net

@Suite(.serialized) struct TLSTests {
    /// Shuttles ciphertext between two sessions until both handshakes finish or one fails.
    static func pump(_ client: TLSSession, _ server: TLSSession) throws -> (Bool, Bool) {
        var c = false, s = false
        for _ in 0..<20 {
            c = try client.handshake()
            server.feed(client.takeOutput())
            s = try server.handshake()
            client.feed(server.takeOutput())
            if c && s { break }
        }
        return (c, s)
    }

    static func server(_ ca: TestCA, _ issued: (cert: String, key: String)) throws -> TLSContext {
        var sc = TLSConfiguration(role: .server)
        sc.certificateFile = issued.cert
        sc.privateKeyFile = issued.key
        return try TLSContext(sc)
    }

    static func client(ca: String?) throws -> TLSContext {
        var cc = TLSConfiguration(role: .client)
        cc.caFile = ca
        return try TLSContext(cc)
    }

    @Test func handshakeVerifiesAndCarriesDataBothWays() throws {
        guard TestCA.available || References.required else { print("SKIP: TLSTests need /usr/bin/openssl"); return }
        let ca = try TestCA()
        let server = try Self.server(ca, try ca.issue("localhost", names: ["localhost", "127.0.0.1"]))
        let client = try Self.client(ca: ca.caFile)
        for name in ["localhost", "127.0.0.1"] {
            let c = try TLSSession(context: client, serverName: name), s = try TLSSession(context: server)
            let (cd, sd) = try Self.pump(c, s)
            #expect(cd && sd, "handshake with \(name) completes")
            #expect(c.protocolVersion == "TLSv1.3")
            #expect(c.negotiatedALPN == "http/1.1" && s.negotiatedALPN == "http/1.1")
            try c.write(Array("GET / HTTP/1.1\r\n\r\n".utf8))
            s.feed(c.takeOutput())
            #expect(try s.read() == Array("GET / HTTP/1.1\r\n\r\n".utf8))
            let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
            try s.write(big)
            c.feed(s.takeOutput())
            #expect(try c.read() == big)
            s.close()
            c.feed(s.takeOutput())
            _ = try c.read()
            #expect(c.peerClosed)
        }
    }

    static func failure(client: TLSContext, server: TLSContext, name: String) -> String {
        do {
            let c = try TLSSession(context: client, serverName: name), s = try TLSSession(context: server)
            let (cd, sd) = try pump(c, s)
            return cd && sd ? "accepted" : "stalled"
        } catch { return "\(error)" }
    }

    @Test func wrongHostExpiredAndUnknownIssuerAreRefusedWithTheReason() throws {
        guard TestCA.available || References.required else { print("SKIP: TLSTests need /usr/bin/openssl"); return }
        let ca = try TestCA(), other = try TestCA(name: "Other CA")
        let client = try Self.client(ca: ca.caFile)
        let good = try Self.server(ca, try ca.issue("good", names: ["localhost"]))
        let wrongHost = Self.failure(client: client, server: good, name: "rpc.example.org")
        #expect(wrongHost.contains("rpc.example.org") && wrongHost.contains("hostname mismatch"), "\(wrongHost)")
        let stranger = Self.failure(client: client, server: try Self.server(other, try other.issue("s", names: ["localhost"])), name: "localhost")
        #expect(stranger.contains("unable to get local issuer certificate"), "\(stranger)")
        let expired = try Self.server(ca, try ca.issue("expired", names: ["localhost"], days: 0))
        Thread.sleep(forTimeInterval: 1.1)
        let old = Self.failure(client: client, server: expired, name: "localhost")
        #expect(old.contains("certificate has expired"), "\(old)")
        // The system trust store does not know a private CA either.
        let system = Self.failure(client: try Self.client(ca: nil), server: good, name: "localhost")
        #expect(system.contains("certificate verification"), "\(system)")
        // Only an explicit opt-out skips verification.
        var skip = TLSConfiguration(role: .client)
        skip.insecureSkipVerify = true
        #expect(Self.failure(client: try TLSContext(skip), server: good, name: "rpc.example.org") == "accepted")
    }

    /// Garbage, truncated and mutated handshake records: a clean TLSError or a wait for more, never a trap.
    @Test func hostileRecordsNeverCrash() throws {
        guard TestCA.available || References.required else { print("SKIP: TLSTests need /usr/bin/openssl"); return }
        for seed in Fuzz.seeds("TLSTests.hostileRecordsNeverCrash") {
            var rng = SeededRandom(seed: seed)
            let ca = try TestCA()
            let server = try Self.server(ca, try ca.issue("localhost", names: ["localhost"]))
            let client = try Self.client(ca: ca.caFile)
            let hello = try { () throws -> [UInt8] in
                let c = try TLSSession(context: client, serverName: "localhost")
                _ = try c.handshake()
                return c.takeOutput()
            }()
            #expect(hello.count > 100, "a ClientHello was produced")
            for cut in 0..<hello.count {
                let s = try TLSSession(context: server)
                s.feed(Array(hello[0..<cut]))
                #expect(try s.handshake() == false, "seed \(seed): truncated hello at \(cut) waits for more")
            }
            var refused = 0
            for _ in 0..<Fuzz.iterations(ci: 500) {
                var m = hello
                for _ in 0..<Int.random(in: 1...4, using: &rng) { m[Int.random(in: 0..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                if Bool.random(using: &rng) { m = rng.bytes(Int.random(in: 1...2000, using: &rng)) }
                let s = try TLSSession(context: server)
                s.feed(m)
                do { _ = try s.handshake() } catch { refused += 1 }
            }
            #expect(refused > 0, "seed \(seed): some mutations were refused outright")
        }
    }
}

@Suite(.serialized) struct HTTPSClientTests {
    static func tlsTo(_ ca: TestCA) -> TLSConfiguration {
        var c = TLSConfiguration(role: .client)
        c.caFile = ca.caFile
        return c
    }

    /// The URL as a provider hands it out: https, a key in the path, a query, userinfo as
    /// basic auth, and an extra header — all reach the server; none appears in errors.
    @Test func providerURLsReachTheServerWhole() throws {
        guard TestCA.available || References.required else { print("SKIP: HTTPSClientTests need /usr/bin/openssl"); return }
        let ca = try TestCA()
        let server = try PythonTLSServer(cert: try ca.issue("localhost", names: ["localhost", "127.0.0.1"]))
        let c = try HTTPClient(url: "https://alice:s%3Acret@localhost:\(server.port)/v3/project-key-123?tier=free", tls: Self.tlsTo(ca),
                               headers: [("x-api-key", "header-key-456")])
        for _ in 0..<3 {   // the connection is kept alive across requests
            let r = try c.post("/", json: #"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#)
            #expect(r.status == 200)
            let echo = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
            #expect(echo?["path"] as? String == "/v3/project-key-123?tier=free")
            let headers = echo?["headers"] as? [String: String] ?? [:]
            #expect(headers["authorization"] == "Basic " + Data("alice:s:cret".utf8).base64EncodedString())
            #expect(headers["x-api-key"] == "header-key-456")
            #expect(headers["host"] == "localhost:\(server.port)")
            #expect(echo?["body"] as? String == #"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#)
        }
        let sub = try c.get("/status")
        #expect((try JSONSerialization.jsonObject(with: Data(sub.body)) as? [String: Any])?["path"] as? String == "/v3/project-key-123/status")
        #expect(c.url?.redacted == "https://…@localhost:\(server.port)/…")
    }

    @Test func badCertificatesAreRefusedNamingHostAndReason() throws {
        guard TestCA.available || References.required else { print("SKIP: HTTPSClientTests need /usr/bin/openssl"); return }
        let ca = try TestCA(), other = try TestCA(name: "Other CA")
        func failure(_ issued: (cert: String, key: String), host: String = "localhost", tls: TLSConfiguration? = nil) throws -> String {
            let server = try PythonTLSServer(cert: issued)
            do {
                let c = try HTTPClient(url: "https://\(host):\(server.port)/v3/secret-path-key", timeoutMillis: 3000, tls: tls ?? Self.tlsTo(ca))
                _ = try c.get("/")
                return "accepted"
            } catch { return "\(error)" }
        }
        let wrongHost = try failure(try ca.issue("other", names: ["rpc.other.example"]))
        #expect(wrongHost.contains("localhost") && wrongHost.contains("hostname mismatch"), "\(wrongHost)")
        let stranger = try failure(try other.issue("stranger", names: ["localhost"]))
        #expect(stranger.contains("unable to get local issuer certificate"), "\(stranger)")
        let expiredCert = try ca.issue("expired", names: ["localhost"], days: 0)
        Thread.sleep(forTimeInterval: 1.1)
        let expired = try failure(expiredCert)
        #expect(expired.contains("certificate has expired"), "\(expired)")
        for e in [wrongHost, stranger, expired] { #expect(!e.contains("secret-path-key"), "errors never show the URL's path: \(e)") }
        var skip = TLSConfiguration(role: .client)
        skip.insecureSkipVerify = true
        #expect(try failure(try other.issue("skip", names: ["x.example"]), tls: skip) == "accepted", "only an explicit opt-out skips verification")
    }

    /// The timeout bounds the whole exchange: a server answering a byte at a time cannot
    /// stretch a request past it (each byte used to restart the wait).
    @Test func trickledResponseHitsTheDeadline() throws {
        let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
        let port = Socket.localAddress(listener)!.port
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) & ~O_NONBLOCK)
        let done = Atomic<Bool>(false)
        let t = Thread {
            let fd = accept(listener, nil, nil)
            close(listener)
            guard fd >= 0 else { return }
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            for b in Array("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n".utf8) + [UInt8](repeating: 0x41, count: 40) {
                if done.load(ordering: .relaxed) { break }
                _ = withUnsafeBytes(of: b) { send(fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
                usleep(100_000)
            }
            close(fd)
        }
        t.start()
        defer { done.store(true, ordering: .relaxed); while t.isExecuting { usleep(1000) } }
        let c = try HTTPClient(url: "http://127.0.0.1:\(port)", timeoutMillis: 700)
        #expect { _ = try c.get("/") } throws: { "\($0)".contains("no complete response from http://127.0.0.1:\(port) within 700 ms") }
    }

    @Test func urlsAsUsersPasteThem() throws {
        let u = try HTTPURL(parsing: "HTTPS://Node.Example.org/rpc")
        #expect(u.scheme == .https && u.host == "node.example.org" && u.port == 443 && u.target == "/rpc" && u.hostHeader == "node.example.org")
        let v6 = try HTTPURL(parsing: "http://[::1]:8545")
        #expect(v6.host == "::1" && v6.port == 8545 && v6.target == "/" && v6.hostHeader == "[::1]:8545" && v6.redacted == "http://[::1]:8545")
        #expect(try HTTPURL(parsing: "https://h/?key=abc").target == "/?key=abc")
        #expect(try HTTPURL(parsing: "https://h/a#frag").target == "/a")
        #expect(try HTTPURL(parsing: "wss://h/ws/KEY").redacted == "wss://h/…")
        for bad in ["ftp://h", "h:80", "https://", "https://h:0", "https://h:99999", "https://h /x", "https://[::1"] {
            #expect(throws: NetError.self, "\(bad)") { _ = try HTTPURL(parsing: bad) }
        }
        #expect(try HTTPURL(parsing: "https://h/v3/k").target(for: "/status") == "/v3/k/status")
    }
}

/// The HTTP server over TLS, checked with independent clients: curl, and Python's ssl module.
@Suite(.serialized) struct HTTPSServerTests {
    static func serve(_ ca: TestCA) throws -> (HTTPServer, EventLoop) {
        let loop = try EventLoop(name: "test-https")
        loop.start()
        let issued = try ca.issue("server", names: ["localhost", "127.0.0.1"])
        var c = TLSConfiguration(role: .server)
        c.certificateFile = issued.cert
        c.privateKeyFile = issued.key
        var limits = HTTPLimits()
        limits.headerTimeoutMillis = 500
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), limits: limits, loop: loop, handler: { req in
            .text("\(req.method) \(req.target) \(req.body.count)\n")
        }, tls: try TLSContext(c))
        server.start()
        return (server, loop)
    }

    static func run(_ exe: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func curlPythonAndOurClientSpeakHTTPSToIt() throws {
        guard TestCA.available || References.required else { print("SKIP: HTTPSServerTests need /usr/bin/openssl"); return }
        let ca = try TestCA()
        let (server, loop) = try Self.serve(ca)
        defer { server.shutdown(timeoutMillis: 500); loop.stop() }
        let port = server.address.port
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") {
            let (rc, out) = try Self.run("/usr/bin/curl", ["-sS", "--cacert", ca.caFile, "-d", "abc", "https://localhost:\(port)/x?y=1",
                                                          "https://localhost:\(port)/second"])
            #expect(rc == 0 && out == "POST /x?y=1 3\nPOST /second 3\n", "curl: \(out)")
        }
        let py = """
        import http.client, ssl, sys
        ctx = ssl.create_default_context(cafile=sys.argv[1])
        c = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx)
        for i in range(3):
            c.request("PUT", f"/k{i}", body=b"x" * 100000)
            r = c.getresponse()
            print(r.status, r.read().decode().strip(), c.sock.version())
        """
        let (rc, out) = try Self.run(References.python ?? "/usr/bin/python3", ["-c", py, ca.caFile, String(port)])
        #expect(rc == 0 && out == (0..<3).map { "200 PUT /k\($0) 100000 TLSv1.3\n" }.joined(), "python: \(out)")
        var tls = TLSConfiguration(role: .client)
        tls.caFile = ca.caFile
        let ours = try HTTPClient(url: "https://127.0.0.1:\(port)", tls: tls)
        #expect(try ours.get("/ip").text == "GET /ip 0\n", "our client, by IP address (IP SAN)")
        // A client that does not trust the CA is refused, and the server goes on serving.
        let (badRC, badOut) = try Self.run("/usr/bin/curl", ["-sS", "https://localhost:\(port)/"])
        #expect(badRC != 0, "curl without the CA: \(badOut)")
        #expect(try ours.get("/after").status == 200)
    }

    @Test func garbageAndStalledHandshakesAreCutOff() throws {
        guard TestCA.available || References.required else { print("SKIP: HTTPSServerTests need /usr/bin/openssl"); return }
        let ca = try TestCA()
        let (server, loop) = try Self.serve(ca)
        defer { server.shutdown(timeoutMillis: 500); loop.stop() }
        for seed in Fuzz.seeds("HTTPSServerTests.garbage") {
            var rng = SeededRandom(seed: seed)
            for _ in 0..<50 {
                let fd = try Socket.connectBlocking(to: server.address, timeoutMillis: 2000)
                Socket.setTimeouts(fd, millis: 2000)
                var junk = Bool.random(using: &rng) ? Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) : rng.bytes(Int.random(in: 1...3000, using: &rng))
                if Bool.random(using: &rng) { junk = [0x16, 0x03, 0x01, 0xFF, 0xFF] + junk }   // a record header claiming 64 KiB
                _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                var buf = [UInt8](repeating: 0, count: 4096)
                _ = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                close(fd)
            }
        }
        var tls = TLSConfiguration(role: .client)
        tls.caFile = ca.caFile
        #expect(try HTTPClient(url: "https://localhost:\(server.address.port)", tls: tls).get("/ok").status == 200, "still serving")
        // A client that connects and never says hello is cut off at the head deadline.
        let before = server.tlsHandshakeFailures.load(ordering: .relaxed)
        let silent = try Socket.connectBlocking(to: server.address, timeoutMillis: 2000)
        Socket.setTimeouts(silent, millis: 5000)
        var buf = [UInt8](repeating: 0, count: 16)
        let n = buf.withUnsafeMutableBytes { recv(silent, $0.baseAddress, $0.count, 0) }
        close(silent)
        #expect(n == 0, "the server closed the silent connection (recv \(n))")
        #expect(server.tlsHandshakeFailures.load(ordering: .relaxed) > before)
    }
}

/// Our TLS client against hostile servers: garbage, records cut short, and a real
/// server's handshake bytes truncated at every point or mutated. Each ends in a clean
/// error naming the server; none traps or hangs past the client's timeout.
@Suite(.serialized) struct TLSClientFuzzTests {
    /// A one-shot TCP server that reads whatever arrives, answers `reply`, then closes.
    static func serveOnce(_ reply: [UInt8]) throws -> (port: UInt16, thread: Thread) {
        let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
        let port = Socket.localAddress(listener)!.port
        let flags = fcntl(listener, F_GETFL)
        _ = fcntl(listener, F_SETFL, flags & ~O_NONBLOCK)
        let t = Thread {
            let fd = accept(listener, nil, nil)
            close(listener)
            guard fd >= 0 else { return }
            Socket.setTimeouts(fd, millis: 2000)
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        t.start()
        return (port, t)
    }

    @Test func hostileServersGetACleanError() throws {
        guard TestCA.available || References.required else { print("SKIP: TLSClientFuzzTests need /usr/bin/openssl"); return }
        // A real server's first flight (ServerHello … Finished), to cut and mutate.
        let ca = try TestCA()
        let issued = try ca.issue("localhost", names: ["localhost"])
        var sc = TLSConfiguration(role: .server)
        sc.certificateFile = issued.cert
        sc.privateKeyFile = issued.key
        let server = try TLSContext(sc)
        var cc = TLSConfiguration(role: .client)
        cc.caFile = ca.caFile
        let client = try TLSContext(cc)
        let c = try TLSSession(context: client, serverName: "localhost"), s = try TLSSession(context: server)
        _ = try c.handshake()
        s.feed(c.takeOutput())
        _ = try s.handshake()
        let flight = s.takeOutput()
        #expect(flight.count > 300)
        for seed in Fuzz.seeds("TLSClientFuzzTests.hostileServers") {
            var rng = SeededRandom(seed: seed)
            let cuts = stride(from: 0, to: flight.count, by: max(1, flight.count / 40)).map { Array(flight[0..<$0]) }
            let mutants = (0..<Fuzz.iterations(ci: 20)).map { _ -> [UInt8] in
                Bool.random(using: &rng) ? Fuzz.mutate(flight, &rng, interesting: [0x16, 0x03, 0x00, 0xFF, 0x14, 0x17])
                                         : rng.bytes(Int.random(in: 0...2000, using: &rng))
            }
            for reply in cuts + mutants {
                let (port, thread) = try Self.serveOnce(reply)
                do {
                    _ = try HTTPClient(url: "https://localhost:\(port)/v3/hidden-key", timeoutMillis: 2000, tls: cc).get("/")
                    Issue.record("seed \(seed): a hostile reply of \(reply.count) bytes was accepted")
                } catch {
                    let text = "\(error)"
                    #expect(text.contains("localhost") && !text.contains("hidden-key"), "seed \(seed): \(text)")
                }
                while thread.isExecuting { usleep(1000) }
            }
        }
    }
}
