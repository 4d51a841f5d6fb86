import ByteCodec
import Foundation
import Hashing
import Storage

/// One admin action as the node that executed it saw it. Secrets never appear: the actor is
/// the principal's non-secret name.
public struct AuditEntry: Equatable, Sendable {
    public var atMillis: UInt64
    /// The principal (`admin`, `tkey:…`, a user later).
    public var actor: String
    public var role: String
    /// The organisation the action concerned or acted for; 0 for the cluster.
    public var org: UInt64
    /// Method and path, e.g. `POST /v1/orgs`.
    public var action: String
    public var outcome: UInt16
    public var source: String
    public var requestId: String
    public init(atMillis: UInt64, actor: String, role: String, org: UInt64 = 0, action: String, outcome: UInt16, source: String, requestId: String) {
        self.atMillis = atMillis; self.actor = actor; self.role = role; self.org = org
        self.action = action; self.outcome = outcome; self.source = source; self.requestId = requestId
    }

    func write(_ w: inout ByteWriter) {
        w.u64(atMillis); w.string(actor); w.string(role); w.u64(org); w.string(action); w.u32(UInt32(outcome)); w.string(source); w.string(requestId)
    }

    static func read(_ r: inout ByteReader) throws(DecodeError) -> AuditEntry {
        let at = try r.u64(), actor = try r.string(), role = try r.string(), org = try r.u64(), action = try r.string()
        let outcome = try r.u32()
        guard outcome <= UInt32(UInt16.max) else { throw DecodeError("audit entry: outcome \(outcome)") }
        return AuditEntry(atMillis: at, actor: actor, role: role, org: org, action: action, outcome: UInt16(outcome), source: try r.string(), requestId: try r.string())
    }
}

/// An applied audit entry: its place in the log and the hash chaining it to the one before,
/// SHA-256(previous hash ‖ sequence ‖ entry), so an edited or deleted entry breaks the chain.
public struct AuditRecord: Equatable, Sendable {
    public var seq: UInt64
    public var entry: AuditEntry
    public var previousHash: [UInt8]
    public var hash: [UInt8]
}

/// The replicated audit log (`tenant_audit`: sequence → record), appended by apply only.
/// Retention deletes the oldest entries and keeps, in `tenant_audit_anchor`, the sequence
/// and hash of the last one deleted: the chain goes on from there and still verifies.
public struct AuditLog: Sendable {
    let table: Table, anchorTable: Table
    public static let tableName = "tenant_audit"
    public static let anchorTableName = "tenant_audit_anchor"
    public static let genesis = [UInt8](repeating: 0, count: 32)
    /// At most this many entries in one field of text (bounded records).
    static let maxField = 1024
    static let anchorKey = Array("anchor".utf8)

    public init(env: Environment) throws {
        table = try env.table(Self.tableName)
        anchorTable = try env.table(Self.anchorTableName)
    }

    /// Where the chain starts: after the last compacted entry, or at the beginning.
    public func anchor(_ txn: ReadTransaction) throws -> (seq: UInt64, hash: [UInt8]) {
        guard let raw = try txn.get(anchorTable, Self.anchorKey) else { return (0, Self.genesis) }
        guard raw.count == 40 else { throw CorruptTenantRecord(table: Self.anchorTableName, key: "anchor", problem: "\(raw.count) bytes, not a sequence and a hash") }
        return (TenantDirectory.u64(raw[0..<8]), Array(raw[8...]))
    }

    /// Deletes the oldest entries recorded before `beforeMillis`, at most `limit`, stopping at
    /// the first younger one (so what remains is one unbroken run); how many went.
    func compact(before beforeMillis: UInt64, limit: Int, _ txn: WriteTransaction) throws -> Int {
        var anchor: AuditRecord? = nil
        var n = 0
        for e in try txn.entries(in: table, limit: limit) {
            let r = try Self.decode(e)
            guard r.entry.atMillis < beforeMillis else { break }
            _ = try txn.delete(table, e.key)
            anchor = r
            n += 1
        }
        if let a = anchor {
            var w = ByteWriter()
            w.u64(a.seq); w.raw(a.hash)
            try txn.put(anchorTable, Self.anchorKey, w.bytes)
        }
        return n
    }

