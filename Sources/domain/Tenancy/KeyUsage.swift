import ByteCodec
import Storage

/// Calls of one key to one method in one minute, as one node counted them.
public struct UsageRow: Equatable, Sendable {
    public var key: UInt64
    /// Unix minutes.
    public var minute: UInt64
    /// A JSON-RPC method, or `graphql`, `rest`, `batch`.
    public var method: String
    public var calls: UInt64
    public var errors: UInt64
    public init(key: UInt64, minute: UInt64, method: String, calls: UInt64, errors: UInt64) {
        self.key = key; self.minute = minute; self.method = method; self.calls = calls; self.errors = errors
    }
}

/// One node's counts since its previous batch. `seq` grows by one per batch of that node,
/// so a batch sent twice (a follower resending to a new leader) is applied once.
public struct UsageBatch: Equatable, Sendable {
    public var node: UInt64
    public var seq: UInt64
    public var rows: [UsageRow]
    /// The latest use of each key in the batch, Unix milliseconds.
    public var lastUsed: [UInt64: UInt64]
    public init(node: UInt64, seq: UInt64, rows: [UsageRow], lastUsed: [UInt64: UInt64]) {
        self.node = node; self.seq = seq; self.rows = rows; self.lastUsed = lastUsed
    }

    static let maxRows = 100_000
    static let maxMethod = 64

    public func write(_ w: inout ByteWriter) {
        w.u64(node); w.u64(seq)
        w.u32(UInt32(rows.count))
        for r in rows { w.u64(r.key); w.u64(r.minute); w.string(r.method); w.u64(r.calls); w.u64(r.errors) }
        let used = lastUsed.sorted { $0.key < $1.key }
        w.u32(UInt32(used.count))
        for (k, t) in used { w.u64(k); w.u64(t) }
    }

    public static func read(_ r: inout ByteReader) throws(DecodeError) -> UsageBatch {
        let node = try r.u64(), seq = try r.u64()
        let n = try r.u32()
        guard n <= maxRows else { throw DecodeError("usage batch: \(n) rows (at most \(maxRows))") }
        var rows = [UsageRow]()
        for _ in 0..<n {
            let key = try r.u64(), minute = try r.u64(), method = try r.string()
            guard method.utf8.count <= maxMethod else { throw DecodeError("usage batch: a method name of \(method.utf8.count) bytes") }
            rows.append(UsageRow(key: key, minute: minute, method: method, calls: try r.u64(), errors: try r.u64()))
        }
        let m = try r.u32()
        guard m <= maxRows else { throw DecodeError("usage batch: \(m) keys (at most \(maxRows))") }
        var used = [UInt64: UInt64]()
        for _ in 0..<m { used[try r.u64()] = try r.u64() }
        return UsageBatch(node: node, seq: seq, rows: rows, lastUsed: used)
    }
}

/// Replicated per-key data-access counts: calls and errors per key, minute and method
/// (`tenant_usage`), each key's latest use (`tenant_key_last_used`), and the last batch
/// applied from each node (`tenant_usage_applied`). Written by apply only, a batch at a time:
/// never a Raft write per request.
public struct KeyUsage: Sendable {
    let rows: Table, byMinute: Table, lastUsed: Table, applied: Table
    /// `tenant_usage` is keyed key ‖ minute ‖ method (a key's usage is one range);
    /// `tenant_usage_by_minute` holds the same rows minute ‖ key ‖ method, so compaction
    /// walks only what it deletes.
    public static let tableNames = ["tenant_usage", "tenant_usage_by_minute", "tenant_key_last_used", "tenant_usage_applied"]

    public init(env: Environment) throws {
        rows = try env.table(Self.tableNames[0])
        byMinute = try env.table(Self.tableNames[1])
        lastUsed = try env.table(Self.tableNames[2])
        applied = try env.table(Self.tableNames[3])
    }

    static func rowKey(_ key: UInt64, _ minute: UInt64, _ method: String) -> Key {
        Key(key).appending(minute).appending(bytes: Array(method.utf8))
    }

    /// A row's key in the other table: key ‖ minute ‖ method and minute ‖ key ‖ method are
    /// each other with the two 8-byte fields swapped.
    static func swapped(_ k: [UInt8], _ table: String) throws -> Key {
        guard k.count >= 16 else { throw CorruptTenantRecord(table: table, key: TenantCodec.hex(k), problem: "a key of the wrong length") }
        return Key(k[8..<16]).appending(Key(k[0..<8])).appending(bytes: Array(k[16...]))
    }

