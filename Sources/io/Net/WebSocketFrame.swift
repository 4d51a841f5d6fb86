/// RFC 6455 §5.2 frame opcodes. Values outside these are reserved and refused.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) may interleave with a fragmented message (§5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// A close status code (RFC 6455 §7.4). Any `UInt16` is representable so a peer's code can be
/// reported as received; `isValidOnTheWire` says whether a peer may send it.
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt16) { rawValue = value }

    public static let normal: WebSocketCloseCode = 1000
    public static let goingAway: WebSocketCloseCode = 1001
    public static let protocolError: WebSocketCloseCode = 1002
    public static let unsupportedData: WebSocketCloseCode = 1003
    /// Reported when the peer's close frame carried no code; never sent.
    public static let noStatusReceived: WebSocketCloseCode = 1005
    /// Reported when the TCP connection ended without a close frame; never sent.
    public static let abnormalClosure: WebSocketCloseCode = 1006
    public static let invalidPayloadData: WebSocketCloseCode = 1007
    public static let policyViolation: WebSocketCloseCode = 1008
    public static let messageTooBig: WebSocketCloseCode = 1009
    public static let internalError: WebSocketCloseCode = 1011

    /// Codes a close frame may carry (§7.4.1–7.4.2): the defined ones except those reserved for
    /// local reporting, IANA-registered 3000–3999, and private 4000–4999.
    public var isValidOnTheWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1011: true
        case 1012...1014: true  // registered later (service restart, try again later, bad gateway)
        case 3000...4999: true
        default: false
        }
    }

    public var description: String { String(rawValue) }
}

/// One frame on the wire (RFC 6455 §5.2). The payload is kept unmasked.
public struct WebSocketFrame: Sendable, Equatable {
    public var fin: Bool
    public var opcode: WebSocketOpcode
    public var payload: [UInt8]

    public init(fin: Bool = true, opcode: WebSocketOpcode, payload: [UInt8]) {
        self.fin = fin; self.opcode = opcode; self.payload = payload
    }

    /// The largest payload a control frame may carry (§5.5).
    public static let maxControlPayload = 125

    /// Wire bytes for this frame. Servers send unmasked frames; clients must pass a fresh
    /// 4-byte `maskingKey` (§5.3). Always uses the shortest length encoding.
    public func encoded(maskingKey: [UInt8]? = nil) -> [UInt8] {
        precondition(maskingKey == nil || maskingKey!.count == 4, "a masking key is 4 bytes")
        let count = payload.count
        var out = [UInt8]()
        out.reserveCapacity(count + 14)
        out.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if count < 126 {
            out.append(maskBit | UInt8(count))
        } else if count <= 0xFFFF {
            out.append(maskBit | 126)
            out.append(UInt8(count >> 8)); out.append(UInt8(count & 0xFF))
        } else {
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(count) >> UInt64(shift))) }
        }
        if let key = maskingKey {
            out.append(contentsOf: key)
            let start = out.count
            out.append(contentsOf: payload)
            WebSocketFrame.applyMask(key, to: &out, from: start)
        } else {
            out.append(contentsOf: payload)
        }
        return out
    }

    /// XORs bytes from `from` on with the masking key (§5.3); masking and unmasking are the same.
    static func applyMask(_ key: [UInt8], to bytes: inout [UInt8], from: Int) {
        let k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3]
        bytes.withUnsafeMutableBufferPointer { buf in
            var i = from, j = 0
            while i < buf.count {
                switch j & 3 {
                case 0: buf[i] ^= k0
                case 1: buf[i] ^= k1
                case 2: buf[i] ^= k2
                default: buf[i] ^= k3
                }
                i += 1; j += 1
            }
        }
    }

    /// The payload of a close frame: the code in network order, then a UTF-8 reason, cut so the
    /// frame stays within the control-frame limit.
    static func closePayload(code: WebSocketCloseCode, reason: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        var reasonBytes = Array(reason.utf8)
        if reasonBytes.count > maxControlPayload - 2 {
            reasonBytes = Array(reasonBytes.prefix(maxControlPayload - 2))
            // Never cut inside a UTF-8 sequence: drop trailing continuation bytes and their lead byte
            // (this may drop one whole character more than needed, which a reason can afford).
            while let last = reasonBytes.last, last & 0xC0 == 0x80 { reasonBytes.removeLast() }
            if let last = reasonBytes.last, last >= 0xC0 { reasonBytes.removeLast() }
        }
        out.append(contentsOf: reasonBytes)
        return out
    }
}
