import CLMDB

/// Anything that can lend its bytes contiguously: the types accepted as keys and values.
/// Arrays and `Key` conform; other modules can conform their fixed-size byte types
/// (addresses, hashes) so they are stored without an intermediate copy.
public protocol ByteView {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ByteView where Element == UInt8 {}
extension ArraySlice: ByteView where Element == UInt8 {}
extension ContiguousArray: ByteView where Element == UInt8 {}

extension UnsafeRawBufferPointer: ByteView {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(self)
    }
}

extension ByteView {
    /// Lends the bytes as an `MDB_val`. LMDB only reads through it for keys and put values.
    func withMDBVal<R>(_ body: (inout MDB_val) throws -> R) rethrows -> R {
        try withUnsafeBytes { buffer in
            var val = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            return try body(&val)
        }
    }

    var isEmptyBytes: Bool { withUnsafeBytes { $0.isEmpty } }

    /// A copy as a plain array.
    var byteArray: [UInt8] { withUnsafeBytes { Array($0) } }
}

extension MDB_val {
    /// Borrows LMDB's memory; valid only until the transaction ends or the next write.
    var buffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }

    var bytes: [UInt8] { Array(buffer) }
}
