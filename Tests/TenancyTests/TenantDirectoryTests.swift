import ByteCodec
import Foundation
import Storage
import Testing
import TestSupport
@testable import Tenancy

/// The tenant directory against a model: random commands over a few organisations, users,
/// keys, secrets and chains. After every command a skip happens exactly where the model
/// says, and every read (records, name, token and secret lookups at several times, members
/// both ways, chain ownership) equals the model's answer; a skipped command changes nothing.
@Suite struct TenantDirectoryTests {
    struct Model {
        var orgs: [UInt64: Organisation] = [:]
        var users: [UInt64: User] = [:]
        var members: [UInt64: [UInt64: Role]] = [:]
        var keys: [UInt64: APIKeyRecord] = [:]
        var owners: [UInt64: UInt64] = [:]
        struct UsageKey: Hashable { var key: UInt64; var minute: UInt64; var method: String }
        var usage: [UsageKey: (calls: UInt64, errors: UInt64)] = [:]
        var lastUsed: [UInt64: UInt64] = [:]
        var appliedSeq: [UInt64: UInt64] = [:]
        /// (seq, time) of the audit entries retention has kept, and the last one it deleted.
        var audit: [(seq: UInt64, at: UInt64)] = []
        var nextAuditSeq: UInt64 = 1
        var compactedThrough: UInt64 = 0

        func usageOrder(_ a: UsageKey, _ b: UsageKey) -> Bool {
            (a.minute, a.key) != (b.minute, b.key) ? (a.minute, a.key) < (b.minute, b.key) : Array(a.method.utf8).lexicographicallyPrecedes(Array(b.method.utf8))
        }

        func hashInUse(_ h: [UInt8]) -> Bool {
            keys.values.contains { $0.revokedMillis == nil && ($0.secretHash == h || $0.previousHash == h) }
        }

        /// Whether the command is skipped; applies it when not.
        mutating func apply(_ c: TenantCommand) -> Bool {
            switch c {
            case .createOrganisation(let o):
                guard o.id != 0, TenantDirectory.nameProblem(o.name) == nil, orgs[o.id] == nil,
                      !orgs.values.contains(where: { $0.name.lowercased() == o.name.lowercased() }) else { return true }
                orgs[o.id] = o
            case .setOrganisationConfig(let id, let config):
                guard orgs[id] != nil else { return true }
                orgs[id]!.config = config
            case .deleteOrganisation(let id):
                guard orgs[id] != nil, !owners.values.contains(id) else { return true }
                orgs[id] = nil
                members[id] = nil
                for k in keys.values where k.org == id {
                    usage = usage.filter { $0.key.key != k.id }
                    lastUsed[k.id] = nil
                }
                keys = keys.filter { $0.value.org != id }
            case .createUser(let u):
                guard u.id != 0, TenantDirectory.nameProblem(u.name) == nil, u.tokenHash.count == 32, users[u.id] == nil,
                      !users.values.contains(where: { $0.tokenHash == u.tokenHash }) else { return true }
                users[u.id] = u
            case .removeUser(let id):
                guard users[id] != nil else { return true }
                users[id] = nil
                for org in members.keys { members[org]![id] = nil }
            case .setUserToken(let id, let hash):
                guard hash.count == 32, users[id] != nil, !users.values.contains(where: { $0.tokenHash == hash }) else { return true }
                users[id]!.tokenHash = hash
            case .setMember(let org, let user, let role):
                guard orgs[org] != nil, users[user] != nil else { return true }
                members[org, default: [:]][user] = role
            case .removeMember(let org, let user):
                guard members[org]?[user] != nil else { return true }
                members[org]![user] = nil
            case .createKey(let k):
                guard k.id != 0, TenantDirectory.nameProblem(k.name) == nil, k.secretHash.count == 32, k.previousHash == nil,
                      k.revokedMillis == nil, orgs[k.org] != nil, keys[k.id] == nil, !hashInUse(k.secretHash),
                      !keys.values.contains(where: { $0.org == k.org && $0.name == k.name && $0.revokedMillis == nil }) else { return true }
                keys[k.id] = k
            case .rotateKey(let id, let hash, let until):
                guard hash.count == 32, var k = keys[id], k.revokedMillis == nil, !hashInUse(hash) else { return true }
                k.previousHash = k.secretHash
                k.previousValidUntilMillis = until
                k.secretHash = hash
                keys[id] = k
            case .revokeKey(let id, let at):
                guard var k = keys[id], k.revokedMillis == nil else { return true }
                k.revokedMillis = max(at, 1)
                k.previousHash = nil
                k.previousValidUntilMillis = 0
                keys[id] = k
            case .audit(let e):
                audit.append((nextAuditSeq, e.atMillis))
                nextAuditSeq += 1
            case .usage(let batches):
                var stale = 0
                for b in batches {
                    guard b.seq > appliedSeq[b.node] ?? 0 else { stale += 1; continue }
                    for r in b.rows {
                        let k = UsageKey(key: r.key, minute: r.minute, method: r.method)
                        let before = usage[k] ?? (0, 0)
                        usage[k] = (before.calls &+ r.calls, before.errors &+ r.errors)
                    }
                    for (k, t) in b.lastUsed where t > lastUsed[k] ?? 0 { lastUsed[k] = t }
                    appliedSeq[b.node] = b.seq
                }
                return stale == batches.count && stale > 0
            case .compactAudit(let before, let limit):
                guard limit <= TenantDirectory.maxCompaction else { return true }
                var n = 0
                while n < Int(limit), let first = audit.first, first.at < before {
                    compactedThrough = first.seq
                    audit.removeFirst()
                    n += 1
                }
            case .compactUsage(let before, let limit):
                guard limit <= TenantDirectory.maxCompaction else { return true }
                for k in usage.keys.filter({ $0.minute < before }).sorted(by: usageOrder).prefix(Int(limit)) { usage[k] = nil }
            case .assignChain(let chain, let org):
                guard chain != 0 else { return true }
                if org == 0 {
                    guard owners[chain] != nil else { return true }
                    owners[chain] = nil
                } else {
                    guard orgs[org] != nil else { return true }
                    owners[chain] = org
                }
            }
            return false
        }
    }

