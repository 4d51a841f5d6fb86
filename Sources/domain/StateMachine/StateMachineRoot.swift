import ByteCodec
import Chain
import ChainIndex
import Consensus
import Hashing
import ReplicatedLog
import Storage
import Synchronization
import Tenancy
import Alerts
import Webhooks

/// The root of the replicated state: the registry of command sets every committed entry
/// is routed to, the applied index and the rolling state digest, snapshots of the whole.
///
/// Apply is a pure function of (state, entry). Each batch is applied in one LMDB write
/// transaction that also stores the applied index and the digest, so a crash never
/// applies an entry twice or half, and replicas at the same applied index have the same
/// digest. An entry no set owns, or one its set cannot decode, stops apply (`CorruptEntry`).
public final class StateMachineRoot: ReplicatedStateMachine, Sendable {
    public typealias Command = NodeCommand
    public typealias Member = StateMachine.Member
    public typealias AppliedState = ReplicatedLog.AppliedState

    let env: Environment
    let kv: Table
    let memberSet: MemberCommandSet
    let meta: Table
    /// Every command set, and which owns each first byte.
    let sets: [any CommandSet]
    private let owner: [UInt8: Int]
    /// The chain index lives in the same environment and is applied in the same transactions.
    public let chain: ChainIndex
    /// The chains the cluster follows, replicated like everything else.
    public let chains: ChainRegistry
    /// Organisations, users, roles, API keys and chain ownership.
    public let tenants: TenantDirectory
    private let tenantsChanges = Atomic<UInt64>(0)
    /// Grows after every committed change of what the tenant tables say about keys, users,
    /// organisations and chain owners (and after a snapshot): a cache of those reads holds
    /// while it stays the same.
    public var tenantsVersion: UInt64 { tenantsChanges.load(ordering: .acquiring) }
    /// Webhook subscriptions, their delivery cursors and attempts.
    public let webhooks: WebhookDirectory
    /// Alert rules and their incidents.
    public let alerts: AlertDirectory
    /// Chain events, published once their apply transaction committed: filters and
    /// subscriptions hear of blocks from the state machine, not from the Raft driver.
    public let chainFeed = ChainFeed()
    static let appliedKey = Array("applied".utf8)
    static let digestKey = Array("digest".utf8)
    public static let initialDigest = [UInt8](repeating: 0, count: 32)

    public init(env: Environment) throws {
        self.env = env
        kv = try env.table("kv")
        memberSet = MemberCommandSet(members: try env.table("members"))
        meta = try env.table("app_meta")
        chain = try ChainIndex(env: env)
        chains = try ChainRegistry(env: env, chain: chain.tables)
        tenants = try TenantDirectory(env: env)
        webhooks = try WebhookDirectory(env: env)
        alerts = try AlertDirectory(env: env)
        sets = [KVCommandSet(kv: kv), memberSet, ChainCommandSet(index: chain, registry: chains), ChainRegistryCommandSet(registry: chains),
                TenantCommandSet(directory: tenants), WebhookCommandSet(directory: webhooks),
                AlertCommandSet(directory: alerts)]
        var owner = [UInt8: Int]()
        for (i, set) in sets.enumerated() {
            for tag in set.tags {
                precondition(owner[tag] == nil, "command sets \(sets[owner[tag]!].name) and \(set.name) both claim tag \(tag)")
                owner[tag] = i
            }
        }
        self.owner = owner
        precondition(Set(sets.flatMap(\.tableNames)).count == sets.flatMap(\.tableNames).count, "two command sets share a table")
    }

    /// Tables whose contents make up the replicated state (what a snapshot carries).
    var stateTableNames: [String] { sets.flatMap(\.tableNames) }

    /// What applying a batch did: the state it left and its effects.
    public struct ApplyResult: Sendable {
        public var state: AppliedState
        public var effects: ApplyEffects
        public var chainEvents: [ChainEvent] { effects.chainEvents }
    }

    public func applied() throws -> AppliedState {
        try env.read { txn in try self.applied(txn) }
    }

