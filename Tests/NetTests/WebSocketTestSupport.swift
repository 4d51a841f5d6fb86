import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Net

/// Polls `condition` until it holds or a generous deadline passes, so no assertion depends on
/// how fast the machine is.
func eventually(_ what: String, timeoutSeconds: Double = 20, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while !condition() {
        if Date() > deadline { throw TestFailure("timed out after \(timeoutSeconds) s waiting for: \(what)") }
        usleep(2_000)
    }
}

/// The Python used for reference checks and the interop client (TestSupport's References).
enum ReferencePython {
    /// The interpreter, or nil after printing why the caller skips; throws when references are required.
    static func orSkip(_ test: String) throws -> String? {
        if let path = References.python { return path }
        let message = "\(test): no Python at INFRASTACK_PYTHON (run Tests/run, or set it to the venv's python)"
        if References.required { throw TestFailure("\(message), and INFRASTACK_REQUIRE_REFERENCES=1") }
        print("SKIP: \(message)")
        return nil
    }

    /// Runs python with `args`, feeding `input`; returns stdout, throwing on a non-zero exit.
    static func run(_ python: String, _ args: [String], input: Data = Data()) throws -> String {
        String(decoding: try References.runPython(arguments: args, input: input), as: UTF8.self)
    }
}

/// Thread-safe record of what a server-side handler saw.
final class WebSocketRecorder: Sendable {
    private let state = Mutex<(opened: [UInt64], closes: [UInt64: WebSocketCloseCode], texts: [String], sockets: [UInt64: WebSocket])>(([], [:], [], [:]))

    func opened(_ ws: WebSocket) { state.withLock { $0.opened.append(ws.id); $0.sockets[ws.id] = ws } }
    func closed(_ ws: WebSocket, _ code: WebSocketCloseCode) { state.withLock { $0.closes[ws.id] = code } }
    func text(_ t: String) { state.withLock { $0.texts.append(t) } }

    var openedCount: Int { state.withLock { $0.opened.count } }
    var closes: [UInt64: WebSocketCloseCode] { state.withLock { $0.closes } }
    var texts: [String] { state.withLock { $0.texts } }
    var lastSocket: WebSocket? { state.withLock { s in s.opened.last.flatMap { s.sockets[$0] } } }
    var closeCodes: [WebSocketCloseCode] { state.withLock { s in s.opened.compactMap { s.closes[$0] } } }
}

/// Starts a WebSocket-enabled server on a free loopback port. Unless `hook` says otherwise, every
/// upgrade to `/ws` is accepted with an echo handler that records into `recorder`.
func withWebSocketServer(limits: WebSocketLimits = WebSocketLimits(), recorder: WebSocketRecorder = WebSocketRecorder(),
                         hook: HTTPServer.WebSocketUpgrade? = nil, _ body: (HTTPServer) throws -> Void) throws {
    let loop = try EventLoop(name: "test-ws")
    loop.start()
    let echo: HTTPServer.WebSocketUpgrade = { req in
        guard req.path == "/ws" else { return nil }
        return WebSocketHandler(
            onOpen: { recorder.opened($0) },
            onText: { ws, text in recorder.text(text); ws.send(text: text) },
            onBinary: { ws, bytes in ws.send(binary: bytes) },
            onClose: { ws, code in recorder.closed(ws, code) })
    }
    let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), webSocketLimits: limits, loop: loop,
                                handler: { req in .text("plain HTTP \(req.path)\n", status: 404) }, webSocket: hook ?? echo)
    server.start()
    defer { server.shutdown(); loop.stop() }
    try body(server)
}

/// A frame as the test client decoded it (independently of the server's codec).
struct ReceivedFrame: Equatable {
    var fin: Bool
    var opcode: UInt8
    var payload: [UInt8]
    var text: String { String(decoding: payload, as: UTF8.self) }
    /// The close code carried by a close frame, nil when it has none.
    var closeCode: UInt16? { opcode == 0x8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
}

/// Builds client frames byte by byte, so protocol violations can be expressed exactly.
func clientFrame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0,
                 key: [UInt8] = [0x1f, 0x2e, 0x3d, 0x4c], forceLength64: Bool = false) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    let n = payload.count
    if n < 126 && !forceLength64 {
        out.append(maskBit | UInt8(n))
    } else if n <= 0xFFFF && !forceLength64 {
        out += [maskBit | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
    } else {
        out.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(shift))) }
    }
    if masked {
        out += key
        for (i, b) in payload.enumerated() { out.append(b ^ key[i % 4]) }
    } else {
        out += payload
    }
    return out
}

