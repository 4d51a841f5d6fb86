import CLMDB

/// A position in one table, valid only inside the `withCursor` closure that made it.
///
/// Movement methods return whether the cursor now rests on an entry; the current key
/// and value are then available by copy (`key`, `value`) or by loan (`withCurrent`).
public class Cursor {
    let handle: OpaquePointer
    public let table: Table
    private var currentKey = MDB_val()
    private var currentValue = MDB_val()
    public private(set) var isPositioned = false
    private var isOpen = true

    init(handle: OpaquePointer, table: Table) {
        self.handle = handle
        self.table = table
    }

    func close() {
        isOpen = false
        isPositioned = false
        mdb_cursor_close(handle)
    }

    @discardableResult public func first() throws(StorageError) -> Bool { try move(MDB_FIRST, "first") }
    @discardableResult public func last() throws(StorageError) -> Bool { try move(MDB_LAST, "last") }
    @discardableResult public func next() throws(StorageError) -> Bool { try move(MDB_NEXT, "next") }
    @discardableResult public func previous() throws(StorageError) -> Bool { try move(MDB_PREV, "previous") }

    // LMDB rejects empty keys (MDB_BAD_VALSIZE) and never stores one, so an empty probe
    // is answered here: it sorts before every stored key.

    /// Positions on `key` itself.
    @discardableResult
    public func seek(exactly key: some ByteView) throws(StorageError) -> Bool {
        guard !key.isEmptyBytes else { return unposition() }
        return try seek(key, MDB_SET_KEY, "seek(exactly:)")
    }

    /// Positions on the smallest key `>= key`.
    @discardableResult
    public func seek(atLeast key: some ByteView) throws(StorageError) -> Bool {
        guard !key.isEmptyBytes else { return try first() }
        return try seek(key, MDB_SET_RANGE, "seek(atLeast:)")
    }

    /// Positions on the largest key `<= key`.
    @discardableResult
    public func seek(atMost key: some ByteView) throws(StorageError) -> Bool {
        guard !key.isEmptyBytes else { return unposition() }
        guard try seek(atLeast: key) else { return try last() }
        let exact = key.withUnsafeBytes { bound in withCurrent { found, _ in found.elementsEqual(bound) } }
        return exact ? true : try previous()
    }

    /// Positions on the largest key `< key`.
    @discardableResult
    public func seek(before key: some ByteView) throws(StorageError) -> Bool {
        guard !key.isEmptyBytes else { return unposition() }
        return try seek(atLeast: key) ? try previous() : try last()
    }

    private func unposition() -> Bool {
        isPositioned = false
        return false
    }

    /// A copy of the current key.
    public var key: [UInt8] { withCurrent { key, _ in Array(key) } }
    /// A copy of the current value.
    public var value: [UInt8] { withCurrent { _, value in Array(value) } }
    /// A copy of the current entry.
    public var entry: Entry { withCurrent { Entry(key: Array($0), value: Array($1)) } }

    /// Lends the current key and value without copying.
    public func withCurrent<R>(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(isOpen, "cursor used after its closure returned")
        precondition(isPositioned, "cursor on \(table) is not positioned on an entry")
        return try body(currentKey.buffer, currentValue.buffer)
    }

    private func seek(_ key: some ByteView, _ op: MDB_cursor_op, _ name: String) throws(StorageError) -> Bool {
        precondition(isOpen, "cursor used after its closure returned")
        // LMDB repoints `currentKey` at the stored key on success, so the caller's buffer is not retained.
        let rc = key.withMDBVal { probe in
            currentKey = probe
            return mdb_cursor_get(handle, &currentKey, &currentValue, op)
        }
        return try settle(rc, name)
    }

    private func move(_ op: MDB_cursor_op, _ name: String) throws(StorageError) -> Bool {
        precondition(isOpen, "cursor used after its closure returned")
        return try settle(mdb_cursor_get(handle, &currentKey, &currentValue, op), name)
    }

    /// Refreshes the cached entry after LMDB changed the cursor itself (puts, deletes).
    func reloadCurrent(_ name: String) throws(StorageError) {
        _ = try settle(mdb_cursor_get(handle, &currentKey, &currentValue, MDB_GET_CURRENT), name)
    }

    func markUnpositioned() { isPositioned = false }

    private func settle(_ rc: Int32, _ name: String) throws(StorageError) -> Bool {
        if rc == MDB_NOTFOUND {
            isPositioned = false
            return false
        }
        try check(rc, "mdb_cursor_get(\(name)) on \(table)")
        isPositioned = true
        return true
    }
}
