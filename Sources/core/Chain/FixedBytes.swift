import Hashing
/// A 20-byte account address. Text form is EIP-55 mixed-case checksummed.
public struct Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]
    public static let zero = Address(unchecked: [UInt8](repeating: 0, count: 20))

    public init(unchecked bytes: [UInt8]) {
        precondition(bytes.count == 20, "an address is 20 bytes, got \(bytes.count)")
        self.bytes = bytes
    }

    public init(_ bytes: [UInt8]) throws(HexError) {
        guard bytes.count == 20 else { throw .wrongLength(Hex.encode(bytes), expected: 20, actual: bytes.count) }
        self.bytes = bytes
    }

    /// Parses `0x` + 40 hex digits. A mixed-case input must carry a valid EIP-55 checksum.
    public init(hex s: String) throws(AddressError) {
        let b: [UInt8]
        do { b = try Hex.decodeData(s, length: 20) } catch { throw .malformed(error) }
        self.bytes = b
        // ASCII byte checks: Character case properties are Unicode lookups, and this runs
        // for every address of every block ingested.
        var hasUpper = false, hasLower = false
        for c in s.utf8.dropFirst(2) {
            if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F") { hasUpper = true } else if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f") { hasLower = true }
        }
        if hasUpper && hasLower && s.dropFirst(2) != checksummed.dropFirst(2) {
            throw .badChecksum(s)
        }
    }

    /// EIP-55: a hex letter is upper-case when the matching nibble of keccak(lowercase hex) is ≥ 8.
    public var checksummed: String {
        let lower = Array(Hex.encodeBare(bytes).utf8)
        let h = keccak256(lower)
        var out = Array("0x".utf8)
        for (i, c) in lower.enumerated() {
            let nib = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0xf
            out.append(c >= UInt8(ascii: "a") && nib >= 8 ? c - 32 : c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase form, as JSON-RPC answers carry it.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { checksummed }
    public static func < (a: Address, b: Address) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

public enum AddressError: Error, Equatable, CustomStringConvertible {
    case malformed(HexError)
    case badChecksum(String)
    public var description: String {
        switch self {
        case .malformed(let e): return "invalid address: \(e)"
        case .badChecksum(let s): return "address \(s) has mixed case but an invalid EIP-55 checksum"
        }
    }
}

/// A 32-byte hash (block, transaction, storage slot, root).
public struct Hash32: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]
    public static let zero = Hash32(unchecked: [UInt8](repeating: 0, count: 32))

    public init(unchecked bytes: [UInt8]) {
        precondition(bytes.count == 32, "a hash is 32 bytes, got \(bytes.count)")
        self.bytes = bytes
    }
    public init(hex s: String) throws(HexError) { bytes = try Hex.decodeData(s, length: 32) }
    public init(_ bytes: [UInt8]) throws(HexError) {
        guard bytes.count == 32 else { throw .wrongLength(Hex.encode(bytes), expected: 32, actual: bytes.count) }
        self.bytes = bytes
    }
    /// keccak256 of the bytes.
    public static func keccak<C: Collection>(_ data: C) -> Hash32 where C.Element == UInt8 {
        Hash32(unchecked: keccak256(data))
    }
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
    public static func < (a: Hash32, b: Hash32) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
