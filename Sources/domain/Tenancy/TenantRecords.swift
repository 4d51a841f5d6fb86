import ByteCodec
import Foundation

/// What a member may do in an organisation (the table in the README says which endpoint
/// each role may call). Cluster-admin is not a role in an organisation but a flag of the
/// user, above every organisation.
public enum Role: UInt8, Sendable, CaseIterable {
    case admin = 1, `operator` = 2, developer = 3
    public var name: String { switch self { case .admin: "admin"; case .operator: "operator"; case .developer: "developer" } }
    public init?(name: String) { guard let r = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = r }
}

/// One tenant. Ids are random 64-bit numbers drawn by the proposing node (never 0), so two
/// admins creating at once cannot collide by construction and ids do not reveal how many
/// tenants exist; apply refuses a duplicate all the same.
public struct Organisation: Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var createdMillis: UInt64
    /// The organisation's settings as the operator's JSON object (RPC settings), minified.
    public var config: [UInt8]
    public init(id: UInt64, name: String, createdMillis: UInt64, config: [UInt8] = Array("{}".utf8)) {
        self.id = id; self.name = name; self.createdMillis = createdMillis; self.config = config
    }
}

/// A person or automation that authenticates with a personal token; only the token's
/// SHA-256 is stored.
public struct User: Equatable, Sendable {
    public var id: UInt64
    public var name: String
    public var tokenHash: [UInt8]
    public var clusterAdmin: Bool
    public var createdMillis: UInt64
    public init(id: UInt64, name: String, tokenHash: [UInt8], clusterAdmin: Bool, createdMillis: UInt64) {
        self.id = id; self.name = name; self.tokenHash = tokenHash; self.clusterAdmin = clusterAdmin; self.createdMillis = createdMillis
    }
}

/// What an API key may call: the read APIs, or also forwarded `eth_sendRawTransaction`.
public enum KeyPermissions: UInt8, Sendable, CaseIterable {
    case read = 1, readWrite = 2
    public var name: String { self == .read ? "read" : "read+write" }
}

/// An organisation's API key. The secret is shown once at creation; only its SHA-256 is kept.
/// After a rotation the previous secret stays valid until `previousValidUntilMillis`.
public struct APIKeyRecord: Equatable, Sendable {
    public var id: UInt64
    public var org: UInt64
    public var name: String
    public var secretHash: [UInt8]
    public var previousHash: [UInt8]?
    public var previousValidUntilMillis: UInt64
    public var permissions: KeyPermissions
    /// Browser origins allowed to use the key (empty: any).
    public var origins: [String]
    /// Client networks allowed to use the key, as CIDRs (empty: any).
    public var cidrs: [String]
    /// Requests per minute across the cluster; 0 = the organisation's or the default.
    public var ratePerMinute: UInt32
    public var createdBy: UInt64
    public var createdMillis: UInt64
    public var revokedMillis: UInt64?

    public init(id: UInt64, org: UInt64, name: String, secretHash: [UInt8], permissions: KeyPermissions = .read,
                origins: [String] = [], cidrs: [String] = [], ratePerMinute: UInt32 = 0, createdBy: UInt64, createdMillis: UInt64) {
        self.id = id; self.org = org; self.name = name; self.secretHash = secretHash
        self.previousHash = nil; self.previousValidUntilMillis = 0
        self.permissions = permissions; self.origins = origins; self.cidrs = cidrs; self.ratePerMinute = ratePerMinute
        self.createdBy = createdBy; self.createdMillis = createdMillis; self.revokedMillis = nil
    }

    /// Whether a secret with this hash opens the key at `nowMillis` (the caller's clock).
    public func admits(hash: [UInt8], nowMillis: UInt64) -> Bool {
        guard revokedMillis == nil else { return false }
        if hash == secretHash { return true }
        return hash == previousHash && nowMillis < previousValidUntilMillis
    }
}

/// Record codecs: a version byte, then the fields. A record that does not decode is
/// corrupt replicated state, never "absent".
enum TenantCodec {
    static let version: UInt8 = 1
    static let hashBytes = 32

    /// A stored key as error messages name it.
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func write(_ o: Organisation, _ w: inout ByteWriter) {
        w.u64(o.id); w.string(o.name); w.u64(o.createdMillis); w.data(o.config)
    }
    static func readOrganisation(_ r: inout ByteReader) throws(DecodeError) -> Organisation {
        Organisation(id: try r.u64(), name: try r.string(), createdMillis: try r.u64(), config: try r.data(max: 64 << 10))
    }

    static func write(_ u: User, _ w: inout ByteWriter) {
        w.u64(u.id); w.string(u.name); w.data(u.tokenHash); w.bool(u.clusterAdmin); w.u64(u.createdMillis)
    }
    static func readUser(_ r: inout ByteReader) throws(DecodeError) -> User {
        let id = try r.u64(), name = try r.string(), hash = try readHash(&r)
        return User(id: id, name: name, tokenHash: hash, clusterAdmin: try r.bool(), createdMillis: try r.u64())
    }

    static func write(_ k: APIKeyRecord, _ w: inout ByteWriter) {
        w.u64(k.id); w.u64(k.org); w.string(k.name); w.data(k.secretHash)
        w.data(k.previousHash ?? []); w.u64(k.previousValidUntilMillis)
        w.u8(k.permissions.rawValue)
        w.u32(UInt32(k.origins.count)); for o in k.origins { w.string(o) }
        w.u32(UInt32(k.cidrs.count)); for c in k.cidrs { w.string(c) }
        w.u32(k.ratePerMinute); w.u64(k.createdBy); w.u64(k.createdMillis); w.u64(k.revokedMillis ?? 0)
    }
    static func readKey(_ r: inout ByteReader) throws(DecodeError) -> APIKeyRecord {
        let id = try r.u64(), org = try r.u64(), name = try r.string(), hash = try readHash(&r)
        let previous = try r.data(max: 2 * hashBytes)
        let until = try r.u64()
        let raw = try r.u8()
        guard let perms = KeyPermissions(rawValue: raw) else { throw DecodeError("api key: unknown permissions \(raw)") }
        let origins = try strings(&r, "origins"), cidrs = try strings(&r, "cidrs")
        var k = APIKeyRecord(id: id, org: org, name: name, secretHash: hash, permissions: perms, origins: origins, cidrs: cidrs,
                             ratePerMinute: try r.u32(), createdBy: try r.u64(), createdMillis: try r.u64())
        k.previousHash = previous.isEmpty ? nil : previous
        k.previousValidUntilMillis = until
        let revoked = try r.u64()
        k.revokedMillis = revoked == 0 ? nil : revoked
        return k
    }

    /// Lenient on length: a command carrying a hash of the wrong size must decode, so apply
    /// can skip it on every replica instead of stopping them all; apply never stores one.
    static func readHash(_ r: inout ByteReader) throws(DecodeError) -> [UInt8] {
        try r.data(max: 2 * hashBytes)
    }

    static func strings(_ r: inout ByteReader, _ what: String) throws(DecodeError) -> [String] {
        let n = try r.u32()
        guard n <= 256 else { throw DecodeError("api key: \(n) \(what) (at most 256)") }
        return try (0..<n).map { _ throws(DecodeError) in try r.string() }
    }
}