    func applied(_ txn: ReadTransaction) throws -> AppliedState {
        let idx = try txn.get(meta, Self.appliedKey).map { b -> UInt64 in b.reduce(0) { $0 << 8 | UInt64($1) } } ?? 0
        return AppliedState(index: idx, digest: try txn.get(meta, Self.digestKey) ?? Self.initialDigest)
    }

    /// Applies committed entries in order, skipping any at or below the applied index
    /// (a restart may deliver them again).
    @discardableResult
    public func apply(_ entries: [Consensus.Entry]) throws -> ApplyResult {
        guard !entries.isEmpty else { return ApplyResult(state: try applied(), effects: ApplyEffects()) }
        let result = try env.write { txn in
            let start = try self.applied(txn)
            var state = start
            var effects = ApplyEffects()
            for e in entries where e.index > state.index {
                precondition(e.index == state.index + 1, "apply out of order: \(e.index) after \(state.index)")
                try self.route(e, in: txn, effects: &effects)
                state = AppliedState(index: e.index, digest: Self.extend(state.digest, with: e))
            }
            precondition(state.index >= start.index && (state.index == start.index || state.digest != start.digest),
                         "the digest advances with every applied entry")
            var w = ByteWriter(); w.u64(state.index)
            try txn.put(self.meta, Self.appliedKey, w.bytes)
            try txn.put(self.meta, Self.digestKey, state.digest)
            return ApplyResult(state: state, effects: effects)
        }
        chainFeed.publish(result.effects.chainEvents)
        if result.effects.tenantsChanged { tenantsChanges.add(1, ordering: .releasing) }
        return result
    }

    /// One entry to the set that owns its first byte. Empty entries are a new leader's no-op.
    private func route(_ e: Consensus.Entry, in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        switch e.kind {
        case .confChange:
            guard let change = ConfChange(decoding: e.data) else { return }
            for set in sets { try set.applied(change, in: txn, effects: &effects) }
        case .normal:
            guard let tag = e.data.first else { return }
            // A committed entry no set owns or its set cannot decode is a bug or a newer
            // node's format: applying around it would let replicas serve state nobody
            // checked, so stop.
            guard let i = owner[tag] else {
                throw CorruptEntry(index: e.index, term: e.term, problem: "no command set owns tag 0x\(String(tag, radix: 16)) (known: \(sets.map(\.name).joined(separator: ", ")))")
            }
            do {
                try sets[i].apply(e.data, in: txn, effects: &effects)
            } catch let error as DecodeError {
                throw CorruptEntry(index: e.index, term: e.term, problem: "\(sets[i].name) command: \(error)")
            }
        }
    }

    /// The rolling digest detects replicas that diverged (every one applies the same
    /// entries, so equal logs give equal digests); it is not a commitment anyone verifies
    /// against. The entry's bytes therefore enter as their length and CRC-32C: hashing
    /// megabyte block entries with Keccak cost a tenth of a follower's CPU, and a divergent
    /// entry still changes the digest unless its CRC collides (2⁻³² per entry).
    public static func extend(_ digest: [UInt8], with e: Consensus.Entry) -> [UInt8] {
        precondition(digest.count == 32, "the state digest is 32 bytes")
        var h = Keccak256()
        h.update(digest)
        var w = ByteWriter(capacity: 29)
        w.u64(e.index); w.u64(e.term); w.u8(e.kind.rawValue)
        w.u64(UInt64(e.data.count)); w.u32(CRC32C.checksum(e.data))
        h.update(w.bytes)
        return h.finalize()
    }

    public func apply(committed entries: [Consensus.Entry]) throws -> AppliedBatch {
        let result = try apply(entries)
        return AppliedBatch(state: result.state, membersChanged: result.effects.membersChanged, skipped: result.effects.skipped)
    }

    public func get(_ key: String) throws -> [UInt8]? {
        try env.read { txn in try txn.get(self.kv, Array(key.utf8)) }
    }

    public func allMembers() throws -> [Member] {
        try env.read { txn in try self.memberSet.all(txn) }
    }

    /// Every chain in the registry, in chain-id order.
    /// Reads of the tenant tables, from one snapshot.
    public func tenantView<R>(_ body: (TenantDirectory, ReadTransaction) throws -> R) throws -> R {
        try env.read { txn in try body(tenants, txn) }
    }

