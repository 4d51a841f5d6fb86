import ByteCodec
import Storage

/// One chain the cluster follows, as replicated configuration. Identity (`chainId`,
/// `slug`) and the parent link are fields of their own, so apply can check them without
/// parsing; everything else — adapter, upstreams, batch and reorg settings — rides as the
/// operator's JSON object (`settings`, minified), which every node turns into its indexer's
/// configuration with the same validation as the node config file.
public struct ChainSpec: Equatable, Sendable {
    public var chainId: UInt64
    /// The chain's name in URLs (`/<slug>`, `/v1/chains/<slug>`): see `slugProblem`.
    public var slug: String
    /// An L1 chain of the same cluster this chain settles on, for finality lag.
    public var parent: UInt64?
    public var settings: [UInt8]

    public init(chainId: UInt64, slug: String, parent: UInt64? = nil, settings: [UInt8]) {
        self.chainId = chainId; self.slug = slug; self.parent = parent; self.settings = settings
    }

    /// Path segments a slug may not take: they are routes of their own.
    public static let reservedSlugs: Set<String> = ["k", "v1", "graphql", "ws", "status", "metrics", "health", "healthz",
                                                     "readyz", "admin", "dashboard", "rpc", "api", "chains"]

    /// Why `s` cannot be a slug, or nil: 1 to 63 of a–z, 0–9 and '-', starting with a
    /// letter or digit, not ending with '-', and not a reserved route.
    public static func slugProblem(_ s: String) -> String? {
        let b = Array(s.utf8)
        guard (1...63).contains(b.count) else { return "must be 1 to 63 characters" }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard b.allSatisfy({ alnum($0) || $0 == 0x2D }) else { return "may hold only a-z, 0-9 and '-'" }
        guard alnum(b[0]), alnum(b[b.count - 1]) else { return "must start and end with a letter or digit" }
        if reservedSlugs.contains(s) { return "is a reserved route (\(reservedSlugs.sorted().joined(separator: ", ")))" }
        return nil
    }
}

/// Where a chain is in its life. Removal is a state, not a deletion: the record stays until
/// `purge` steps have deleted the chain's data, so a crash mid-way resumes.
public enum ChainLifecycle: UInt8, Sendable, CaseIterable {
    case active = 1, paused = 2, removing = 3
    public var name: String { switch self { case .active: "active"; case .paused: "paused"; case .removing: "removing" } }
}

public struct ChainRecord: Equatable, Sendable {
    public var spec: ChainSpec
    public var state: ChainLifecycle
    /// Data keys deleted so far while removing (for progress).
    public var purgedKeys: UInt64
    public init(spec: ChainSpec, state: ChainLifecycle, purgedKeys: UInt64 = 0) {
        self.spec = spec; self.state = state; self.purgedKeys = purgedKeys
    }

    func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(1)
        ChainRegistryCommand.write(spec, &w)
        w.u8(state.rawValue); w.u64(purgedKeys)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ChainRecord {
        var r = ByteReader(bytes, what: "chain registry record")
        guard try r.u8() == 1 else { throw DecodeError("chain registry record: unknown version") }
        let spec = try ChainRegistryCommand.readSpec(&r)
        let raw = try r.u8()
        guard let state = ChainLifecycle(rawValue: raw) else { throw DecodeError("chain registry record: unknown state \(raw)") }
        let purged = try r.u64()
        try r.expectEnd()
        return ChainRecord(spec: spec, state: state, purgedKeys: purged)
    }
}

/// Changes to the set of chains, replicated through the log (tag 0xC2, then a version).
public enum ChainRegistryCommand: Equatable, Sendable {
    /// Adds a chain, or changes one that is not being removed (its state is kept).
    case put(ChainSpec)
    case setPaused(chainId: UInt64, paused: Bool)
    /// Starts removing: the chain stops being served and indexed at once; its data goes in
    /// `purge` steps.
    case remove(chainId: UInt64)
    /// Deletes at most `maxKeys` of a removing chain's data keys; the step that finds
    /// fewer left than that also deletes the record.
    case purge(chainId: UInt64, maxKeys: UInt32)
    /// The node config's `chains`, applied once per cluster: the first seed puts each spec
    /// (by `put`'s rules) and marks the registry seeded; later ones are skipped, so a chain
    /// removed at runtime does not come back from a config file.
    case seed([ChainSpec])

