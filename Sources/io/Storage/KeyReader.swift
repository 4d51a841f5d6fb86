/// Decodes the components of a key written with `Key`, in the same order.
/// Reading past the end returns nil rather than trapping, since keys come from disk.
public struct KeyReader {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: some ByteView) { self.bytes = bytes.withUnsafeBytes { Array($0) } }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { remaining == 0 }

    public mutating func readUInt64() -> UInt64? { readBigEndian() }
    public mutating func readUInt32() -> UInt32? { readBigEndian() }
    public mutating func readUInt16() -> UInt16? { readBigEndian() }
    public mutating func readUInt8() -> UInt8? { readBigEndian() }
    /// Undoes `Key.appendInverted(blockNumber:)`.
    public mutating func readInvertedBlockNumber() -> UInt64? { readUInt64().map { UInt64.max - $0 } }

    public mutating func readBytes(count: Int) -> [UInt8]? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func readRest() -> [UInt8] { readBytes(count: remaining)! }

    private mutating func readBigEndian<T: FixedWidthInteger & UnsignedInteger>() -> T? {
        let width = MemoryLayout<T>.size
        guard width <= remaining else { return nil }
        var value: T = 0
        for byte in bytes[offset..<offset + width] { value = value << 8 | T(byte) }
        offset += width
        return value
    }
}
