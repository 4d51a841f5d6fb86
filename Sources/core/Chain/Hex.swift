import ByteCodec

/// Hex text as the Ethereum JSON-RPC specification defines it.
///
/// - QUANTITY: `0x` followed by the shortest hex form of an unsigned integer
///   (`0x0` for zero, never a leading zero otherwise).
/// - DATA: `0x` followed by two hex digits per byte (`0x` for no bytes).
///
/// Parsing is strict by default because a lenient parser hides upstream bugs that
/// later show up as answers that differ from the chain.
public enum HexError: Error, Equatable, CustomStringConvertible {
    case missingPrefix(String)
    case invalidCharacter(String, offset: Int)
    case oddLength(String)
    case leadingZero(String)
    case emptyQuantity
    case tooLarge(String, maxBits: Int)
    case wrongLength(String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .missingPrefix(let s): return "hex value \(Hex.clip(s)) must start with 0x"
        case .invalidCharacter(let s, let o): return "hex value \(Hex.clip(s)) has a non-hex character at offset \(o)"
        case .oddLength(let s): return "hex data \(Hex.clip(s)) has an odd number of digits (DATA needs two per byte)"
        case .leadingZero(let s): return "hex quantity \(Hex.clip(s)) has a leading zero (QUANTITY must be minimal, 0x0 for zero)"
        case .emptyQuantity: return "hex quantity 0x has no digits (zero is 0x0)"
        case .tooLarge(let s, let bits): return "hex quantity \(Hex.clip(s)) does not fit in \(bits) bits"
        case .wrongLength(let s, let e, let a): return "hex data \(Hex.clip(s)) is \(a) bytes, expected \(e)"
        }
    }
}

public enum Hex {
    /// Hex text from the wire in a message: a bounded, escaped prefix.
    static func clip(_ s: String) -> String { boundedQuote(s) }

    @usableFromInline static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    @inlinable static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// DATA encoding: `0x` and two lowercase digits per byte.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let count = 2 + bytes.count * 2
        return String(unsafeUninitializedCapacity: count) { buf in
            buf[0] = UInt8(ascii: "0"); buf[1] = UInt8(ascii: "x")
            var i = 2
            for b in bytes {
                buf[i] = digits[Int(b >> 4)]; buf[i + 1] = digits[Int(b & 0xf)]
                i += 2
            }
            return count
        }
    }

    /// Hex digits without prefix (for keys, logs and the like).
    public static func encodeBare<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(encode(bytes).dropFirst(2))
    }

    /// Strict DATA decoding: `0x` prefix, even number of digits.
    public static func decodeData(_ s: String) throws(HexError) -> [UInt8] {
        var utf8 = Array(s.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X") else {
            throw .missingPrefix(s)
        }
        guard utf8.count % 2 == 0 else { throw .oddLength(s) }
        var out = [UInt8](repeating: 0, count: (utf8.count - 2) / 2)
        var failure: Int? = nil
        utf8.withUnsafeMutableBufferPointer { u in
            for i in 0..<out.count {
                guard let hi = nibble(u[2 + 2 * i]) else { failure = 2 + 2 * i; return }
                guard let lo = nibble(u[3 + 2 * i]) else { failure = 3 + 2 * i; return }
                out[i] = hi << 4 | lo
            }
        }
        if let offset = failure { throw .invalidCharacter(s, offset: offset) }
        utf8 = []
        return out
    }

    /// Strict DATA decoding of a value that must have exactly `length` bytes.
    public static func decodeData(_ s: String, length: Int) throws(HexError) -> [UInt8] {
        let bytes = try decodeData(s)
        guard bytes.count == length else { throw .wrongLength(s, expected: length, actual: bytes.count) }
        return bytes
    }

    /// Validates QUANTITY syntax and returns its digits' nibble values, most significant first.
    static func quantityNibbles(_ s: String) throws(HexError) -> [UInt8] {
        let utf8 = Array(s.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "X") else {
            throw .missingPrefix(s)
        }
        guard utf8.count > 2 else { throw .emptyQuantity }
        if utf8[2] == UInt8(ascii: "0") && utf8.count > 3 { throw .leadingZero(s) }
        var nibbles = [UInt8]()
        nibbles.reserveCapacity(utf8.count - 2)
        for i in 2..<utf8.count {
            guard let n = nibble(utf8[i]) else { throw .invalidCharacter(s, offset: i) }
            nibbles.append(n)
        }
        return nibbles
    }

    /// Strict QUANTITY decoding into 64 bits.
    public static func decodeQuantity(_ s: String) throws(HexError) -> UInt64 {
        let nibbles = try quantityNibbles(s)
        guard nibbles.count <= 16 else { throw .tooLarge(s, maxBits: 64) }
        var v: UInt64 = 0
        for n in nibbles { v = v << 4 | UInt64(n) }
        return v
    }

    /// Strict QUANTITY decoding into minimal big-endian bytes (empty for zero), up to `maxBytes`.
    public static func decodeQuantityBytes(_ s: String, maxBytes: Int = 32) throws(HexError) -> [UInt8] {
        let nibbles = try quantityNibbles(s)
        if nibbles == [0] { return [] }
        guard nibbles.count <= maxBytes * 2 else { throw .tooLarge(s, maxBits: maxBytes * 8) }
        var out = [UInt8]()
        out.reserveCapacity((nibbles.count + 1) / 2)
        var i = 0
        if nibbles.count % 2 == 1 { out.append(nibbles[0]); i = 1 }
        while i < nibbles.count { out.append(nibbles[i] << 4 | nibbles[i + 1]); i += 2 }
        return out
    }

    /// QUANTITY encoding of a 64-bit integer.
    public static func encodeQuantity(_ v: UInt64) -> String {
        "0x" + String(v, radix: 16)
    }

    /// QUANTITY encoding of a big-endian byte string (leading zero bytes ignored).
    public static func encodeQuantity<C: Collection>(bytes: C) -> String where C.Element == UInt8 {
        let trimmed = bytes.drop { $0 == 0 }
        if trimmed.isEmpty { return "0x0" }
        let full = encodeBare(trimmed)
        return "0x" + (full.hasPrefix("0") ? String(full.dropFirst()) : full)
    }
}

extension Array where Element == UInt8 {
    /// Lowercase `0x`-prefixed hex (DATA).
    public var hexString: String { Hex.encode(self) }
}
