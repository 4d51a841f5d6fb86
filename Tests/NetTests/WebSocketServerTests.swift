import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Net

/// The WebSocket server end to end over real sockets, driven byte by byte by `RawWebSocketClient`.
@Suite(.serialized) struct WebSocketServerTests {
    @Test func handshakeRefusalsSayWhy() throws {
        try withWebSocketServer { server in
            func answer(_ request: String) throws -> String {
                let c = try RawWebSocketClient(server.address, handshake: false)
                c.send(Array(request.utf8))
                return try c.readHTTPResponse()
            }
            let key = "Sec-WebSocket-Key: \(RawWebSocketClient.sampleKey)"
            let post = try answer(RawWebSocketClient.upgradeRequest(method: "POST"))
            #expect(post.hasPrefix("HTTP/1.1 400 ") && post.contains("must use GET"))
            let noConnection = try answer(RawWebSocketClient.upgradeRequest(headers: ["Upgrade: websocket", key, "Sec-WebSocket-Version: 13"]))
            #expect(noConnection.hasPrefix("HTTP/1.1 400 ") && noConnection.contains("Connection header must contain upgrade"))
            let oldVersion = try answer(RawWebSocketClient.upgradeRequest(headers: ["Upgrade: websocket", "Connection: Upgrade", key, "Sec-WebSocket-Version: 8"]))
            #expect(oldVersion.hasPrefix("HTTP/1.1 426 ") && oldVersion.contains("Sec-WebSocket-Version: 13\r\n"))
            let noVersion = try answer(RawWebSocketClient.upgradeRequest(headers: ["Upgrade: websocket", "Connection: Upgrade", key]))
            #expect(noVersion.hasPrefix("HTTP/1.1 426 "))
            for badKey in ["not base64!", "AAAAAAAAAAAAAAAAAAAA", ""] {
                let r = try answer(RawWebSocketClient.upgradeRequest(headers: ["Upgrade: websocket", "Connection: Upgrade",
                                                                               "Sec-WebSocket-Key: \(badKey)", "Sec-WebSocket-Version: 13"]))
                #expect(r.hasPrefix("HTTP/1.1 400 ") && r.contains("Sec-WebSocket-Key"), "key \"\(badKey)\"")
            }
            // Tokens are matched case-insensitively within comma-separated lists.
            let firefoxStyle = try RawWebSocketClient(server.address, handshake: false)
            firefoxStyle.send(Array(RawWebSocketClient.upgradeRequest(headers: ["Upgrade: WebSocket", "Connection: keep-alive, Upgrade",
                                                                               key, "Sec-WebSocket-Version: 13"]).utf8))
            #expect(try firefoxStyle.readHTTPHead().hasPrefix("HTTP/1.1 101 "))
            // The hook refuses other paths: the HTTP handler answers.
            #expect(try answer(RawWebSocketClient.upgradeRequest(path: "/elsewhere")).hasPrefix("HTTP/1.1 404 "))
            // Plain HTTP is untouched.
            #expect(try HTTPClient(address: server.address).get("/plain").text == "plain HTTP /plain\n")
        }
    }

    @Test func echoesAndReportsOpenAndClose() throws {
        let recorder = WebSocketRecorder()
        try withWebSocketServer(recorder: recorder) { server in
            let c = try RawWebSocketClient(server.address)
            c.sendText("hello")
            #expect(try c.readMessage() == ReceivedFrame(fin: true, opcode: 0x1, payload: Array("hello".utf8)))
            c.send(clientFrame(opcode: 0x2, [0, 1, 2, 255]))
            #expect(try c.readMessage() == ReceivedFrame(fin: true, opcode: 0x2, payload: [0, 1, 2, 255]))
            c.sendText("")
            #expect(try c.readMessage()?.payload == [])
            c.send(clientFrame(opcode: 0x8, closePayload(1000, "done")))
            let close = try c.readUntilClosed()
            #expect(close?.closeCode == 1000, "the server echoes the client's code")
            try eventually("onClose") { recorder.closes.count == 1 }
            #expect(recorder.closeCodes == [.normal])
            #expect(recorder.texts == ["hello", ""])
            #expect(recorder.lastSocket?.path == "/ws")
            #expect(recorder.lastSocket?.isOpen == false)
            try eventually("bookkeeping") { server.openWebSockets == 0 && server.openConnections == 0 }
        }
    }

