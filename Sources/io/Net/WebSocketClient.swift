import ByteCodec
import Foundation

/// A blocking WebSocket client (RFC 6455) over `HTTPClient`'s connection — `ws://` or
/// `wss://`, a URL path and query, headers and TLS as for HTTP — for following an
/// upstream's subscriptions. Masks what it sends, answers pings, reports a close or a
/// protocol error as an error. Not thread-safe: one reader thread.
public final class WebSocketClient {
    public let url: HTTPURL
    private let http: HTTPClient
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    private var closed = false

    public init(url text: String, timeoutMillis: Int = 10_000, tls: TLSConfiguration? = nil, headers: [(String, String)] = [],
                maxMessageBytes: Int = 16 << 20) throws {
        let u = try HTTPURL(parsing: text)
        guard u.scheme == .ws || u.scheme == .wss else { throw NetError("a WebSocket client needs a ws:// or wss:// URL, not \(u.scheme.rawValue)://") }
        url = u
        // The handshake is an HTTP/1.1 request on the same connection (§4.1).
        let httpURL = text.replacingOccurrences(of: "ws", with: "http", options: [.anchored, .caseInsensitive])
        http = try HTTPClient(url: httpURL, timeoutMillis: timeoutMillis, tls: tls, headers: headers)
        parser = WebSocketFrameParser(role: .client, maxPayloadBytes: maxMessageBytes)
        assembler = WebSocketMessageAssembler(maxMessageBytes: maxMessageBytes)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let r = try http.request("GET", "/", headers: [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                       ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
        guard r.status == 101 else { throw NetError("\(u.redacted) refused the WebSocket upgrade: HTTP \(r.status)") }
        guard r.header("Upgrade")?.lowercased() == "websocket", r.header("Sec-WebSocket-Accept") == WebSocketHandshake.acceptValue(forKey: key) else {
            throw NetError("\(u.redacted) answered the WebSocket upgrade without a valid Sec-WebSocket-Accept")
        }
        parser.feed(http.buffer)
        http.buffer.removeAll()
    }

    public func send(text: String) throws {
        try sendFrame(WebSocketFrame(opcode: .text, payload: Array(text.utf8)))
    }

    private func sendFrame(_ f: WebSocketFrame) throws {
        guard !closed else { throw NetError("WebSocket to \(url.redacted) is closed") }
        try http.sendAll(f.encoded(maskingKey: (0..<4).map { _ in UInt8.random(in: 0...255) }))
    }

    /// The next text (or binary, as UTF-8) message; nil when none arrived within `timeoutMillis`.
    /// Throws when the server closes or breaks the protocol.
    public func receive(timeoutMillis: Int) throws -> String? {
        precondition(timeoutMillis > 0, "a positive wait")
        http.deadline = EventLoop.nowMillis() + UInt64(timeoutMillis)
        while true {
            while let frame = try parser.next() {
                switch try assembler.take(frame) {
                case .text(let s)?: return s
                case .binary(let b)?: return String(decoding: b, as: UTF8.self)
                case .ping(let p)?: try sendFrame(WebSocketFrame(opcode: .pong, payload: p))
                case .pong?, nil: break
                case .close(let code, let reason)?:
                    try? sendFrame(WebSocketFrame(opcode: .close, payload: frame.payload.prefix(2).map { $0 }))
                    close()
                    throw NetError("\(url.redacted) closed the WebSocket (\(code.map { String($0.rawValue) } ?? "no code")\(reason.isEmpty ? "" : ": " + boundedQuote(reason)))")
                }
            }
            do {
                guard try http.fill() else { close(); throw NetError("\(url.redacted) closed the connection") }
            } catch where EventLoop.nowMillis() >= http.deadline {
                return nil   // the wait ran out: no message yet, the connection is still good
            }
            parser.feed(http.buffer)
            http.buffer.removeAll()
        }
    }

    public func close() {
        closed = true
        http.close()
    }
}