    static let hashes: [[UInt8]] = (1...7).map { i in (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) } } + [[1, 2, 3]]
    static let names = ["acme", "Acme", "globex", "initech", "", " padded", "a\u{7}bell", "umbrella"]

    static func randomCommand(_ rng: inout SeededRandom) -> TenantCommand {
        func id(_ n: UInt64) -> UInt64 { Int.random(in: 0..<12, using: &rng) == 0 ? 0 : UInt64.random(in: 1...n, using: &rng) }
        func name() -> String { names.randomElement(using: &rng)! }
        func hash() -> [UInt8] { hashes.randomElement(using: &rng)! }
        let now = UInt64.random(in: 1...1_000, using: &rng)
        switch Int.random(in: 0..<26, using: &rng) {
        case 0, 1, 2: return .createOrganisation(Organisation(id: id(4), name: name(), createdMillis: now))
        case 3: return .setOrganisationConfig(org: id(4), config: Array("{\"n\":\(now)}".utf8))
        case 4: return .deleteOrganisation(org: id(4))
        case 5, 6: return .createUser(User(id: id(4), name: name(), tokenHash: hash(), clusterAdmin: Bool.random(using: &rng), createdMillis: now))
        case 7: return .removeUser(user: id(4))
        case 8, 9: return .setMember(org: id(4), user: id(4), role: Role.allCases.randomElement(using: &rng)!)
        case 10: return .removeMember(org: id(4), user: id(4))
        case 11, 12, 13:
            return .createKey(APIKeyRecord(id: id(6), org: id(4), name: name(), secretHash: hash(),
                                           permissions: KeyPermissions.allCases.randomElement(using: &rng)!,
                                           origins: Bool.random(using: &rng) ? ["https://app.example"] : [], cidrs: Bool.random(using: &rng) ? ["10.0.0.0/8"] : [],
                                           ratePerMinute: UInt32.random(in: 0...2000, using: &rng), createdBy: id(4), createdMillis: now))
        case 14, 15: return .rotateKey(key: id(6), newHash: hash(), previousValidUntilMillis: now + 500)
        case 16: return .revokeKey(key: id(6), atMillis: now)
        case 17: return .setUserToken(user: id(4), tokenHash: hash())
        case 18, 19:
            let rows = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                UsageRow(key: UInt64.random(in: 1...6, using: &rng), minute: UInt64.random(in: 1...10, using: &rng),
                         method: ["eth_call", "eth_chainId", "graphql", "Z"].randomElement(using: &rng)!,
                         calls: UInt64.random(in: 0...9, using: &rng), errors: UInt64.random(in: 0...2, using: &rng))
            }
            let batches = (0..<Int.random(in: 0...2, using: &rng)).map { _ in
                UsageBatch(node: UInt64.random(in: 1...3, using: &rng), seq: UInt64.random(in: 1...6, using: &rng), rows: rows,
                           lastUsed: Dictionary(rows.map { ($0.key, now) }, uniquingKeysWith: max))
            }
            return .usage(batches)
        case 20, 21: return .audit(AuditEntry(atMillis: now, actor: "a", role: "admin", org: id(4), action: "POST /x", outcome: 200, source: "s", requestId: "r"))
        case 22: return .compactAudit(beforeMillis: UInt64.random(in: 0...1_000, using: &rng), limit: [1, 3, 50, 20_000].randomElement(using: &rng)!)
        case 23: return .compactUsage(beforeMinute: UInt64.random(in: 0...11, using: &rng), limit: [1, 3, 50, 20_000].randomElement(using: &rng)!)
        default: return .assignChain(chainId: id(3), org: id(4))
        }
    }

    /// Every read of the directory, compared with the model.
    static func compare(_ d: TenantDirectory, _ m: Model, _ txn: ReadTransaction, _ where_: String) throws {
        #expect(try d.organisations(txn) == m.orgs.values.sorted { $0.id < $1.id }, "\(where_): organisations")
        for name in names {
            let want = m.orgs.values.first { $0.name.lowercased() == name.lowercased() }
            #expect(try d.organisation(named: name, txn) == want, "\(where_): organisation named \(name)")
        }
        #expect(try d.users(txn) == m.users.values.sorted { $0.id < $1.id }, "\(where_): users")
        for h in hashes where h.count == 32 {
            #expect(try d.user(tokenHash: h, txn) == m.users.values.first { $0.tokenHash == h }, "\(where_): user by token")
            for now: UInt64 in [0, 700, 1_200, 2_000] {
                let want = m.keys.values.first { $0.admits(hash: h, nowMillis: now) }
                #expect(try d.key(secretHash: h, nowMillis: now, txn) == want, "\(where_): key by secret at \(now)")
            }
        }
        for org: UInt64 in 0...4 {
            let got = try d.members(of: org, txn).map { "\($0.user):\($0.role)" }
            let want = (m.members[org] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            #expect(got == want, "\(where_): members of \(org)")
            #expect(try d.keys(of: org, txn) == m.keys.values.filter { $0.org == org }.sorted { $0.id < $1.id }, "\(where_): keys of \(org)")
            #expect(try d.chains(of: org, txn) == m.owners.filter { $0.value == org }.keys.sorted(), "\(where_): chains of \(org)")
        }
        for user: UInt64 in 0...4 {
            let got = try d.memberships(of: user, txn).map { "\($0.org):\($0.role)" }
            let want = m.members.keys.sorted().compactMap { org in m.members[org]![user].map { "\(org):\($0)" } }
            #expect(got == want, "\(where_): memberships of \(user)")
        }
        for chain: UInt64 in 0...3 { #expect(try d.owner(ofChain: chain, txn) == m.owners[chain], "\(where_): owner of chain \(chain)") }
        for key: UInt64 in 0...6 {
            #expect(try d.key(key, txn) == m.keys[key], "\(where_): key \(key)")
            let got = try d.usage.rows(of: key, since: 0, until: .max, limit: .max, txn).map { "\($0.minute)/\($0.method)=\($0.calls),\($0.errors)" }
            let want = m.usage.keys.filter { $0.key == key }.sorted(by: m.usageOrder).map { k in "\(k.minute)/\(k.method)=\(m.usage[k]!.calls),\(m.usage[k]!.errors)" }
            #expect(got == want, "\(where_): usage of key \(key)")
            #expect(try d.usage.lastUsed(key, txn) == m.lastUsed[key], "\(where_): last use of key \(key)")
        }
        for node: UInt64 in 1...3 { #expect(try d.usage.appliedSeq(node, txn) == m.appliedSeq[node] ?? 0, "\(where_): usage batches of node \(node)") }
        let v = try d.audit.verify(txn)
        #expect(v.firstBroken == nil && v.entries == UInt64(m.audit.count) && v.compactedThrough == m.compactedThrough, "\(where_): audit \(v)")
        #expect(try d.audit.last(txn)?.seq == m.audit.last?.seq, "\(where_): last audit entry")
    }

    @Test func agreesWithTheModel() throws {
        let seed = SeededRandom.seed("TenantDirectoryTests.agreesWithTheModel")
        var rng = SeededRandom(seed: seed)
        var applied = 0, skipped = 0
        for run in 0..<8 {
            let env = try Environment(path: NSTemporaryDirectory() + "tenants-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let d = try TenantDirectory(env: env)
            var model = Model()
            for step in 0..<300 {
                let c = Self.randomCommand(&rng)
                #expect(try TenantCommand.decode(c.encoded()) == c, "seed \(seed): \(c) survives its codec")
                let outcome = try env.write { (txn: WriteTransaction) throws in try d.apply(c, in: txn) }
                let modelSkips = model.apply(c)
                if modelSkips { skipped += 1 } else { applied += 1 }
                guard (outcome.skipped != nil) == modelSkips else {
                    Issue.record("seed \(seed), run \(run), step \(step): \(c) skipped by the directory: \(outcome.skipped ?? "no"), by the model: \(modelSkips)")
                    return
                }
                try env.read { (txn: ReadTransaction) throws in try Self.compare(d, model, txn, "seed \(seed), run \(run), step \(step) after \(c)") }
            }
        }
        #expect(applied > 400 && skipped > 400, "seed \(seed): the generator exercised both paths (\(applied) applied, \(skipped) skipped)")
    }

    @Test func rotationKeepsThePreviousSecretForItsGracePeriodOnly() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "tenants-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let d = try TenantDirectory(env: env)
        let (old, new, newer) = (Self.hashes[0], Self.hashes[1], Self.hashes[2])
        try env.write { (txn: WriteTransaction) throws in
            #expect(try d.apply(.createOrganisation(Organisation(id: 9, name: "acme", createdMillis: 1)), in: txn).skipped == nil)
            #expect(try d.apply(.createKey(APIKeyRecord(id: 5, org: 9, name: "ci", secretHash: old, createdBy: 1, createdMillis: 1)), in: txn).skipped == nil)
            #expect(try d.apply(.rotateKey(key: 5, newHash: new, previousValidUntilMillis: 1_000), in: txn).skipped == nil)
        }
        try env.read { (txn: ReadTransaction) throws in
            #expect(try d.key(secretHash: old, nowMillis: 999, txn)?.id == 5, "the old secret works within the grace period")
            #expect(try d.key(secretHash: old, nowMillis: 1_000, txn) == nil, "and not after it")
            #expect(try d.key(secretHash: new, nowMillis: 5_000, txn)?.id == 5)
        }
        try env.write { (txn: WriteTransaction) throws in
            #expect(try d.apply(.rotateKey(key: 5, newHash: newer, previousValidUntilMillis: 2_000), in: txn).skipped == nil)
            #expect(try d.apply(.rotateKey(key: 5, newHash: new, previousValidUntilMillis: 2_000), in: txn).skipped != nil,
                    "a secret in use (the previous one) cannot be rotated to")
        }
        try env.read { (txn: ReadTransaction) throws in
            #expect(try d.key(secretHash: old, nowMillis: 0, txn) == nil, "two rotations back, the first secret is gone")
            #expect(try d.key(secretHash: new, nowMillis: 1_999, txn)?.id == 5)
        }
        try env.write { (txn: WriteTransaction) throws in #expect(try d.apply(.revokeKey(key: 5, atMillis: 3_000), in: txn).skipped == nil) }
        try env.read { (txn: ReadTransaction) throws in
            #expect(try d.key(secretHash: newer, nowMillis: 0, txn) == nil && d.key(secretHash: new, nowMillis: 0, txn) == nil, "revoked: no secret opens it")
            #expect(try d.key(5, txn)?.revokedMillis == 3_000, "the record stays, for the audit trail")
        }
    }

    @Test func anOrganisationOwningChainsIsNotDeleted() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "tenants-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let d = try TenantDirectory(env: env)
        try env.write { (txn: WriteTransaction) throws in
            _ = try d.apply(.createOrganisation(Organisation(id: 3, name: "acme", createdMillis: 1)), in: txn)
            _ = try d.apply(.assignChain(chainId: 10, org: 3), in: txn)
            let refused = try d.apply(.deleteOrganisation(org: 3), in: txn)
            #expect(refused.skipped?.contains("still owns chains 10") == true, "\(refused)")
            _ = try d.apply(.assignChain(chainId: 10, org: 0), in: txn)
            #expect(try d.apply(.deleteOrganisation(org: 3), in: txn).skipped == nil)
            #expect(try d.organisation(named: "ACME", txn) == nil)
        }
    }

    @Test func corruptRecordsFailTheReadNamingTheTable() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "tenants-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let d = try TenantDirectory(env: env)
        try env.write { (txn: WriteTransaction) throws in
            _ = try d.apply(.createOrganisation(Organisation(id: 3, name: "acme", createdMillis: 1)), in: txn)
            try txn.put(d.orgs, Key(UInt64(3)), [1, 0, 0])
            try txn.put(d.keyHashes, Self.hashes[4], Key(UInt64(77)))
        }
        try env.read { (txn: ReadTransaction) throws in
            #expect { _ = try d.organisation(3, txn) } throws: { ($0 as? CorruptTenantRecord)?.table == "tenant_orgs" }
            #expect { _ = try d.organisations(txn) } throws: { $0 is CorruptTenantRecord }
            #expect { _ = try d.key(secretHash: Self.hashes[4], nowMillis: 0, txn) } throws: {
                ($0 as? CorruptTenantRecord)?.problem.contains("names key 77") == true
            }
        }
        // A command that does not decode is refused, never applied as something else.
        var bytes = TenantCommand.revokeKey(key: 1, atMillis: 2).encoded()
        bytes.removeLast()
        #expect(throws: DecodeError.self) { _ = try TenantCommand.decode(bytes) }
        #expect(throws: DecodeError.self) { _ = try TenantCommand.decode([TenantCommand.tag, 2, 10]) }
    }
}