    @Test func framesSentWithTheHandshakeAreNotLost() throws {
        try withWebSocketServer { server in
            let c = try RawWebSocketClient(server.address, handshake: false)
            c.send(Array(RawWebSocketClient.upgradeRequest().utf8) + clientFrame(opcode: 0x1, Array("eager".utf8)))
            #expect(try c.readHTTPHead().hasPrefix("HTTP/1.1 101 "))
            #expect(try c.readMessage()?.text == "eager")
        }
    }

    @Test func protocolErrorsCloseWithTheirCode() throws {
        var limits = WebSocketLimits()
        limits.maxMessageBytes = 1000
        let recorder = WebSocketRecorder()
        let cases: [([UInt8], WebSocketCloseCode, String)] = [
            (clientFrame(opcode: 0x1, Array("hi".utf8), masked: false), .protocolError, "unmasked frame"),
            (clientFrame(opcode: 0x1, Array("hi".utf8), rsv: 0b100), .protocolError, "reserved bit"),
            (clientFrame(opcode: 0x5, []), .protocolError, "reserved data opcode"),
            (clientFrame(opcode: 0xC, []), .protocolError, "reserved control opcode"),
            (clientFrame(opcode: 0x9, [UInt8](repeating: 1, count: 126)), .protocolError, "control frame over 125 bytes"),
            (clientFrame(opcode: 0xA, [], fin: false), .protocolError, "fragmented control frame"),
            (clientFrame(opcode: 0x0, Array("x".utf8)), .protocolError, "continuation without a message"),
            (clientFrame(opcode: 0x1, Array("a".utf8), fin: false) + clientFrame(opcode: 0x1, Array("b".utf8)), .protocolError, "message inside a message"),
            (clientFrame(opcode: 0x8, [0x03]), .protocolError, "1-byte close payload"),
            (clientFrame(opcode: 0x8, closePayload(1006)), .protocolError, "close code that may not be sent"),
            (clientFrame(opcode: 0x1, [0x68, 0xFF, 0x69]), .invalidPayloadData, "invalid UTF-8"),
            (clientFrame(opcode: 0x1, [0xCE], fin: false) + clientFrame(opcode: 0x0, [0x41]), .invalidPayloadData, "UTF-8 broken across fragments"),
            (clientFrame(opcode: 0x8, closePayload(1000) + [0xC0]), .invalidPayloadData, "close reason not UTF-8"),
            (clientFrame(opcode: 0x2, [UInt8](repeating: 0, count: 1001)), .messageTooBig, "frame over the limit"),
            ([0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0], .messageTooBig, "4 GiB announced in a 64-bit length"),
            (clientFrame(opcode: 0x2, [UInt8](repeating: 0, count: 600), fin: false) + clientFrame(opcode: 0x0, [UInt8](repeating: 0, count: 600)),
             .messageTooBig, "fragments over the limit"),
        ]
        try withWebSocketServer(limits: limits, recorder: recorder) { server in
            for (bytes, code, what) in cases {
                let c = try RawWebSocketClient(server.address)
                c.sendText("before")
                #expect(try c.readMessage()?.text == "before")
                c.send(bytes)
                try c.expectClose(code, "\(what)")
            }
            try eventually("every onClose") { recorder.closes.count == cases.count }
            #expect(recorder.closeCodes == cases.map(\.1), "the application learns why each connection ended")
            // Binary without an onBinary handler is unsupported data.
        }
        try withWebSocketServer(hook: { _ in WebSocketHandler(onText: { _, _ in }) }) { server in
            let c = try RawWebSocketClient(server.address)
            c.send(clientFrame(opcode: 0x2, [1]))
            let close = try c.readFrame()
            #expect(close?.closeCode == 1003)
            c.send(clientFrame(opcode: 0x8, closePayload(1003)))
            #expect(try c.readFrame() == nil, "the server closes once the handshake completes")
        }
    }

    /// A client that has sent much more after its protocol error still gets the close frame before
    /// the connection ends (the server stops reading, so the rest is never parsed).
    @Test func errorCloseSurvivesTrailingInput() throws {
        try withWebSocketServer { server in
            for _ in 0..<20 {
                let c = try RawWebSocketClient(server.address)
                var burst = clientFrame(opcode: 0x1, Array("ok".utf8), masked: false)
                for _ in 0..<200 { burst += clientFrame(opcode: 0x2, [UInt8](repeating: 0xAB, count: 1000)) }
                c.send(burst)
                try c.expectClose(.protocolError)
            }
        }
    }

