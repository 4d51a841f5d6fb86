import Hashing
/// One message on a peer connection.
///
/// Wire layout: payload length (4 bytes, big-endian) ‖ type (1 byte) ‖ CRC-32C over
/// type ‖ payload (4 bytes, big-endian) ‖ payload. The length comes first so a receiver
/// can refuse an oversized frame before reading it.
public struct Frame: Sendable, Equatable {
    public var type: UInt8
    public var payload: [UInt8]

    public static let headerByteCount = 9
    public static let defaultMaxPayloadBytes = 64 << 20

    public init(type: UInt8, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    public static func checksum(type: UInt8, payload: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(byte: type)
        crc.update(payload)
        return crc.value
    }

    /// Appends the encoded frame to `out` (callers batch several frames into one write).
    public static func encode(type: UInt8, payload: [UInt8], into out: inout [UInt8]) {
        precondition(payload.count <= Int(UInt32.max), "frame payload exceeds the 4-byte length field")
        let crc = payload.withUnsafeBytes { checksum(type: type, payload: $0) }
        appendBigEndian(UInt32(payload.count), to: &out)
        out.append(type)
        appendBigEndian(crc, to: &out)
        out.append(contentsOf: payload)
    }

    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.headerByteCount + payload.count)
        Self.encode(type: type, payload: payload, into: &out)
        return out
    }
}

/// Why a byte stream stopped being a valid sequence of frames.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case oversized(declaredBytes: UInt32, limitBytes: Int)
    case checksumMismatch(type: UInt8, payloadBytes: Int, declared: UInt32, computed: UInt32)

    public var description: String {
        switch self {
        case let .oversized(declared, limit):
            return "frame declares a \(declared)-byte payload, over the limit of \(limit) bytes"
        case let .checksumMismatch(type, bytes, declared, computed):
            return "frame of type \(type) with a \(bytes)-byte payload failed its checksum (declared \(hex32(declared)), computed \(hex32(computed)))"
        }
    }
}

/// Turns a byte stream into frames incrementally: `feed` what arrives, then `next` until nil.
///
/// A frame whose declared length is over `maxPayloadBytes` is refused as soon as its
/// 4-byte length is seen, so a hostile peer cannot make the decoder accumulate it. After
/// an error the decoder stays failed: a stream cannot be resynchronised once misframed.
public struct FrameDecoder: Sendable {
    /// May be changed between frames (the transport raises it once a peer authenticates).
    public var maxPayloadBytes: Int
    private var buffer: [UInt8] = []
    /// Start of the first unconsumed byte in `buffer`; consumed bytes are dropped lazily.
    private var start = 0
    public private(set) var failure: FrameError?

    public init(maxPayloadBytes: Int = Frame.defaultMaxPayloadBytes) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func feed(_ bytes: [UInt8]) throws(FrameError) {
        if let failure { throw failure }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
        try checkDeclaredLength()
    }

    /// The next complete frame, or nil until more bytes arrive.
    public mutating func next() throws(FrameError) -> Frame? {
        if let failure { throw failure }
        try checkDeclaredLength()
        guard bufferedByteCount >= Frame.headerByteCount else { return nil }
        let length = Int(readBigEndian(at: start))
        guard bufferedByteCount >= Frame.headerByteCount + length else { return nil }
        let type = buffer[start + 4]
        let declared = readBigEndian(at: start + 5)
        let payloadStart = start + Frame.headerByteCount
        let payload = Array(buffer[payloadStart..<(payloadStart + length)])
        let computed = payload.withUnsafeBytes { Frame.checksum(type: type, payload: $0) }
        guard computed == declared else {
            return try fail(.checksumMismatch(type: type, payloadBytes: length, declared: declared, computed: computed))
        }
        start = payloadStart + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
        }
        return Frame(type: type, payload: payload)
    }

    private mutating func checkDeclaredLength() throws(FrameError) {
        guard bufferedByteCount >= 4 else { return }
        let length = readBigEndian(at: start)
        if Int(length) > maxPayloadBytes {
            _ = try fail(.oversized(declaredBytes: length, limitBytes: maxPayloadBytes))
        }
    }

    private mutating func fail(_ error: FrameError) throws(FrameError) -> Frame? {
        failure = error
        buffer = []
        start = 0
        throw error
    }

    private func readBigEndian(at i: Int) -> UInt32 {
        UInt32(buffer[i]) << 24 | UInt32(buffer[i + 1]) << 16 | UInt32(buffer[i + 2]) << 8 | UInt32(buffer[i + 3])
    }
}

func appendBigEndian(_ v: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: v >> 24))
    out.append(UInt8(truncatingIfNeeded: v >> 16))
    out.append(UInt8(truncatingIfNeeded: v >> 8))
    out.append(UInt8(truncatingIfNeeded: v))
}

func appendBigEndian(_ v: UInt64, to out: inout [UInt8]) {
    appendBigEndian(UInt32(truncatingIfNeeded: v >> 32), to: &out)
    appendBigEndian(UInt32(truncatingIfNeeded: v), to: &out)
}

func hex32(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
