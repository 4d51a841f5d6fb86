import ByteCodec

/// Changes to organisations, users, memberships, API keys and chain ownership, replicated
/// through the log (tag 0xC3, then a version). Times come from the proposing node, so every
/// replica stores the same ones.
public enum TenantCommand: Equatable, Sendable {
    case createOrganisation(Organisation)
    case setOrganisationConfig(org: UInt64, config: [UInt8])
    /// Refused while the organisation owns chains; its memberships and keys go with it.
    case deleteOrganisation(org: UInt64)
    case createUser(User)
    /// Removes the user everywhere: memberships, and the token stops working.
    case removeUser(user: UInt64)
    /// Adds the user to the organisation or changes their role.
    case setMember(org: UInt64, user: UInt64, role: Role)
    case removeMember(org: UInt64, user: UInt64)
    case createKey(APIKeyRecord)
    /// A new secret; the current one stays valid until `previousValidUntilMillis`.
    case rotateKey(key: UInt64, newHash: [UInt8], previousValidUntilMillis: UInt64)
    case revokeKey(key: UInt64, atMillis: UInt64)
    /// Gives a chain to an organisation; org 0 takes it back to the cluster.
    case assignChain(chainId: UInt64, org: UInt64)
    /// Appends an admin action to the hash-chained audit log.
    case audit(AuditEntry)
    /// A new personal token for the user; the old one stops working when this applies.
    case setUserToken(user: UInt64, tokenHash: [UInt8])
    /// Nodes' per-key data-access counts; a batch already applied (by node and seq) is skipped.
    case usage([UsageBatch])
    /// Retention: the oldest audit entries recorded before this time, at most `limit`.
    case compactAudit(beforeMillis: UInt64, limit: UInt32)
    /// Retention: usage rows of minutes before this one, at most `limit`.
    case compactUsage(beforeMinute: UInt64, limit: UInt32)

    public static let tag: UInt8 = 0xC3
    static let version: UInt8 = 1

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.tag); w.u8(Self.version)
        switch self {
        case .createOrganisation(let o): w.u8(1); TenantCodec.write(o, &w)
        case .setOrganisationConfig(let org, let config): w.u8(2); w.u64(org); w.data(config)
        case .deleteOrganisation(let org): w.u8(3); w.u64(org)
        case .createUser(let u): w.u8(4); TenantCodec.write(u, &w)
        case .removeUser(let user): w.u8(5); w.u64(user)
        case .setMember(let org, let user, let role): w.u8(6); w.u64(org); w.u64(user); w.u8(role.rawValue)
        case .removeMember(let org, let user): w.u8(7); w.u64(org); w.u64(user)
        case .createKey(let k): w.u8(8); TenantCodec.write(k, &w)
        case .rotateKey(let key, let hash, let until): w.u8(9); w.u64(key); w.data(hash); w.u64(until)
        case .revokeKey(let key, let at): w.u8(10); w.u64(key); w.u64(at)
        case .assignChain(let chain, let org): w.u8(11); w.u64(chain); w.u64(org)
        case .audit(let e): w.u8(12); e.write(&w)
        case .setUserToken(let user, let hash): w.u8(13); w.u64(user); w.data(hash)
        case .usage(let batches): w.u8(14); w.u32(UInt32(batches.count)); for b in batches { b.write(&w) }
        case .compactAudit(let before, let limit): w.u8(15); w.u64(before); w.u32(limit)
        case .compactUsage(let before, let limit): w.u8(16); w.u64(before); w.u32(limit)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> TenantCommand {
        var r = ByteReader(bytes, what: "tenant command")
        guard try r.u8() == tag else { throw DecodeError("tenant command: wrong tag") }
        let v = try r.u8()
        guard v == version else { throw DecodeError("tenant command: unsupported version \(v) (this node reads \(version))") }
        let c: TenantCommand
        switch try r.u8() {
        case 1: c = .createOrganisation(try TenantCodec.readOrganisation(&r))
        case 2: c = .setOrganisationConfig(org: try r.u64(), config: try r.data(max: 64 << 10))
        case 3: c = .deleteOrganisation(org: try r.u64())
        case 4: c = .createUser(try TenantCodec.readUser(&r))
        case 5: c = .removeUser(user: try r.u64())
        case 6:
            let org = try r.u64(), user = try r.u64(), raw = try r.u8()
            guard let role = Role(rawValue: raw) else { throw DecodeError("tenant command: unknown role \(raw)") }
            c = .setMember(org: org, user: user, role: role)
        case 7: c = .removeMember(org: try r.u64(), user: try r.u64())
        case 8: c = .createKey(try TenantCodec.readKey(&r))
        case 9: c = .rotateKey(key: try r.u64(), newHash: try TenantCodec.readHash(&r), previousValidUntilMillis: try r.u64())
        case 10: c = .revokeKey(key: try r.u64(), atMillis: try r.u64())
        case 11: c = .assignChain(chainId: try r.u64(), org: try r.u64())
        case 12: c = .audit(try AuditEntry.read(&r))
        case 13: c = .setUserToken(user: try r.u64(), tokenHash: try TenantCodec.readHash(&r))
        case 14:
            let n = try r.u32()
            guard n <= 64 else { throw DecodeError("tenant command: \(n) usage batches (at most 64)") }
            c = .usage(try (0..<n).map { _ throws(DecodeError) in try UsageBatch.read(&r) })
        case 15: c = .compactAudit(beforeMillis: try r.u64(), limit: try r.u32())
        case 16: c = .compactUsage(beforeMinute: try r.u64(), limit: try r.u32())
        case let k: throw DecodeError("tenant command: unknown kind \(k)")
        }
        try r.expectEnd()
        return c
    }
}
