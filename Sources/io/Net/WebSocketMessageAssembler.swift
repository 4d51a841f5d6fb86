/// What a peer said, once frames are put back together.
public enum WebSocketEvent: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// `code` is nil when the close frame carried no status (reported as 1005).
    case close(code: WebSocketCloseCode?, reason: String)
}

/// Turns frames into messages (RFC 6455 §5.4): reassembles fragments, lets control frames
/// interleave, and enforces the message-level rules — continuation sequencing, the message
/// size limit (1009), UTF-8 in text messages and close reasons (1007), and valid close codes.
public struct WebSocketMessageAssembler: Sendable {
    public let maxMessageBytes: Int
    private var fragmentOpcode: WebSocketOpcode?
    private var fragments: [UInt8] = []

    public init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }

    /// Whether a fragmented message has started and not yet finished.
    public var isMidMessage: Bool { fragmentOpcode != nil }

    /// The event a frame completes, nil when it only continues a fragmented message.
    public mutating func take(_ frame: WebSocketFrame) throws(WebSocketProtocolError) -> WebSocketEvent? {
        switch frame.opcode {
        case .ping: return .ping(frame.payload)
        case .pong: return .pong(frame.payload)
        case .close: return try Self.parseClose(frame.payload)
        case .text, .binary:
            guard fragmentOpcode == nil else {
                throw WebSocketProtocolError(.protocolError, "new \(frame.opcode) message before the fragmented one finished")
            }
            if frame.fin { return try Self.message(frame.opcode, frame.payload) }
            fragmentOpcode = frame.opcode
            fragments = frame.payload
            return nil
        case .continuation:
            guard let opcode = fragmentOpcode else { throw WebSocketProtocolError(.protocolError, "continuation frame without a message to continue") }
            guard fragments.count + frame.payload.count <= maxMessageBytes else {
                throw WebSocketProtocolError(.messageTooBig, "fragmented message exceeds the \(maxMessageBytes)-byte limit")
            }
            fragments.append(contentsOf: frame.payload)
            guard frame.fin else { return nil }
            let whole = fragments
            fragmentOpcode = nil
            fragments = []
            return try Self.message(opcode, whole)
        }
    }

    private static func message(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws(WebSocketProtocolError) -> WebSocketEvent {
        guard opcode == .text else { return .binary(payload) }
        guard let text = String(validating: payload, as: UTF8.self) else {
            throw WebSocketProtocolError(.invalidPayloadData, "text message is not valid UTF-8")
        }
        return .text(text)
    }

    private static func parseClose(_ payload: [UInt8]) throws(WebSocketProtocolError) -> WebSocketEvent {
        if payload.isEmpty { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else { throw WebSocketProtocolError(.protocolError, "close frame with a 1-byte payload") }
        let code = WebSocketCloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnTheWire else { throw WebSocketProtocolError(.protocolError, "close code \(code.rawValue) may not be sent") }
        guard let reason = String(validating: payload[2...], as: UTF8.self) else {
            throw WebSocketProtocolError(.invalidPayloadData, "close reason is not valid UTF-8")
        }
        return .close(code: code, reason: reason)
    }
}
