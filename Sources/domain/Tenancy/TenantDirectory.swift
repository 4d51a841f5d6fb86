import ByteCodec
import Foundation
import Storage

/// A tenant record that does not decode, or an index entry naming a record that is not
/// there: corrupt replicated state, which stops apply and fails the read.
public struct CorruptTenantRecord: CorruptRecord, Equatable, Sendable {
    public let table: String
    public let key: String
    public let problem: String
    public var description: String { "corrupt replicated state in \(table) at \(key): \(problem)" }
}

/// The replicated admin plane's tenant state and the apply of `TenantCommand`s. Apply is
/// deterministic and total: a command that does not fit the current state (a duplicate
/// name, an organisation that is not there, one that still owns chains) changes nothing and
/// is skipped with the same reason on every replica. The admin API checks the same rules
/// before proposing, so a skip means two admins raced.
public final class TenantDirectory: Sendable {
    let orgs: Table, orgNames: Table, users: Table, userTokens: Table, members: Table
    let keys: Table, keyHashes: Table, chainOwners: Table
    /// Every admin action, hash-chained.
    public let audit: AuditLog
    /// Per-key data-access counts.
    public let usage: KeyUsage

    static let ownTables = ["tenant_orgs", "tenant_org_names", "tenant_users", "tenant_user_tokens", "tenant_members",
                            "tenant_keys", "tenant_key_hashes", "tenant_chain_owners"]
    public static let tableNames = ownTables + [AuditLog.tableName, AuditLog.anchorTableName] + KeyUsage.tableNames
    /// The most rows or entries one retention command deletes, so an apply stays short.
    public static let maxCompaction: UInt32 = 10_000

    public init(env: Environment) throws {
        let t = try Self.ownTables.map { try env.table($0) }
        audit = try AuditLog(env: env)
        usage = try KeyUsage(env: env)
        (orgs, orgNames, users, userTokens, members) = (t[0], t[1], t[2], t[3], t[4])
        (keys, keyHashes, chainOwners) = (t[5], t[6], t[7])
    }

    public struct Outcome: Equatable, Sendable {
        public var skipped: String?
        public init(skipped: String? = nil) { self.skipped = skipped }
    }

