import CLMDB

/// A key and value copied out of the database.
public struct Entry: Hashable, Sendable {
    public var key: [UInt8]
    public var value: [UInt8]

    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// A read-only snapshot, valid only inside the `Environment.read` closure that
/// received it. Not Sendable: use it on the thread that runs the closure.
///
/// Borrowing accessors (`withValue`, `forEach`) hand out pointers into the memory map
/// with no copy; those pointers are valid only inside their closure.
public class ReadTransaction {
    let handle: OpaquePointer
    private var isLive = true

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    func end() { isLive = false }

    /// The transaction handle, trapping on use after the scope ended: LMDB would
    /// otherwise read freed memory.
    var liveHandle: OpaquePointer {
        precondition(isLive, "transaction used after its closure returned")
        return handle
    }

    /// LMDB's transaction id (the snapshot's version).
    public var id: Int { mdb_txn_id(liveHandle) }

    /// A copy of the value stored under `key`, or nil.
    public func get(_ table: Table, _ key: some ByteView) throws(StorageError) -> [UInt8]? {
        try withValue(table, key) { Array($0) }
    }

    public func contains(_ table: Table, _ key: some ByteView) throws(StorageError) -> Bool {
        try withValue(table, key) { _ in () } != nil
    }

    /// Lends the stored value without copying; nil when the key is absent.
    public func withValue<R>(_ table: Table, _ key: some ByteView, _ body: (UnsafeRawBufferPointer) throws(StorageError) -> R) throws(StorageError) -> R? {
        var value = MDB_val()
        let txn = liveHandle
        let rc = key.withMDBVal { mdb_get(txn, table.dbi, &$0, &value) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get from \(table)")
        return try body(value.buffer)
    }

    /// Runs `body` with a cursor over `table`, closed when `body` returns.
    public func withCursor<R>(_ table: Table, _ body: (Cursor) throws -> R) throws -> R {
        let cursor = Cursor(handle: try openCursorHandle(table), table: table)
        defer { cursor.close() }
        return try body(cursor)
    }

    func openCursorHandle(_ table: Table) throws(StorageError) -> OpaquePointer {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(liveHandle, table.dbi, &cursor), "mdb_cursor_open on \(table)")
        guard let cursor else { throw .invalidArgument("mdb_cursor_open returned no cursor") }
        return cursor
    }

    /// Visits the entries in `range` in key order (or reverse), lending key and value
    /// without copying. `body` returns false to stop early.
    public func forEach(
        in table: Table,
        _ range: KeyRange = .all,
        reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try withCursor(table) { cursor in
            var positioned: Bool
            if reverse {
                positioned = try range.upperBound.map { try cursor.seek(before: $0) } ?? cursor.last()
            } else {
                positioned = try range.lowerBound.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
            }
            while positioned {
                let keepGoing = try cursor.withCurrent { key, value -> Bool in
                    // Only the far bound can be crossed: the start seek honoured the near one.
                    let inRange = reverse
                        ? range.lowerBound.map { compareBytes(key, $0) >= 0 } ?? true
                        : range.upperBound.map { compareBytes(key, $0) < 0 } ?? true
                    return try inRange && body(key, value)
                }
                guard keepGoing else { return }
                positioned = try reverse ? cursor.previous() : cursor.next()
            }
        }
    }

    /// Copies up to `limit` entries in `range`, in key order or reverse.
    public func entries(in table: Table, _ range: KeyRange = .all, reverse: Bool = false, limit: Int = .max) throws -> [Entry] {
        var result: [Entry] = []
        guard limit > 0 else { return result }
        try forEach(in: table, range, reverse: reverse) { key, value in
            result.append(Entry(key: Array(key), value: Array(value)))
            return result.count < limit
        }
        return result
    }

    /// Copies the entries whose keys start with `prefix`, in key order.
    public func entries(in table: Table, prefix: some ByteView, reverse: Bool = false, limit: Int = .max) throws -> [Entry] {
        try entries(in: table, .prefix(prefix), reverse: reverse, limit: limit)
    }

    public func stats(_ table: Table) throws(StorageError) -> TableStats {
        var stat = MDB_stat()
        try check(mdb_stat(liveHandle, table.dbi, &stat), "mdb_stat on \(table)")
        return TableStats(stat)
    }

    /// Number of entries in `table` (O(1): read from the tree's header).
    public func count(_ table: Table) throws(StorageError) -> Int { try stats(table).entries }
}
