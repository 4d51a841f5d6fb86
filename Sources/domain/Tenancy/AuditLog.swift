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
public struct AuditLog: Sendable {
    let table: Table
    public static let tableName = "tenant_audit"
    public static let genesis = [UInt8](repeating: 0, count: 32)
    /// At most this many entries in one field of text (bounded records).
    static let maxField = 1024

    public init(env: Environment) throws { table = try env.table(Self.tableName) }

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
        let last = try self.last(txn)
        let seq = (last?.seq ?? 0) + 1
        let previous = last?.hash ?? Self.genesis
        let record = AuditRecord(seq: seq, entry: e, previousHash: previous, hash: Self.chain(previous, seq, e))
        try txn.append(table, Key(seq), Self.encode(record))
        return record
    }

    public func last(_ txn: ReadTransaction) throws -> AuditRecord? {
        try txn.entries(in: table, reverse: true, limit: 1).first.map { try Self.decode($0) }
    }

    /// Records after `seq`, oldest first.
    public func records(after seq: UInt64, limit: Int, _ txn: ReadTransaction) throws -> [AuditRecord] {
        try txn.entries(in: table, KeyRange(from: Key(seq &+ 1)), limit: limit).map { try Self.decode($0) }
    }

    public struct Verification: Equatable, Sendable {
        public var entries: UInt64
        /// The first entry whose hash, sequence or link does not check out, and why.
        public var firstBroken: (seq: UInt64, problem: String)?
        public static func == (a: Verification, b: Verification) -> Bool {
            a.entries == b.entries && a.firstBroken?.seq == b.firstBroken?.seq && a.firstBroken?.problem == b.firstBroken?.problem
        }
    }

    /// Walks the whole chain. A record that does not decode counts as broken, not as absent.
    public func verify(_ txn: ReadTransaction) throws -> Verification {
        var previous = Self.genesis
        var expected: UInt64 = 1
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
        return Verification(entries: n, firstBroken: broken)
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