    /// Why `name` cannot name an organisation, a user or a key, or nil.
    public static func nameProblem(_ name: String) -> String? {
        let n = name.unicodeScalars.count
        guard (1...100).contains(n) else { return "must be 1 to 100 characters" }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return "may not hold control characters" }
        guard name.trimmingCharacters(in: .whitespaces) == name else { return "may not start or end with spaces" }
        return nil
    }

    public func apply(_ command: TenantCommand, in txn: WriteTransaction) throws -> Outcome {
        func skip(_ why: String) -> Outcome { Outcome(skipped: why) }
        switch command {
        case .createOrganisation(let o):
            guard o.id != 0 else { return skip("organisation id 0 is no organisation") }
            if let why = Self.nameProblem(o.name) { return skip("organisation name \(why)") }
            guard try organisation(o.id, txn) == nil else { return skip("organisation \(o.id) exists") }
            guard try txn.get(orgNames, Self.nameKey(o.name)) == nil else { return skip("an organisation is named \(o.name) already") }
            try put(o, txn)
            try txn.put(orgNames, Self.nameKey(o.name), Key(o.id))
        case .setOrganisationConfig(let id, let config):
            guard var o = try organisation(id, txn) else { return skip("no organisation \(id)") }
            o.config = config
            try put(o, txn)
        case .deleteOrganisation(let id):
            guard let o = try organisation(id, txn) else { return skip("no organisation \(id)") }
            let owned = try chains(of: id, txn)
            guard owned.isEmpty else { return skip("organisation \(o.name) still owns chains \(owned.map(String.init).joined(separator: ", ")): remove or reassign them first") }
            for (user, _) in try self.members(of: id, txn) { _ = try txn.delete(members, Key(id).appending(user)) }
            for k in try self.keys(of: id, txn) { try deleteKey(k, txn) }
            guard try txn.delete(orgNames, Self.nameKey(o.name)), try txn.delete(orgs, Key(id)) else {
                throw CorruptTenantRecord(table: "tenant_org_names", key: o.name, problem: "organisation \(id) has no name entry")
            }
        case .createUser(let u):
            guard u.id != 0 else { return skip("user id 0 is no user") }
            if let why = Self.nameProblem(u.name) { return skip("user name \(why)") }
            guard u.tokenHash.count == TenantCodec.hashBytes else { return skip("a token hash must be \(TenantCodec.hashBytes) bytes") }
            guard try user(u.id, txn) == nil else { return skip("user \(u.id) exists") }
            guard try txn.get(userTokens, u.tokenHash) == nil else { return skip("that token belongs to another user") }
            try put(u, txn)
            try txn.put(userTokens, u.tokenHash, Key(u.id))
        case .removeUser(let id):
            guard let u = try user(id, txn) else { return skip("no user \(id)") }
            for (org, _) in try memberships(of: id, txn) { _ = try txn.delete(members, Key(org).appending(id)) }
            guard try txn.delete(userTokens, u.tokenHash), try txn.delete(users, Key(id)) else {
                throw CorruptTenantRecord(table: "tenant_user_tokens", key: "\(id)", problem: "user \(id) has no token entry")
            }
        case .setUserToken(let id, let hash):
            guard hash.count == TenantCodec.hashBytes else { return skip("a token hash must be \(TenantCodec.hashBytes) bytes") }
            guard var u = try user(id, txn) else { return skip("no user \(id)") }
            guard try txn.get(userTokens, hash) == nil else { return skip("that token belongs to a user already") }
            guard try txn.delete(userTokens, u.tokenHash) else {
                throw CorruptTenantRecord(table: "tenant_user_tokens", key: "\(id)", problem: "user \(id) has no token entry")
            }
            u.tokenHash = hash
            try put(u, txn)
            try txn.put(userTokens, hash, Key(id))
        case .setMember(let org, let user, let role):
            guard try organisation(org, txn) != nil else { return skip("no organisation \(org)") }
            guard try self.user(user, txn) != nil else { return skip("no user \(user)") }
            try txn.put(members, Key(org).appending(user), [role.rawValue])
        case .removeMember(let org, let user):
            guard try txn.delete(members, Key(org).appending(user)) else { return skip("user \(user) is not a member of organisation \(org)") }
        case .createKey(let k):
            guard k.id != 0 else { return skip("key id 0 is no key") }
            if let why = Self.nameProblem(k.name) { return skip("key name \(why)") }
            guard k.secretHash.count == TenantCodec.hashBytes, k.previousHash == nil, k.revokedMillis == nil else {
                return skip("a new key has one \(TenantCodec.hashBytes)-byte secret hash and is not revoked")
            }
            guard try organisation(k.org, txn) != nil else { return skip("no organisation \(k.org)") }
            guard try key(k.id, txn) == nil else { return skip("key \(k.id) exists") }
            guard try txn.get(keyHashes, k.secretHash) == nil else { return skip("that secret belongs to another key") }
            guard try !self.keys(of: k.org, txn).contains(where: { $0.name == k.name && $0.revokedMillis == nil }) else {
                return skip("organisation \(k.org) has a key named \(k.name) already")
            }
            try put(k, txn)
            try txn.put(keyHashes, k.secretHash, Key(k.id))
        case .rotateKey(let id, let newHash, let until):
            guard newHash.count == TenantCodec.hashBytes else { return skip("a secret hash must be \(TenantCodec.hashBytes) bytes") }
            guard var k = try key(id, txn) else { return skip("no key \(id)") }
            guard k.revokedMillis == nil else { return skip("key \(id) is revoked") }
            guard try txn.get(keyHashes, newHash) == nil else { return skip("that secret belongs to a key already") }
            if let old = k.previousHash { _ = try txn.delete(keyHashes, old) }
            k.previousHash = k.secretHash
            k.previousValidUntilMillis = until
            k.secretHash = newHash
            try put(k, txn)
            try txn.put(keyHashes, newHash, Key(id))
        case .revokeKey(let id, let at):
            guard var k = try key(id, txn) else { return skip("no key \(id)") }
            guard k.revokedMillis == nil else { return skip("key \(id) is revoked already") }
            try unmapHashes(k, txn)
            k.revokedMillis = max(at, 1)
            k.previousHash = nil
            k.previousValidUntilMillis = 0
            try put(k, txn)
        case .audit(let entry):
            _ = try audit.append(entry, txn)
        case .usage(let batches):
            var stale = 0
            for b in batches where try !usage.apply(b, txn) { stale += 1 }
            if stale == batches.count, stale > 0 { return skip("every usage batch was applied before") }
        case .compactAudit(let before, let limit):
            guard limit <= Self.maxCompaction else { return skip("a retention step deletes at most \(Self.maxCompaction) entries") }
            _ = try audit.compact(before: before, limit: Int(limit), txn)
        case .compactUsage(let before, let limit):
            guard limit <= Self.maxCompaction else { return skip("a retention step deletes at most \(Self.maxCompaction) rows") }
            _ = try usage.compact(before: before, limit: Int(limit), txn)
        case .assignChain(let chain, let org):
            guard chain != 0 else { return skip("chain id 0 is no chain") }
            if org == 0 {
                guard try txn.delete(chainOwners, Key(chain)) else { return skip("chain \(chain) belongs to no organisation") }
            } else {
                guard try organisation(org, txn) != nil else { return skip("no organisation \(org)") }
                try txn.put(chainOwners, Key(chain), Key(org))
            }
        }
        return Outcome()
    }

    // MARK: reads

    public func organisation(_ id: UInt64, _ txn: ReadTransaction) throws -> Organisation? {
        try decoded(orgs, Key(id), txn) { r throws(DecodeError) in try TenantCodec.readOrganisation(&r) }
    }

    public func organisations(_ txn: ReadTransaction) throws -> [Organisation] {
        try txn.entries(in: orgs).map { e in try decode(orgs, e) { r throws(DecodeError) in try TenantCodec.readOrganisation(&r) } }
    }

    public func organisation(named name: String, _ txn: ReadTransaction) throws -> Organisation? {
        guard Self.nameProblem(name) == nil, let raw = try txn.get(orgNames, Self.nameKey(name)) else { return nil }
        let id = try Self.id(raw, "tenant_org_names", name)
        guard let o = try organisation(id, txn) else { throw CorruptTenantRecord(table: "tenant_org_names", key: name, problem: "names missing organisation \(id)") }
        return o
    }

    public func user(_ id: UInt64, _ txn: ReadTransaction) throws -> User? {
        try decoded(users, Key(id), txn) { r throws(DecodeError) in try TenantCodec.readUser(&r) }
    }

    public func users(_ txn: ReadTransaction) throws -> [User] {
        try txn.entries(in: users).map { e in try decode(users, e) { r throws(DecodeError) in try TenantCodec.readUser(&r) } }
    }

    /// The user a personal token (by its SHA-256) belongs to.
    public func user(tokenHash: [UInt8], _ txn: ReadTransaction) throws -> User? {
        guard let raw = try txn.get(userTokens, tokenHash) else { return nil }
        let id = try Self.id(raw, "tenant_user_tokens", "token")
        guard let u = try user(id, txn), u.tokenHash == tokenHash else {
            throw CorruptTenantRecord(table: "tenant_user_tokens", key: "token", problem: "names user \(id), who is missing or holds another token")
        }
        return u
    }

    public func role(of user: UInt64, in org: UInt64, _ txn: ReadTransaction) throws -> Role? {
        guard let raw = try txn.get(members, Key(org).appending(user)) else { return nil }
        return try Self.role(raw, org, user)
    }

    /// Members of an organisation, by user id.
    public func members(of org: UInt64, _ txn: ReadTransaction) throws -> [(user: UInt64, role: Role)] {
        try txn.entries(in: members, prefix: Key(org)).map { e in
            let user = try Self.suffixId(e.key, "tenant_members")
            return (user, try Self.role(e.value, org, user))
        }
    }

    /// Members of an organisation with their user records.
    public func memberUsers(of org: UInt64, _ txn: ReadTransaction) throws -> [(user: User, role: Role)] {
        try members(of: org, txn).map { m in
            guard let u = try user(m.user, txn) else {
                throw CorruptTenantRecord(table: "tenant_members", key: "\(org)/\(m.user)", problem: "names a user who is not there")
            }
            return (u, m.role)
        }
    }

    /// The organisations a user belongs to, by organisation id (a scan: admin-sized tables).
    public func memberships(of user: UInt64, _ txn: ReadTransaction) throws -> [(org: UInt64, role: Role)] {
        try txn.entries(in: members).compactMap { e in
            guard e.key.count == 16 else { throw CorruptTenantRecord(table: "tenant_members", key: "\(e.key.count) bytes", problem: "a key of the wrong length") }
            guard try Self.suffixId(e.key, "tenant_members") == user else { return nil }
            let org = Self.u64(e.key.prefix(8))
            return (org, try Self.role(e.value, org, user))
        }
    }

    public func key(_ id: UInt64, _ txn: ReadTransaction) throws -> APIKeyRecord? {
        try decoded(keys, Key(id), txn) { r throws(DecodeError) in try TenantCodec.readKey(&r) }
    }

    /// The key a presented secret (by its SHA-256) opens at `nowMillis`: its current secret,
    /// or the previous one within its grace period; nil for revoked or unknown secrets.
    public func key(secretHash: [UInt8], nowMillis: UInt64, _ txn: ReadTransaction) throws -> APIKeyRecord? {
        try key(secretHash: secretHash, txn).flatMap { $0.admits(hash: secretHash, nowMillis: nowMillis) ? $0 : nil }
    }

    /// The key a secret's hash is mapped to, whether or not it opens the key now (a rotated
    /// secret past its grace period stays mapped until the next rotation).
    public func key(secretHash: [UInt8], _ txn: ReadTransaction) throws -> APIKeyRecord? {
        guard let raw = try txn.get(keyHashes, secretHash) else { return nil }
        let id = try Self.id(raw, "tenant_key_hashes", "secret")
        guard let k = try key(id, txn), k.secretHash == secretHash || k.previousHash == secretHash else {
            throw CorruptTenantRecord(table: "tenant_key_hashes", key: "secret", problem: "names key \(id), which is missing or holds other secrets")
        }
        return k
    }

    /// An organisation's keys, revoked ones included (a scan: admin-sized tables).
    public func keys(of org: UInt64, _ txn: ReadTransaction) throws -> [APIKeyRecord] {
        try txn.entries(in: keys).map { e in try decode(keys, e) { r throws(DecodeError) in try TenantCodec.readKey(&r) } }.filter { $0.org == org }
    }

    public func owner(ofChain chain: UInt64, _ txn: ReadTransaction) throws -> UInt64? {
        guard let raw = try txn.get(chainOwners, Key(chain)) else { return nil }
        return try Self.id(raw, "tenant_chain_owners", "\(chain)")
    }

    /// Every owned chain and its organisation.
    public func chainOwners(_ txn: ReadTransaction) throws -> [UInt64: UInt64] {
        var out = [UInt64: UInt64]()
        for e in try txn.entries(in: chainOwners) {
            guard e.key.count == 8 else { throw CorruptTenantRecord(table: "tenant_chain_owners", key: TenantCodec.hex(e.key), problem: "a key of the wrong length") }
            out[Self.u64(e.key[...])] = try Self.id(e.value, "tenant_chain_owners", TenantCodec.hex(e.key))
        }
        return out
    }

    public func chains(of org: UInt64, _ txn: ReadTransaction) throws -> [UInt64] {
        try txn.entries(in: chainOwners).compactMap { e in
            try Self.id(e.value, "tenant_chain_owners", "chain") == org ? Self.u64(e.key[...]) : nil
        }
    }

    // MARK: storage

    private func put(_ o: Organisation, _ txn: WriteTransaction) throws { try txn.put(orgs, Key(o.id), Self.record { TenantCodec.write(o, &$0) }) }
    private func put(_ u: User, _ txn: WriteTransaction) throws { try txn.put(users, Key(u.id), Self.record { TenantCodec.write(u, &$0) }) }
    private func put(_ k: APIKeyRecord, _ txn: WriteTransaction) throws { try txn.put(keys, Key(k.id), Self.record { TenantCodec.write(k, &$0) }) }

    /// Only entries naming this key: a revoked key's secrets are free to be reused, and
    /// deleting its record later must not take the new owner's entry with it.
    private func unmapHashes(_ k: APIKeyRecord, _ txn: WriteTransaction) throws {
        for h in [k.secretHash] + (k.previousHash.map { [$0] } ?? []) where try txn.get(keyHashes, h) == Key(k.id).bytes {
            _ = try txn.delete(keyHashes, h)
        }
    }

    private func deleteKey(_ k: APIKeyRecord, _ txn: WriteTransaction) throws {
        try unmapHashes(k, txn)
        try usage.forget(key: k.id, txn)
        _ = try txn.delete(keys, Key(k.id))
    }

    static func record(_ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter()
        w.u8(TenantCodec.version)
        body(&w)
        return w.bytes
    }

    /// Names compare without case, so "Acme" and "acme" cannot both exist.
    static func nameKey(_ name: String) -> [UInt8] { Array(name.lowercased().utf8) }

    private func decoded<T>(_ table: Table, _ key: Key, _ txn: ReadTransaction, _ read: (inout ByteReader) throws(DecodeError) -> T) throws -> T? {
        guard let raw = try txn.get(table, key) else { return nil }
        return try decode(table, Entry(key: key.bytes, value: raw), read)
    }

    private func decode<T>(_ table: Table, _ e: Entry, _ read: (inout ByteReader) throws(DecodeError) -> T) throws -> T {
        var r = ByteReader(e.value, what: table.name)
        do {
            guard try r.u8() == TenantCodec.version else { throw DecodeError("unknown record version") }
            let v = try read(&r)
            try r.expectEnd()
            return v
        } catch {
            throw CorruptTenantRecord(table: table.name, key: TenantCodec.hex(e.key), problem: "\(error)")
        }
    }

    static func u64(_ b: ArraySlice<UInt8>) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }

    static func id(_ raw: [UInt8], _ table: String, _ key: String) throws -> UInt64 {
        guard raw.count == 8 else { throw CorruptTenantRecord(table: table, key: key, problem: "an id of \(raw.count) bytes") }
        return u64(raw[...])
    }

    static func suffixId(_ key: [UInt8], _ table: String) throws -> UInt64 {
        guard key.count == 16 else { throw CorruptTenantRecord(table: table, key: "\(key.count) bytes", problem: "a key of the wrong length") }
        return u64(key[8...])
    }

    static func role(_ raw: [UInt8], _ org: UInt64, _ user: UInt64) throws -> Role {
        guard raw.count == 1, let r = Role(rawValue: raw[0]) else {
            throw CorruptTenantRecord(table: "tenant_members", key: "\(org)/\(user)", problem: "not a role: \(raw)")
        }
        return r
    }
}