    public static let tag: UInt8 = 0xC2
    static let version: UInt8 = 1

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.tag); w.u8(Self.version)
        switch self {
        case .put(let s): w.u8(1); Self.write(s, &w)
        case .setPaused(let id, let paused): w.u8(2); w.u64(id); w.bool(paused)
        case .remove(let id): w.u8(3); w.u64(id)
        case .purge(let id, let n): w.u8(4); w.u64(id); w.u32(n)
        case .seed(let specs): w.u8(5); w.u32(UInt32(specs.count)); for s in specs { Self.write(s, &w) }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ChainRegistryCommand {
        var r = ByteReader(bytes, what: "chain registry command")
        guard try r.u8() == tag else { throw DecodeError("chain registry command: wrong tag") }
        let v = try r.u8()
        guard v == version else { throw DecodeError("chain registry command: unsupported version \(v) (this node reads \(version))") }
        let c: ChainRegistryCommand
        switch try r.u8() {
        case 1: c = .put(try readSpec(&r))
        case 2: c = .setPaused(chainId: try r.u64(), paused: try r.bool())
        case 3: c = .remove(chainId: try r.u64())
        case 4: c = .purge(chainId: try r.u64(), maxKeys: try r.u32())
        case 5:
            let n = try r.u32()
            guard n <= 1024 else { throw DecodeError("chain registry command: a seed of \(n) chains (at most 1024)") }
            c = .seed(try (0..<n).map { _ throws(DecodeError) in try readSpec(&r) })
        case let k: throw DecodeError("chain registry command: unknown kind \(k)")
        }
        try r.expectEnd()
        return c
    }

    static func write(_ s: ChainSpec, _ w: inout ByteWriter) {
        w.u64(s.chainId); w.string(s.slug); w.u64(s.parent ?? 0); w.data(s.settings)
    }

    static func readSpec(_ r: inout ByteReader) throws(DecodeError) -> ChainSpec {
        let id = try r.u64(), slug = try r.string(), parent = try r.u64()
        let settings = try r.data(max: 1 << 20)
        return ChainSpec(chainId: id, slug: slug, parent: parent == 0 ? nil : parent, settings: settings)
    }
}

/// The replicated set of chains (`chain_registry`: chain id → record) and the apply of
/// `ChainRegistryCommand`s. Apply is deterministic and total: a command that does not fit
/// the current set (a slug another chain holds, a chain that is not there) is skipped with
/// a reason on every replica alike. Admin endpoints check the same rules before proposing,
/// so a skip means a race between two admins, not a typo.
public final class ChainRegistry: Sendable {
    public let table: Table
    let chain: ChainTables

    public static let tableName = "chain_registry"
    /// Present once the registry was seeded; chain id 0 is no chain, so no record collides.
    static let seededKey = Key(UInt64(0))

    public init(env: Environment, chain: ChainTables) throws {
        table = try env.table(Self.tableName)
        self.chain = chain
    }

    public struct Outcome: Equatable, Sendable {
        public var skipped: String?
        /// The chain whose data the step finished deleting (its record is gone).
        public var removed: UInt64?
    }