    /// Adds the batch unless this node's batch `seq` was applied already; true when added.
    func apply(_ b: UsageBatch, _ txn: WriteTransaction) throws -> Bool {
        if let raw = try txn.get(applied, Key(b.node)) {
            guard raw.count == 8 else { throw CorruptTenantRecord(table: "tenant_usage_applied", key: "\(b.node)", problem: "\(raw.count) bytes") }
            if TenantDirectory.u64(raw[...]) >= b.seq { return false }
        }
        for r in b.rows {
            let k = Self.rowKey(r.key, r.minute, r.method)
            var (calls, errors) = (UInt64(0), UInt64(0))
            if let raw = try txn.get(rows, k) { (calls, errors) = try Self.counts(raw, k) } else {
                try txn.put(byMinute, try Self.swapped(k.bytes, "tenant_usage"), [UInt8]())
            }
            var w = ByteWriter()
            w.u64(calls &+ r.calls); w.u64(errors &+ r.errors)
            try txn.put(rows, k, w.bytes)
        }
        for (key, at) in b.lastUsed {
            let before = try txn.get(lastUsed, Key(key)).map { raw throws -> UInt64 in
                guard raw.count == 8 else { throw CorruptTenantRecord(table: "tenant_key_last_used", key: "\(key)", problem: "\(raw.count) bytes") }
                return TenantDirectory.u64(raw[...])
            } ?? 0
            if at > before { try txn.put(lastUsed, Key(key), Key(at)) }
        }
        try txn.put(applied, Key(b.node), Key(b.seq))
        return true
    }

    /// Deletes rows of minutes before `minute`, oldest first, at most `limit` (bounded apply).
    func compact(before minute: UInt64, limit: Int, _ txn: WriteTransaction) throws -> Int {
        let doomed = try txn.entries(in: byMinute, KeyRange(from: [UInt8](), upTo: Key(minute)), limit: limit)
        for e in doomed {
            _ = try txn.delete(rows, try Self.swapped(e.key, "tenant_usage_by_minute"))
            _ = try txn.delete(byMinute, e.key)
        }
        return doomed.count
    }

    /// Forgets a deleted key's counts (its organisation went).
    func forget(key: UInt64, _ txn: WriteTransaction) throws {
        for e in try txn.entries(in: rows, prefix: Key(key)) {
            _ = try txn.delete(rows, e.key)
            _ = try txn.delete(byMinute, try Self.swapped(e.key, "tenant_usage"))
        }
        _ = try txn.delete(lastUsed, Key(key))
    }

    public func rowCount(_ txn: ReadTransaction) throws -> Int { try txn.count(rows) }

    public func lastUsed(_ key: UInt64, _ txn: ReadTransaction) throws -> UInt64? {
        guard let raw = try txn.get(lastUsed, Key(key)) else { return nil }
        guard raw.count == 8 else { throw CorruptTenantRecord(table: "tenant_key_last_used", key: "\(key)", problem: "\(raw.count) bytes") }
        return TenantDirectory.u64(raw[...])
    }

    /// The last batch applied from `node`, 0 for none.
    public func appliedSeq(_ node: UInt64, _ txn: ReadTransaction) throws -> UInt64 {
        guard let raw = try txn.get(applied, Key(node)) else { return 0 }
        guard raw.count == 8 else { throw CorruptTenantRecord(table: "tenant_usage_applied", key: "\(node)", problem: "\(raw.count) bytes") }
        return TenantDirectory.u64(raw[...])
    }

    /// A key's rows from minute `since` to before `until`, oldest first.
    public func rows(of key: UInt64, since: UInt64, until: UInt64, limit: Int, _ txn: ReadTransaction) throws -> [UsageRow] {
        guard since < until else { return [] }
        return try txn.entries(in: rows, KeyRange(from: Key(key).appending(since), upTo: Key(key).appending(until)), limit: limit).map { e in
            guard e.key.count >= 16 else { throw CorruptTenantRecord(table: "tenant_usage", key: TenantCodec.hex(e.key), problem: "a key of the wrong length") }
            let (calls, errors) = try Self.counts(e.value, Key(e.key))
            return UsageRow(key: key, minute: TenantDirectory.u64(e.key[8..<16]), method: String(decoding: e.key[16...], as: UTF8.self), calls: calls, errors: errors)
        }
    }

    static func counts(_ raw: [UInt8], _ k: Key) throws -> (UInt64, UInt64) {
        guard raw.count == 16 else { throw CorruptTenantRecord(table: "tenant_usage", key: TenantCodec.hex(k.bytes), problem: "\(raw.count) bytes, not two counts") }
        return (TenantDirectory.u64(raw[0..<8]), TenantDirectory.u64(raw[8..<16]))
    }
}