    static func chain(_ previous: [UInt8], _ seq: UInt64, _ entry: AuditEntry) -> [UInt8] {
        var w = ByteWriter()
        w.raw(previous); w.u64(seq); entry.write(&w)
        return SHA256.hash(w.bytes)
    }

    func append(_ entry: AuditEntry, _ txn: WriteTransaction) throws -> AuditRecord {
        var e = entry
        for keyPath in [\AuditEntry.actor, \.role, \.action, \.source, \.requestId] where e[keyPath: keyPath].utf8.count > Self.maxField {
            e[keyPath: keyPath] = String(decoding: Array(e[keyPath: keyPath].utf8.prefix(Self.maxField)), as: UTF8.self)
        }
        let start = try anchor(txn)
        let last = try self.last(txn)
        let seq = (last?.seq ?? start.seq) + 1
        let previous = last?.hash ?? start.hash
        let record = AuditRecord(seq: seq, entry: e, previousHash: previous, hash: Self.chain(previous, seq, e))
        try txn.append(table, Key(seq), Self.encode(record))
        return record
    }

    /// Entries kept (retention deletes the oldest).
    public func count(_ txn: ReadTransaction) throws -> Int { try txn.count(table) }

    public func last(_ txn: ReadTransaction) throws -> AuditRecord? {
        try txn.entries(in: table, reverse: true, limit: 1).first.map { try Self.decode($0) }
    }

    /// Records after `seq`, oldest first.
    public func records(after seq: UInt64, limit: Int, _ txn: ReadTransaction) throws -> [AuditRecord] {
        try txn.entries(in: table, KeyRange(from: Key(seq &+ 1)), limit: limit).map { try Self.decode($0) }
    }

    public struct Verification: Equatable, Sendable {
        public var entries: UInt64
        /// Entries up to this sequence were deleted by retention; the chain starts after it.
        public var compactedThrough: UInt64 = 0
        /// The first entry whose hash, sequence or link does not check out, and why.
        public var firstBroken: (seq: UInt64, problem: String)?
        public static func == (a: Verification, b: Verification) -> Bool {
            a.entries == b.entries && a.compactedThrough == b.compactedThrough && a.firstBroken?.seq == b.firstBroken?.seq && a.firstBroken?.problem == b.firstBroken?.problem
        }
    }

    /// Walks the whole chain. A record that does not decode counts as broken, not as absent.
    public func verify(_ txn: ReadTransaction) throws -> Verification {
        let start = try anchor(txn)
        var previous = start.hash
        var expected: UInt64 = start.seq + 1
        var n: UInt64 = 0
        var broken: (UInt64, String)? = nil
        try txn.forEach(in: table) { k, v in
            let keySeq = k.count == 8 ? k.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } : 0
            n += 1
            guard let r = try? Self.decode(Entry(key: Array(k), value: Array(v))) else { broken = (keySeq, "the record does not decode"); return false }
            if r.seq != expected { broken = (r.seq, "sequence \(r.seq) where \(expected) was next (an entry was deleted or moved)"); return false }
            if r.previousHash != previous { broken = (r.seq, "it does not link to the entry before it"); return false }
            if Self.chain(previous, r.seq, r.entry) != r.hash { broken = (r.seq, "its hash does not match its contents (edited)"); return false }
            previous = r.hash
            expected += 1
            return true
        }
        return Verification(entries: n, compactedThrough: start.seq, firstBroken: broken)
    }

    static func encode(_ r: AuditRecord) -> [UInt8] {
        var w = ByteWriter()
        w.u8(1); w.u64(r.seq); r.entry.write(&w); w.raw(r.previousHash); w.raw(r.hash)
        return w.bytes
    }

    static func decode(_ e: Entry) throws -> AuditRecord {
        var r = ByteReader(e.value, what: tableName)
        do {
            guard try r.u8() == 1 else { throw DecodeError("unknown record version") }
            let seq = try r.u64(), entry = try AuditEntry.read(&r), prev = try r.raw(32), hash = try r.raw(32)
            try r.expectEnd()
            guard Key(seq).bytes == e.key else { throw DecodeError("record \(seq) stored under another key") }
            return AuditRecord(seq: seq, entry: entry, previousHash: prev, hash: hash)
        } catch {
            throw CorruptTenantRecord(table: tableName, key: TenantCodec.hex(e.key), problem: "\(error)")
        }
    }
}