    @Test func fragmentedMessagesWithInterleavedPings() throws {
        try withWebSocketServer { server in
            let c = try RawWebSocketClient(server.address)
            let text = "fragmented ✓ message"
            let bytes = Array(text.utf8)
            c.send(clientFrame(opcode: 0x1, Array(bytes[0..<5]), fin: false))
            c.send(clientFrame(opcode: 0x9, Array("p1".utf8)))
            c.send(clientFrame(opcode: 0x0, Array(bytes[5..<12]), fin: false))  // splits "✓"
            c.send(clientFrame(opcode: 0x0, [], fin: false))
            c.send(clientFrame(opcode: 0x0, Array(bytes[12...])))
            #expect(try c.readFrame() == ReceivedFrame(fin: true, opcode: 0xA, payload: Array("p1".utf8)), "pong mid-message")
            #expect(try c.readFrame()?.text == text)
        }
    }

    @Test func largeMessagesUseTheLongLengthForms() throws {
        try withWebSocketServer { server in
            let c = try RawWebSocketClient(server.address)
            var rng = SeededRandom(seed: 6455)
            for size in [125, 126, 65535, 65536, 300_000] {
                let payload = rng.bytes(size)
                c.send(clientFrame(opcode: 0x2, payload))
                #expect(try c.readMessage()?.payload == payload, "\(size) bytes")
            }
            // A small payload in the 64-bit form is legal (if wasteful).
            c.send(clientFrame(opcode: 0x1, Array("tiny".utf8), forceLength64: true))
            #expect(try c.readMessage()?.text == "tiny")
        }
    }

    @Test func pingsAreAnswered() throws {
        try withWebSocketServer { server in
            let c = try RawWebSocketClient(server.address)
            for payload in [[], Array("ping!".utf8), [UInt8](repeating: 9, count: 125)] {
                c.send(clientFrame(opcode: 0x9, payload))
                #expect(try c.readFrame() == ReceivedFrame(fin: true, opcode: 0xA, payload: payload))
            }
            // An unsolicited pong is ignored.
            c.send(clientFrame(opcode: 0xA, [1]))
            c.sendText("still here")
            #expect(try c.readFrame()?.text == "still here")
        }
    }

    @Test func closeHandshakes() throws {
        let recorder = WebSocketRecorder()
        let closeFromServer: HTTPServer.WebSocketUpgrade = { _ in
            WebSocketHandler(onOpen: { recorder.opened($0) },
                             onText: { ws, text in if text == "close me" { ws.close(code: 4001, reason: "as asked"); ws.send(text: "ignored") } },
                             onClose: { ws, code in recorder.closed(ws, code) })
        }
        try withWebSocketServer(recorder: recorder, hook: closeFromServer) { server in
            // Server-initiated: the close frame comes first, nothing after it; the client answers and the server closes TCP.
            let c = try RawWebSocketClient(server.address)
            c.sendText("close me")
            let close = try c.readFrame()
            #expect(close?.closeCode == 4001 && close.map { Array($0.payload[2...]) } == Array("as asked".utf8))
            c.send(clientFrame(opcode: 0x8, closePayload(4001)))
            #expect(try c.readFrame() == nil, "no frame after the close frame, then EOF")
            try eventually("onClose") { recorder.closes.count == 1 }
            #expect(recorder.closeCodes == [4001])

            // Client-initiated without a code: answered with an empty close; the application sees 1005.
            let d = try RawWebSocketClient(server.address)
            d.send(clientFrame(opcode: 0x8, []))
            #expect(try d.readFrame() == ReceivedFrame(fin: true, opcode: 0x8, payload: []))
            #expect(try d.readFrame() == nil)
            try eventually("onClose") { recorder.closes.count == 2 }
            #expect(recorder.closeCodes.last == .noStatusReceived)

            // A client that vanishes without a close frame: 1006.
            let e = try RawWebSocketClient(server.address)
            try eventually("open") { recorder.openedCount == 3 }
            e.close()
            try eventually("onClose") { recorder.closes.count == 3 }
            #expect(recorder.closeCodes.last == .abnormalClosure)
        }
    }

    @Test func closeTimeoutDropsAClientThatNeverAnswers() throws {
        var limits = WebSocketLimits()
        limits.closeTimeoutMillis = 200
        let recorder = WebSocketRecorder()
        try withWebSocketServer(limits: limits, recorder: recorder) { server in
            let c = try RawWebSocketClient(server.address)
            try eventually("open") { recorder.lastSocket != nil }
            recorder.lastSocket?.close(code: .normal, reason: "bye")
            // The client reads the close frame but never answers: the server still ends the connection.
            let close = try c.readUntilClosed()
            #expect(close?.closeCode == 1000)
            try eventually("onClose") { recorder.closes.count == 1 }
        }
    }