func closePayload(_ code: UInt16, _ reason: String = "") -> [UInt8] { [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8) }

/// A blocking WebSocket client over a raw socket, for driving the server byte by byte.
final class RawWebSocketClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

    /// Connects; with `handshake` it also upgrades `path` and checks the 101 answer.
    init(_ address: SocketAddress, path: String = "/ws", handshake: Bool = true, timeoutMillis: Int = 20_000) throws {
        fd = try Socket.connectBlocking(to: address, timeoutMillis: 5000)
        Socket.setTimeouts(fd, millis: timeoutMillis)
        if handshake {
            send(Array(Self.upgradeRequest(path: path).utf8))
            let head = try readHTTPHead()
            guard head.hasPrefix("HTTP/1.1 101 "), head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") else {
                close(); throw TestFailure("handshake failed: \(head)")
            }
        }
    }

    static func upgradeRequest(path: String = "/ws", headers: [String] = ["Upgrade: websocket", "Connection: Upgrade",
                               "Sec-WebSocket-Key: \(sampleKey)", "Sec-WebSocket-Version: 13"], method: String = "GET") -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: test\r\n" + headers.map { "\($0)\r\n" }.joined() + "\r\n"
    }

    deinit { close() }

    private var closed = false
    func close() { if !closed { closed = true; Glibc.close(fd) } }

    /// Ends our sending side; the server sees EOF.
    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func send(_ bytes: [UInt8]) { Self.sendAll(fd, bytes) }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // The server may already have closed; reads will tell.
            off += n
        }
    }

    func sendText(_ text: String) { send(clientFrame(opcode: 0x1, Array(text.utf8))) }

    /// Reads more bytes; false at EOF or on a reset connection; throws on timeout.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { buffer += chunk[0..<n]; return true }
            if n == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw TestFailure("timed out waiting for the server") }
            return false
        }
    }

    func readHTTPHead() throws -> String {
        while true {
            if let end = findHeadEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end)
                return head
            }
            guard try fill() else { return String(decoding: buffer, as: UTF8.self) }
        }
    }

    /// A complete HTTP response (head plus Content-Length body), for refused handshakes.
    func readHTTPResponse() throws -> String {
        var out = try readHTTPHead()
        while try fill() {}
        out += String(decoding: buffer, as: UTF8.self)
        buffer.removeAll()
        return out
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i + 4
        }
        return nil
    }

    /// The next frame, nil at EOF.
    func readFrame() throws -> ReceivedFrame? {
        while true {
            if let frame = try decodeBuffered() { return frame }
            guard try fill() else {
                if !buffer.isEmpty { throw TestFailure("connection ended inside a frame (\(buffer.count) bytes left)") }
                return nil
            }
        }
    }

    private func decodeBuffered() throws -> ReceivedFrame? {
        guard buffer.count >= 2 else { return nil }
        guard buffer[1] & 0x80 == 0 else { throw TestFailure("the server sent a masked frame") }
        guard buffer[0] & 0x70 == 0 else { throw TestFailure("the server set reserved bits") }
        var length = Int(buffer[1] & 0x7F), header = 2
        if length == 126 {
            guard buffer.count >= 4 else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3]); header = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return nil }
            length = 0
            for i in 2..<10 { length = length << 8 | Int(buffer[i]) }
            header = 10
        }
        guard buffer.count >= header + length else { return nil }
        let frame = ReceivedFrame(fin: buffer[0] & 0x80 != 0, opcode: buffer[0] & 0x0F, payload: Array(buffer[header..<(header + length)]))
        buffer.removeFirst(header + length)
        return frame
    }

    /// The next frame that is not a ping (which it answers, as a client must) or pong.
    func readMessage() throws -> ReceivedFrame? {
        while let f = try readFrame() {
            if f.opcode == 0x9 { send(clientFrame(opcode: 0xA, f.payload)); continue }
            if f.opcode == 0xA { continue }
            return f
        }
        return nil
    }

    /// Reads to EOF and returns the close frame seen on the way (frames before it are skipped).
    func readUntilClosed() throws -> ReceivedFrame? {
        var close: ReceivedFrame?
        while let f = try readFrame() { if f.opcode == 0x8 && close == nil { close = f } }
        return close
    }

    /// Expects the server to fail the connection with `code` and then close the TCP connection.
    func expectClose(_ code: WebSocketCloseCode, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let close = try readUntilClosed()
        #expect(close?.closeCode == code.rawValue, comment ?? "expected close \(code)", sourceLocation: sourceLocation)
    }
}
