import Chain
import Consensus
import Index
import Storage

/// The replicated state machine the node applies committed entries to: for now a small
/// key-value store (for testing replication end to end) plus the member directory. The
/// chain index replaces the key-value part later; the apply contract stays:
///
/// Apply is a pure function of (state, entry). Each batch is applied in one LMDB write
/// transaction that also stores the applied index and the rolling state digest, so a
/// crash never applies an entry twice or half, and replicas at the same applied index
/// have the same digest.
/// A committed entry that does not decode: replicas stop at it rather than apply around it.
public struct CorruptEntry: Error, CustomStringConvertible, Equatable, Sendable {
    public let index: UInt64
    public let term: UInt64
    public let problem: String
    public var description: String { "committed entry \(index) (term \(term)) does not decode: \(problem)" }
}

public final class KVStateMachine: Sendable {
    public enum Command: Equatable, Sendable {
        case put(key: String, value: [UInt8])
        /// Where a member can be reached; replicated so every node (and newcomers) knows.
        case setMember(Member)

        public func encoded() -> [UInt8] {
            var w = ByteWriter()
            switch self {
            case .put(let k, let v): w.u8(1); w.string(k); w.data(v)
            case .setMember(let m): w.u8(2); w.u64(m.id); w.string(m.raftAddress); w.string(m.httpURL)
            }
            return w.bytes
        }

        public static func decode(_ b: [UInt8]) throws(DecodeError) -> Command {
            var r = ByteReader(b, what: "command")
            let op = try r.u8()
            let c: Command
            switch op {
            case 1: c = .put(key: try r.string(), value: try r.data())
            case 2: c = .setMember(Member(id: try r.u64(), raftAddress: try r.string(), httpURL: try r.string()))
            default: throw DecodeError("command: unknown operation \(op)")
            }
            try r.expectEnd()
            return c
        }
    }

    public struct Member: Equatable, Sendable, Codable {
        public var id: UInt64
        public var raftAddress: String
        public var httpURL: String
        public init(id: UInt64, raftAddress: String, httpURL: String) { self.id = id; self.raftAddress = raftAddress; self.httpURL = httpURL }
    }

    let env: Environment
    let kv: Table
    let members: Table
    let meta: Table
    /// The chain index lives in the same environment and is applied in the same transactions.
    public let chain: ChainIndex
    /// Chain events, published once their apply transaction committed: filters and
    /// subscriptions hear of blocks from the state machine, not from the Raft driver.
    public let chainFeed = ChainFeed()
    static let appliedKey = Array("applied".utf8)
    static let digestKey = Array("digest".utf8)
    public static let initialDigest = [UInt8](repeating: 0, count: 32)

    public init(env: Environment) throws {
        self.env = env
        kv = try env.table("kv")
        members = try env.table("members")
        meta = try env.table("app_meta")
        chain = try ChainIndex(env: env)
    }

    /// Tables whose contents make up the replicated state (what a snapshot carries).
    var stateTableNames: [String] { ["kv", "members"] + ChainTables.names }

    public struct AppliedState: Equatable, Sendable {
        public var index: UInt64
        public var digest: [UInt8]
    }