    @Test func keepalivePingsAndIdleTimeout() throws {
        var limits = WebSocketLimits()
        limits.pingIntervalMillis = 50
        limits.idleTimeoutMillis = 2000
        let recorder = WebSocketRecorder()
        try withWebSocketServer(limits: limits, recorder: recorder) { server in
            // A client that answers pings stays connected through many ping intervals.
            let lively = try RawWebSocketClient(server.address)
            var pings = 0
            while pings < 40 {
                guard let f = try lively.readFrame() else { throw TestFailure("server closed a client that answers pings") }
                #expect(f.opcode == 0x9)
                pings += 1
                lively.send(clientFrame(opcode: 0xA, f.payload))
            }
            lively.sendText("alive")
            #expect(try lively.readMessage()?.text == "alive")
            lively.send(clientFrame(opcode: 0x8, closePayload(1000)))
            #expect(try lively.readUntilClosed()?.closeCode == 1000)
            try eventually("onClose") { recorder.closes.count == 1 }

            // A silent client is pinged, then closed with 1011 once the idle timeout passes.
            let silent = try RawWebSocketClient(server.address)
            var frames = [ReceivedFrame]()
            while let f = try silent.readFrame() { frames.append(f) }
            #expect(frames.first?.opcode == 0x9, "pinged first")
            #expect(frames.last?.closeCode == 1011)
            try eventually("onClose") { recorder.closes.count == 2 }
            #expect(recorder.closeCodes == [.normal, .internalError])
        }
    }

