/// A half-open range of keys in byte-wise order: `lowerBound` inclusive, `upperBound`
/// exclusive, either one absent meaning unbounded.
public struct KeyRange: Sendable, Hashable {
    public var lowerBound: [UInt8]?
    public var upperBound: [UInt8]?

    public init(from lowerBound: (some ByteView)? = [UInt8]?.none, upTo upperBound: (some ByteView)? = [UInt8]?.none) {
        self.lowerBound = lowerBound?.byteArray
        self.upperBound = upperBound?.byteArray
    }

    public static let all = KeyRange(from: [UInt8]?.none, upTo: [UInt8]?.none)

    /// Every key that starts with `prefix`.
    public static func prefix(_ prefix: some ByteView) -> KeyRange {
        let bytes = prefix.byteArray
        return KeyRange(from: bytes, upTo: Self.successor(ofPrefix: bytes))
    }

    /// The smallest key greater than every key starting with `prefix`: drop trailing 0xFF
    /// bytes and increment the last remaining byte. Nil when there is none (all 0xFF).
    static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        while let last = bytes.last {
            if last == 0xFF {
                bytes.removeLast()
            } else {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
        }
        return nil
    }

    public func contains(_ key: UnsafeRawBufferPointer) -> Bool {
        if let lowerBound, compareBytes(key, lowerBound) < 0 { return false }
        if let upperBound, compareBytes(key, upperBound) >= 0 { return false }
        return true
    }
}

/// memcmp order with shorter-is-smaller ties, the order LMDB uses for default tables.
func compareBytes(_ lhs: UnsafeRawBufferPointer, _ rhs: [UInt8]) -> Int {
    rhs.withUnsafeBytes { rhs in
        let common = min(lhs.count, rhs.count)
        for index in 0..<common where lhs[index] != rhs[index] {
            return lhs[index] < rhs[index] ? -1 : 1
        }
        return lhs.count == rhs.count ? 0 : (lhs.count < rhs.count ? -1 : 1)
    }
}