    /// Reads of the webhook tables, from one snapshot.
    public func webhookView<R>(_ body: (WebhookDirectory, ReadTransaction) throws -> R) throws -> R {
        try env.read { txn in try body(webhooks, txn) }
    }

    /// Reads of the alert tables, from one snapshot.
    public func alertView<R>(_ body: (AlertDirectory, ReadTransaction) throws -> R) throws -> R {
        try env.read { txn in try body(alerts, txn) }
    }

    public func allChains() throws -> [ChainRecord] {
        try env.read { txn in try self.chains.all(txn) }
    }

    /// Data keys a chain holds (what removing it has to delete).
    public func chainDataKeys(_ id: UInt64) throws -> UInt64 {
        try env.read { txn in try self.chains.dataKeyCount(of: id, txn) }
    }

    /// The registry's chains and whether it was seeded, from one snapshot.
    public func chainRegistry() throws -> (records: [ChainRecord], seeded: Bool) {
        try env.read { txn in (try self.chains.all(txn), try self.chains.seeded(txn)) }
    }

    public func raftAddresses() throws -> [UInt64: String] {
        Dictionary(try allMembers().map { ($0.id, $0.raftAddress) }, uniquingKeysWith: { $1 })
    }
    /// The whole state (every state table, applied index and digest) as snapshot bytes.
    public func snapshotData() throws -> (index: UInt64, data: [UInt8]) {
        try env.read { txn in
            let st = try self.applied(txn)
            let names = self.stateTableNames
            // Sized from the tables' pages up front: growing a multi-gigabyte array by doubling
            // copies it again and again.
            let pages = try names.reduce(0) { sum, name in
                let t = try txn.stats(try self.env.table(name))
                return sum + (t.leafPages + t.overflowPages) * t.pageSize
            }
            var w = ByteWriter(capacity: pages + 4096)
            w.u64(st.index); w.data(st.digest)
            w.u32(UInt32(names.count))
            // Straight from the cursor into the bytes: no array of every pair on the side.
            for name in names {
                let table = try self.env.table(name)
                let count = try txn.count(table)
                w.string(name)
                w.u64(UInt64(count))
                var written = 0
                try txn.forEach(in: table) { key, value in
                    w.data(key); w.data(value)
                    written += 1
                    return true
                }
                precondition(written == count, "table \(name): \(written) pairs read, \(count) counted, in one read transaction")
            }
            return (st.index, w.bytes)
        }
    }

    /// Replaces the whole state with a snapshot received from the leader. Pairs go from the
    /// bytes straight into one write transaction (no parsed copy of a multi-gigabyte state);
    /// a malformed snapshot (or pairs out of key order) throws inside it, which aborts it,
    /// so nothing is replaced.
    public func install(snapshotData data: [UInt8]) throws {
        let handles = try stateTableNames.map { try env.table($0) }
        try env.write { txn in
            // Read from the start inside the transaction: a write that fills the map runs
            // again after growing it, and a reader from outside would resume mid-stream
            // (a 2.6 GB snapshot failed as "unknown table" that way).
            var r = ByteReader(data, what: "state snapshot")
            let index = try r.u64()
            let digest = try r.data(max: 64)
            for t in handles { try txn.clear(t) }
            var seen = Set<String>()
            for _ in 0..<(try r.u32()) {
                let name = try r.string()
                guard stateTableNames.contains(name) else { throw DecodeError("state snapshot: unknown table \(name)") }
                guard seen.insert(name).inserted else { throw DecodeError("state snapshot: table \(name) appears twice") }
                let t = try self.env.table(name)
                // Pairs come in key order (a cursor wrote them) into a cleared table, so
                // each goes at the end; a pair out of order fails the append and the install.
                for _ in 0..<(try r.u64()) {
                    let key = try r.data(), value = try r.data()
                    try txn.append(t, key, value)
                }
            }
            try r.expectEnd()
            var w = ByteWriter(); w.u64(index)
            try txn.put(self.meta, Self.appliedKey, w.bytes)
            try txn.put(self.meta, Self.digestKey, digest)
        }
        tenantsChanges.add(1, ordering: .releasing)
    }
}
