/// An order-preserving key builder. Integers are written big-endian so LMDB's byte-wise
/// order equals numeric order, and components concatenate so composite keys sort by
/// their first component, then the next, and so on.
///
/// Versioned history uses `invertedBlockNumber`: storing `address ‖ ^number` (where
/// `^n = UInt64.max - n`) sorts the versions of one address newest first, so "the latest
/// version at or below block N" is a single seek to the first key `≥ address ‖ ^N`:
///
///     let key = Key().appending(address).appendingInverted(blockNumber: n)
///     cursor.seek(atLeast: key)  // then check the found key still starts with `address`
public struct Key: Hashable, Comparable, Sendable, ByteView, CustomStringConvertible {
    public private(set) var bytes: [UInt8]

    public init() { bytes = [] }
    public init(_ bytes: some Sequence<UInt8>) { self.bytes = Array(bytes) }
    public init(_ value: UInt64) { self.init(); append(value) }

    public mutating func append(_ value: UInt64) { appendBigEndian(value) }
    public mutating func append(_ value: UInt32) { appendBigEndian(value) }
    public mutating func append(_ value: UInt16) { appendBigEndian(value) }
    public mutating func append(_ value: UInt8) { bytes.append(value) }
    /// Raw bytes. Only fixed-length fields keep composite ordering unambiguous; a variable
    /// length field must be the last component.
    public mutating func append(bytes raw: some ByteView) {
        raw.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
    public mutating func append(_ other: Key) { bytes.append(contentsOf: other.bytes) }
    /// `UInt64.max - number`: larger block numbers sort first.
    public mutating func appendInverted(blockNumber: UInt64) { appendBigEndian(UInt64.max - blockNumber) }

    public func appending(_ value: UInt64) -> Key { var copy = self; copy.append(value); return copy }
    public func appending(_ value: UInt32) -> Key { var copy = self; copy.append(value); return copy }
    public func appending(_ value: UInt16) -> Key { var copy = self; copy.append(value); return copy }
    public func appending(_ value: UInt8) -> Key { var copy = self; copy.append(value); return copy }
    public func appending(bytes raw: some ByteView) -> Key { var copy = self; copy.append(bytes: raw); return copy }
    public func appending(_ other: Key) -> Key { var copy = self; copy.append(other); return copy }
    public func appendingInverted(blockNumber: UInt64) -> Key {
        var copy = self; copy.appendInverted(blockNumber: blockNumber); return copy
    }

    public static func + (lhs: Key, rhs: Key) -> Key { lhs.appending(rhs) }

    /// Byte-wise (LMDB default) order.
    public static func < (lhs: Key, rhs: Key) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    public var description: String {
        "Key(0x" + bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() + ")"
    }

    private mutating func appendBigEndian<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
