import Hashing
/// The 2048-bit logs bloom of a receipt or block (Yellow Paper M3:2048).
public struct Bloom: Hashable, Sendable {
    public private(set) var bytes: [UInt8]
    public static let byteCount = 256

    public init() { bytes = [UInt8](repeating: 0, count: Self.byteCount) }
    public init(_ bytes: [UInt8]) throws(HexError) {
        guard bytes.count == Self.byteCount else {
            throw .wrongLength(Hex.encode(bytes), expected: Self.byteCount, actual: bytes.count)
        }
        self.bytes = bytes
    }
    public init(hex s: String) throws(HexError) { bytes = try Hex.decodeData(s, length: Self.byteCount) }

    /// Sets the three bits chosen by keccak(value): the low 11 bits of each of the first three byte pairs.
    public mutating func insert<C: Collection>(_ value: C) where C.Element == UInt8 {
        for bit in Self.bits(of: value) { bytes[255 - bit / 8] |= 1 << UInt8(bit % 8) }
    }

    /// True when every bit of value is set: maybe present (false positives possible), never a false negative.
    public func mayContain<C: Collection>(_ value: C) -> Bool where C.Element == UInt8 {
        Self.bits(of: value).allSatisfy { bytes[255 - $0 / 8] & (1 << UInt8($0 % 8)) != 0 }
    }

    static func bits<C: Collection>(of value: C) -> [Int] where C.Element == UInt8 {
        let h = keccak256(value)
        return (0..<3).map { i in (Int(h[2 * i]) << 8 | Int(h[2 * i + 1])) & 2047 }
    }

    public mutating func formUnion(_ other: Bloom) {
        for i in 0..<Self.byteCount { bytes[i] |= other.bytes[i] }
    }

    /// The bloom of a set of logs: each log's address and every topic.
    public static func of(logs: [Log]) -> Bloom {
        var b = Bloom()
        for log in logs {
            b.insert(log.address.bytes)
            for t in log.topics { b.insert(t.bytes) }
        }
        return b
    }

    public var hex: String { Hex.encode(bytes) }
}
