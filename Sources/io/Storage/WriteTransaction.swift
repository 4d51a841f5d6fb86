import CLMDB

/// The environment's single write transaction, valid only inside `Environment.write`.
/// Everything a `ReadTransaction` offers also sees this transaction's own writes.
public final class WriteTransaction: ReadTransaction {
    /// Stores `value` under `key`, replacing any previous value.
    public func put(_ table: Table, _ key: some ByteView, _ value: some ByteView) throws(StorageError) {
        try put(table, key, value, flags: 0, operation: "mdb_put into \(table)")
    }

    /// Stores `value` only if `key` is absent; returns whether it was stored.
    @discardableResult
    public func insert(_ table: Table, _ key: some ByteView, _ value: some ByteView) throws(StorageError) -> Bool {
        do {
            try put(table, key, value, flags: UInt32(MDB_NOOVERWRITE), operation: "mdb_put(MDB_NOOVERWRITE) into \(table)")
            return true
        } catch where error.lmdbCode == MDB_KEYEXIST {
            return false
        }
    }

    /// Appends at the end of `table` (`MDB_APPEND`): much faster for sequential loads,
    /// but `key` must sort after every key already in the table.
    public func append(_ table: Table, _ key: some ByteView, _ value: some ByteView) throws(StorageError) {
        try put(table, key, value, flags: UInt32(MDB_APPEND),
                operation: "mdb_put(MDB_APPEND) into \(table) (the key must sort after the table's last key)")
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete(_ table: Table, _ key: some ByteView) throws(StorageError) -> Bool {
        let txn = liveHandle
        let rc = key.withMDBVal { mdb_del(txn, table.dbi, &$0, nil) }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del from \(table)")
        return true
    }

    /// Removes every entry of `table`, keeping the table itself.
    public func clear(_ table: Table) throws(StorageError) {
        try check(mdb_drop(liveHandle, table.dbi, 0), "mdb_drop(empty) on \(table)")
    }

    /// Runs `body` with a cursor that can also put and delete.
    public func withWriteCursor<R>(_ table: Table, _ body: (WriteCursor) throws -> R) throws -> R {
        let cursor = WriteCursor(handle: try openCursorHandle(table), table: table)
        defer { cursor.close() }
        return try body(cursor)
    }

    private func put(_ table: Table, _ key: some ByteView, _ value: some ByteView, flags: UInt32, operation: @autoclosure () -> String) throws(StorageError) {
        let txn = liveHandle
        let rc = key.withMDBVal { key in
            value.withMDBVal { value in mdb_put(txn, table.dbi, &key, &value, flags) }
        }
        try check(rc, operation())
    }
}