    public func apply(_ command: ChainRegistryCommand, in txn: WriteTransaction) throws -> Outcome {
        switch command {
        case .seed(let specs):
            guard try txn.get(table, Self.seededKey) == nil else { return Outcome(skipped: "the chain registry was seeded before") }
            var skipped = [String]()
            for spec in specs {
                if let why = try apply(.put(spec), in: txn).skipped { skipped.append(why) }
            }
            try txn.put(table, Self.seededKey, [1])
            return Outcome(skipped: skipped.isEmpty ? nil : "seed: " + skipped.joined(separator: "; "))
        case .put(let spec):
            if let why = ChainSpec.slugProblem(spec.slug) { return Outcome(skipped: "chain \(spec.chainId): slug \(why)") }
            guard spec.chainId > 0 else { return Outcome(skipped: "chain id 0 is not a chain") }
            if spec.parent == spec.chainId { return Outcome(skipped: "chain \(spec.chainId) cannot be its own parent") }
            let existing = try record(spec.chainId, txn)
            for other in try all(txn) where other.spec.chainId != spec.chainId && other.spec.slug == spec.slug {
                return Outcome(skipped: "slug \(spec.slug) is chain \(other.spec.chainId)'s")
            }
            if existing?.state == .removing { return Outcome(skipped: "chain \(spec.chainId) is being removed") }
            try txn.put(table, Key(spec.chainId), ChainRecord(spec: spec, state: existing?.state ?? .active).encoded())
        case .setPaused(let id, let paused):
            guard var r = try record(id, txn) else { return Outcome(skipped: "chain \(id) is not in the registry") }
            guard r.state != .removing else { return Outcome(skipped: "chain \(id) is being removed") }
            r.state = paused ? .paused : .active
            try txn.put(table, Key(id), r.encoded())
        case .remove(let id):
            guard var r = try record(id, txn) else { return Outcome(skipped: "chain \(id) is not in the registry") }
            guard r.state != .removing else { return Outcome(skipped: "chain \(id) is already being removed") }
            r.state = .removing
            try txn.put(table, Key(id), r.encoded())
        case .purge(let id, let maxKeys):
            guard var r = try record(id, txn), r.state == .removing else { return Outcome(skipped: "chain \(id) is not being removed") }
            precondition(maxKeys > 0, "a purge step deletes something")
            let deleted = try deleteData(of: id, atMost: Int(maxKeys), txn)
            precondition(deleted <= Int(maxKeys), "a purge step stays within its bound")
            if deleted < Int(maxKeys) {
                guard try txn.delete(table, Key(id)) else { preconditionFailure("the record read above is there") }
                return Outcome(removed: id)
            }
            r.purgedKeys += UInt64(deleted)
            try txn.put(table, Key(id), r.encoded())
        }
        return Outcome()
    }

    /// Deletes up to `limit` keys under the chain id in the chain tables (table by table, in
    /// key order). Code is content-addressed and shared by all chains, so it stays.
    func deleteData(of id: UInt64, atMost limit: Int, _ txn: WriteTransaction) throws -> Int {
        let prefix = Key(id).bytes
        var deleted = 0
        for table in chain.perChain where deleted < limit {
            try txn.withWriteCursor(table) { c in
                guard try c.seek(atLeast: prefix) else { return }
                while deleted < limit, c.withCurrent({ k, _ in k.starts(with: prefix) }) {
                    try c.deleteCurrent()
                    deleted += 1
                    // After a delete the cursor is unpositioned; next() reaches the following entry.
                    guard try c.next() else { return }
                }
            }
        }
        return deleted
    }

    /// How many data keys the chain holds (what a removal has to delete), counted by
    /// cursor: seconds for tens of millions, so once per removal, off the apply path.
    public func dataKeyCount(of id: UInt64, _ txn: ReadTransaction) throws -> UInt64 {
        let prefix = Key(id)
        var n: UInt64 = 0
        for table in chain.perChain {
            try txn.forEach(in: table, KeyRange(from: prefix, upTo: ChainIndex.increment(prefix.bytes))) { _, _ in n += 1; return true }
        }
        return n
    }

    public func record(_ id: UInt64, _ txn: ReadTransaction) throws -> ChainRecord? {
        guard id != 0 else { return nil }  // the seed marker's key, not a chain
        guard let raw = try txn.get(table, Key(id)) else { return nil }
        return try Self.decodeStored(raw, id)
    }

    public func all(_ txn: ReadTransaction) throws -> [ChainRecord] {
        try txn.entries(in: table).filter { $0.key != Self.seededKey.bytes }.map { e in
            let r = try Self.decodeStored(e.value, nil)
            guard Key(r.spec.chainId).bytes == e.key else {
                throw CorruptIndex(table: Self.tableName, key: "\(r.spec.chainId)", problem: "a record is stored under another chain's key")
            }
            return r
        }
    }

    public func seeded(_ txn: ReadTransaction) throws -> Bool { try txn.get(table, Self.seededKey) != nil }

    static func decodeStored(_ raw: [UInt8], _ id: UInt64?) throws -> ChainRecord {
        do { return try ChainRecord.decode(raw) } catch {
            throw CorruptIndex(table: tableName, key: id.map { "\($0)" } ?? "?", problem: "\(error)")
        }
    }
}
