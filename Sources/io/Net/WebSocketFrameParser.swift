/// Why the peer's byte stream is not acceptable, with the close code the connection is failed with.
public struct WebSocketProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: WebSocketCloseCode
    public let message: String
    public init(_ code: WebSocketCloseCode, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code.rawValue): \(message)" }
}

/// Incremental frame decoder (RFC 6455 §5.2). Feed bytes as they arrive; take complete frames
/// with `next()`. Enforces every rule that can be checked on a single frame, before buffering
/// its payload: masking direction, reserved bits and opcodes, control-frame size and
/// fragmentation, and the payload size limit (so a peer cannot make us buffer a 2^63-byte frame).
public struct WebSocketFrameParser: Sendable {
    /// Which side's frames are being decoded: a server reads masked client frames (§5.1).
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let maxPayloadBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(role: Role = .server, maxPayloadBytes: Int) {
        self.role = role
        self.maxPayloadBytes = maxPayloadBytes
    }

    public var bufferedBytes: Int { buffer.count - start }

    public mutating func feed(_ bytes: [UInt8]) {
        if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        // Reclaim consumed bytes once they dominate, so a long-lived connection does not grow the buffer.
        if start > 64 * 1024 && start * 2 > buffer.count { buffer.removeFirst(start); start = 0 }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, nil when more bytes are needed.
    public mutating func next() throws(WebSocketProtocolError) -> WebSocketFrame? {
        guard bufferedBytes >= 2 else { return nil }
        let b0 = buffer[start], b1 = buffer[start + 1]
        let fin = b0 & 0x80 != 0
        // No extension is ever negotiated, so the RSV bits have no meaning (§5.2).
        guard b0 & 0x70 == 0 else { throw WebSocketProtocolError(.protocolError, "reserved bits set without a negotiated extension") }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            throw WebSocketProtocolError(.protocolError, "reserved opcode 0x\(String(b0 & 0x0F, radix: 16))")
        }
        let masked = b1 & 0x80 != 0
        switch role {
        case .server: guard masked else { throw WebSocketProtocolError(.protocolError, "client frames must be masked") }
        case .client: guard !masked else { throw WebSocketProtocolError(.protocolError, "server frames must not be masked") }
        }
        let shortLength = Int(b1 & 0x7F)
        var headerLength = 2
        let payloadLength: UInt64
        switch shortLength {
        case 126:
            guard bufferedBytes >= 4 else { return nil }
            payloadLength = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
            headerLength = 4
        case 127:
            guard bufferedBytes >= 10 else { return nil }
            var n: UInt64 = 0
            for i in 2..<10 { n = n << 8 | UInt64(buffer[start + i]) }
            guard n >> 63 == 0 else { throw WebSocketProtocolError(.protocolError, "64-bit payload length with the high bit set") }
            payloadLength = n
            headerLength = 10
        default:
            payloadLength = UInt64(shortLength)
        }
        // Non-minimal length encodings are accepted: §5.2 binds the sender, and refusing them buys nothing.
        if opcode.isControl {
            guard fin else { throw WebSocketProtocolError(.protocolError, "fragmented control frame") }
            guard payloadLength <= UInt64(WebSocketFrame.maxControlPayload) else {
                throw WebSocketProtocolError(.protocolError, "control frame payload of \(payloadLength) bytes exceeds 125")
            }
        } else if payloadLength > UInt64(maxPayloadBytes) {
            throw WebSocketProtocolError(.messageTooBig, "frame of \(payloadLength) bytes exceeds the \(maxPayloadBytes)-byte message limit")
        }
        let keyLength = masked ? 4 : 0
        let length = Int(payloadLength)
        guard bufferedBytes >= headerLength + keyLength + length else { return nil }
        let payloadStart = start + headerLength + keyLength
        var payload = Array(buffer[payloadStart..<(payloadStart + length)])
        if masked {
            let key = Array(buffer[(start + headerLength)..<payloadStart])
            WebSocketFrame.applyMask(key, to: &payload, from: 0)
        }
        start = payloadStart + length
        return WebSocketFrame(fin: fin, opcode: opcode, payload: payload)
    }
}