    @Test func slowClientIsClosedWith1008() throws {
        var limits = WebSocketLimits()
        limits.maxPendingWriteBytes = 256 * 1024
        limits.closeTimeoutMillis = 30_000  // time for the test to read the backlog
        let recorder = WebSocketRecorder()
        try withWebSocketServer(limits: limits, recorder: recorder) { server in
            let c = try RawWebSocketClient(server.address)
            try eventually("open") { recorder.lastSocket != nil }
            let ws = try #require(recorder.lastSocket)
            // Push from a worker while the client reads nothing; the server must give up on it
            // rather than buffer without bound. The cap makes a broken policy fail instead of hang.
            let message = String(repeating: "x", count: 16 * 1024)
            var pushed = 0
            while ws.isOpen && pushed < 100_000 {
                ws.send(text: message)
                pushed += 1
                if pushed % 64 == 0 { usleep(1000) }  // let the loop run so the pushes cannot outpace it unboundedly
            }
            #expect(!ws.isOpen, "the slow-client policy fired after \(pushed) messages")
            ws.send(text: "after close")  // ignored
            // Now read: the backlog, then a close 1008 "client too slow", then EOF.
            var messages = 0
            var close: ReceivedFrame?
            while let f = try c.readFrame() {
                if f.opcode == 0x1 { #expect(f.payload.count == message.utf8.count); messages += 1 }
                if f.opcode == 0x8 { close = f }
            }
            #expect(close?.closeCode == 1008)
            #expect(close.map { String(decoding: $0.payload[2...], as: UTF8.self) } == "client too slow")
            #expect(messages > 0 && messages <= pushed, "the backlog up to the limit is delivered; nothing sent after the close")
            try eventually("onClose") { recorder.closes.count == 1 }
            #expect(recorder.closeCodes == [.policyViolation])
        }
    }

    /// The application pushes from its own thread while the client is sending: both streams
    /// arrive complete and in order.
    @Test func serverPushFromAnotherThreadWhileTheClientSends() throws {
        let count = 500
        let hook: HTTPServer.WebSocketUpgrade = { _ in
            WebSocketHandler(
                onOpen: { ws in
                    let t = Thread { for i in 0..<count { ws.send(text: "push \(i)") } }
                    t.start()
                },
                onText: { ws, text in ws.send(text: "echo \(text)") })
        }
        try withWebSocketServer(hook: hook) { server in
            let c = try RawWebSocketClient(server.address)
            // The writer thread uses only the descriptor; reads stay on this thread.
            let fd = c.fd
            let sender = Thread { for i in 0..<count { RawWebSocketClient.sendAll(fd, clientFrame(opcode: 0x1, Array("\(i)".utf8))) } }
            sender.start()
            var pushes = [String](), echoes = [String]()
            while pushes.count < count || echoes.count < count {
                guard let f = try c.readMessage() else { throw TestFailure("closed early") }
                if f.text.hasPrefix("push ") { pushes.append(f.text) } else { echoes.append(f.text) }
            }
            #expect(pushes == (0..<count).map { "push \($0)" })
            #expect(echoes == (0..<count).map { "echo \($0)" })
        }
    }

    /// Callbacks for one connection never overlap and keep their order, even when the handler
    /// blocks and the client keeps sending (reading pauses instead of queueing without bound).
    @Test func callbacksAreSerialAndOrderedPerConnection() throws {
        let active = Atomic<Int>(0), maxActive = Atomic<Int>(0)
        let gate = DispatchSemaphore(value: 0)
        let hook: HTTPServer.WebSocketUpgrade = { _ in
            WebSocketHandler(onText: { ws, text in
                let now = active.add(1, ordering: .acquiringAndReleasing).newValue
                maxActive.max(now, ordering: .relaxed)
                if text == "0" { gate.wait() }  // the first message blocks until everything else was sent
                usleep(100)
                ws.send(text: text)
                active.subtract(1, ordering: .acquiringAndReleasing)
            })
        }
        var limits = WebSocketLimits()
        limits.maxQueuedMessages = 8
        try withWebSocketServer(limits: limits, hook: hook) { server in
            let c = try RawWebSocketClient(server.address)
            let n = 300
            for i in 0..<n { c.sendText("\(i)") }
            gate.signal()
            var got = [String]()
            while got.count < n { guard let f = try c.readMessage() else { break }; got.append(f.text) }
            #expect(got == (0..<n).map(String.init))
            #expect(maxActive.load(ordering: .relaxed) == 1)
        }
    }

    @Test func twoHundredConcurrentConnectionsEcho() throws {
        let recorder = WebSocketRecorder()
        try withWebSocketServer(recorder: recorder) { server in
            let clients = try (0..<200).map { _ in try RawWebSocketClient(server.address) }
            for (i, c) in clients.enumerated() { c.sendText("client \(i)") }
            for (i, c) in clients.enumerated() { #expect(try c.readMessage()?.text == "client \(i)") }
            #expect(server.openWebSockets == 200)
            try eventually("all opened") { recorder.openedCount == 200 }
            #expect(recorder.closes.isEmpty)
            for c in clients { c.send(clientFrame(opcode: 0x8, closePayload(1000))) }
            for c in clients { #expect(try c.readUntilClosed()?.closeCode == 1000) }
            try eventually("all closed") { recorder.closes.count == 200 && server.openWebSockets == 0 }
        }
    }

    @Test func gracefulShutdownSendsGoingAway() throws {
        let loop = try EventLoop(name: "test-ws-shutdown")
        loop.start()
        defer { loop.stop() }
        let recorder = WebSocketRecorder()
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop,
                                    handler: { _ in .text("no", status: 404) },
                                    webSocket: { _ in WebSocketHandler(onOpen: { recorder.opened($0) }, onText: { ws, t in ws.send(text: t) },
                                                                       onClose: { ws, code in recorder.closed(ws, code) }) })
        server.start()
        let polite = try RawWebSocketClient(server.address)
        let rude = try RawWebSocketClient(server.address)  // reads the close frame but never answers
        try eventually("both open") { recorder.openedCount == 2 }
        let finished = DispatchSemaphore(value: 0)
        let stopper = Thread { server.shutdown(timeoutMillis: 2000); finished.signal() }
        stopper.start()
        let close = try polite.readFrame()
        #expect(close?.closeCode == 1001)
        #expect(close.map { String(decoding: $0.payload[2...], as: UTF8.self) } == "server shutting down")
        polite.send(clientFrame(opcode: 0x8, closePayload(1001)))
        #expect(try polite.readFrame() == nil)
        #expect(try rude.readUntilClosed()?.closeCode == 1001)
        finished.wait()
        try eventually("onClose for both") { recorder.closes.count == 2 }
        #expect(recorder.closeCodes == [.goingAway, .goingAway])
        #expect(server.openWebSockets == 0)
    }

    @Test func sendsAfterCloseAreIgnored() throws {
        let recorder = WebSocketRecorder()
        try withWebSocketServer(recorder: recorder) { server in
            let c = try RawWebSocketClient(server.address)
            c.send(clientFrame(opcode: 0x8, closePayload(1000)))
            #expect(try c.readUntilClosed()?.closeCode == 1000)
            try eventually("onClose") { recorder.closes.count == 1 }
            let ws = try #require(recorder.lastSocket)
            #expect(!ws.isOpen)
            ws.send(text: "late")
            ws.send(binary: [1])
            ws.close(code: .goingAway)
            #expect(!ws.isOpen)
        }
    }
}
