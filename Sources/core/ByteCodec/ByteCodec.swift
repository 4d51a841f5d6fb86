/// Minimal binary encoding for log entries and peer messages: fixed-width big-endian
/// integers and length-prefixed byte strings. Decoding never traps on bad input; it
/// throws a `DecodeError` that says what was short or wrong.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    // One append of the big-endian bytes, not one per byte: snapshots write millions.
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    public mutating func data<C: Collection>(_ d: C) where C.Element == UInt8 {
        precondition(d.count <= Int(UInt32.max), "byte string too long to encode")
        u32(UInt32(d.count)); bytes.append(contentsOf: d)
    }
    public mutating func string(_ s: String) { data(Array(s.utf8)) }
    /// Fixed-size bytes with no length prefix (hashes, addresses).
    public mutating func raw<C: Collection>(_ d: C) where C.Element == UInt8 { bytes.append(contentsOf: d) }
}

public struct DecodeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}

public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset = 0
    /// What is being decoded, for error messages.
    let what: String

    public init(_ bytes: [UInt8], what: String) { self.bytes = bytes; self.what = what }

    public var isAtEnd: Bool { offset == bytes.count }
    public var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw DecodeError("\(what): truncated at byte \(offset) (needed \(n), have \(remaining))") }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func u8() throws(DecodeError) -> UInt8 { try take(1).first! }
    public mutating func bool() throws(DecodeError) -> Bool {
        let v = try u8()
        guard v <= 1 else { throw DecodeError("\(what): invalid boolean \(v) at byte \(offset - 1)") }
        return v == 1
    }
    public mutating func u16() throws(DecodeError) -> UInt16 { try take(2).reduce(0) { $0 << 8 | UInt16($1) } }
    public mutating func u32() throws(DecodeError) -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    public mutating func u64() throws(DecodeError) -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }
    public mutating func data(max: Int = 256 << 20) throws(DecodeError) -> [UInt8] {
        let n = Int(try u32())
        guard n <= max else { throw DecodeError("\(what): byte string of \(n) bytes exceeds \(max)") }
        return Array(try take(n))
    }
    public mutating func string() throws(DecodeError) -> String {
        let d = try data(max: 1 << 20)
        guard let s = String(validating: d, as: UTF8.self) else { throw DecodeError("\(what): string is not UTF-8") }
        return s
    }
    public mutating func raw(_ n: Int) throws(DecodeError) -> [UInt8] { Array(try take(n)) }
    /// Everything not read yet.
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
    public func expectEnd() throws(DecodeError) {
        guard isAtEnd else { throw DecodeError("\(what): \(remaining) unexpected trailing bytes") }
    }
}
