import CLMDB

/// A cursor inside a write transaction that can also modify the table.
public final class WriteCursor: Cursor {
    /// Stores `value` under `key` and positions the cursor on it.
    public func put(_ key: some ByteView, _ value: some ByteView) throws(StorageError) {
        try put(key, value, flags: 0, operation: "mdb_cursor_put on \(table)")
    }

    /// Appends `key`, which must sort after every key in the table (`MDB_APPEND`).
    public func append(_ key: some ByteView, _ value: some ByteView) throws(StorageError) {
        try put(key, value, flags: UInt32(MDB_APPEND),
                operation: "mdb_cursor_put(MDB_APPEND) on \(table) (the key must sort after the table's last key)")
    }

    /// Deletes the current entry. Afterwards the cursor is unpositioned, but `next()`
    /// moves to the entry that followed the deleted one and `previous()` to the one before.
    public func deleteCurrent() throws(StorageError) {
        precondition(isPositioned, "deleteCurrent() on \(table) needs a positioned cursor")
        try check(mdb_cursor_del(handle, 0), "mdb_cursor_del on \(table)")
        markUnpositioned()
    }

    private func put(_ key: some ByteView, _ value: some ByteView, flags: UInt32, operation: @autoclosure () -> String) throws(StorageError) {
        let rc = key.withMDBVal { key in
            value.withMDBVal { value in mdb_cursor_put(handle, &key, &value, flags) }
        }
        try check(rc, operation())
        try reloadCurrent("current after put")
    }
}