    /// What applying a batch did: the state it left, member records it learned, and chain
    /// entries apply skipped (a block that did not extend the head, e.g. re-proposed by a new leader).
    public struct ApplyResult: Sendable {
        public var state: AppliedState
        public var learned: [Member] = []
        public var chainSkips: [String] = []
        public var chainEvents: [ChainEvent] = []
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
        guard !entries.isEmpty else { return ApplyResult(state: try applied()) }
        let result = try env.write { txn in
            var state = try self.applied(txn)
            var learned = [Member]()
            var chainSkips = [String]()
            var chainEvents = [ChainEvent]()
            for e in entries where e.index > state.index {
                precondition(e.index == state.index + 1, "apply out of order: \(e.index) after \(state.index)")
                if e.kind == .normal && ChainCommand.isChainCommand(e.data) {
                    let cmd: ChainCommand
                    do { cmd = try ChainCommand.decode(e.data) } catch { throw CorruptEntry(index: e.index, term: e.term, problem: "chain command: \(error)") }
                    let outcome = try self.chain.apply(cmd, in: txn)
                    chainSkips += outcome.skipped
                    chainEvents += outcome.events
                } else if e.kind == .normal && !e.data.isEmpty {
                    // A committed entry that does not decode is a bug or a newer node's format:
                    // applying around it would let replicas serve state nobody checked, so stop.
                    let cmd: Command
                    do { cmd = try Command.decode(e.data) } catch { throw CorruptEntry(index: e.index, term: e.term, problem: "command: \(error)") }
                    switch cmd {
                    case .put(let k, let v): try txn.put(self.kv, Array(k.utf8), v)
                    case .setMember(let m):
                        try txn.put(self.members, Key(m.id), Command.setMember(m).encoded())
                        learned.append(m)
                    }
                }
                if e.kind == .confChange, let cc = ConfChange(decoding: e.data), cc.kind == .removeNode {
                    _ = try txn.delete(self.members, Key(cc.node))
                }
                var h = Keccak256()
                h.update(state.digest)
                var w = ByteWriter(capacity: 17)
                w.u64(e.index); w.u64(e.term); w.u8(e.kind.rawValue)
                h.update(w.bytes)
                h.update(e.data)
                state = AppliedState(index: e.index, digest: h.finalize())
            }
            var w = ByteWriter(); w.u64(state.index)
            try txn.put(self.meta, Self.appliedKey, w.bytes)
            try txn.put(self.meta, Self.digestKey, state.digest)
            return ApplyResult(state: state, learned: learned, chainSkips: chainSkips, chainEvents: chainEvents)
        }
        chainFeed.publish(result.chainEvents)
        return result
    }

    public func get(_ key: String) throws -> [UInt8]? {
        try env.read { txn in try txn.get(self.kv, Array(key.utf8)) }
    }

    public func allMembers() throws -> [Member] {
        try env.read { txn in
            try txn.entries(in: self.members).compactMap { e -> Member? in
                if case .setMember(let m) = try Command.decode(e.value) { return m }
                return nil
            }
        }
    }

    /// The whole state (every state table, applied index and digest) as snapshot bytes.
    public func snapshotData() throws -> (index: UInt64, data: [UInt8]) {
        try env.read { txn in
            let st = try self.applied(txn)
            var w = ByteWriter()
            w.u64(st.index); w.data(st.digest)
            let names = self.stateTableNames
            w.u32(UInt32(names.count))
            for name in names {
                let table = try self.env.table(name)
                let pairs = try txn.entries(in: table)
                w.string(name)
                w.u64(UInt64(pairs.count))
                for p in pairs { w.data(p.key); w.data(p.value) }
            }
            return (st.index, w.bytes)
        }
    }

    /// Replaces the whole state with a snapshot received from the leader.
    public func install(snapshotData data: [UInt8]) throws -> [Member] {
        var r = ByteReader(data, what: "state snapshot")
        let index = try r.u64()
        let digest = try r.data(max: 64)
        var tables = [(String, [([UInt8], [UInt8])])]()
        for _ in 0..<(try r.u32()) {
            let name = try r.string()
            guard stateTableNames.contains(name) else { throw DecodeError("state snapshot: unknown table \(name)") }
            var pairs = [([UInt8], [UInt8])]()
            for _ in 0..<(try r.u64()) { pairs.append((try r.data(), try r.data())) }
            tables.append((name, pairs))
        }
        try r.expectEnd()
        let handles = try stateTableNames.map { try env.table($0) }
        try env.write { txn in
            for t in handles { try txn.clear(t) }
            for (name, pairs) in tables {
                let t = try self.env.table(name)
                for (k, v) in pairs { try txn.put(t, k, v) }
            }
            var w = ByteWriter(); w.u64(index)
            try txn.put(self.meta, Self.appliedKey, w.bytes)
            try txn.put(self.meta, Self.digestKey, digest)
        }
        return try allMembers()
    }
}
