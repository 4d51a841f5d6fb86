import ByteCodec
import Consensus
import Storage

/// The node's own commands: the debug key-value store and the member directory. Their
/// first byte is the operation (format 0, before command sets carried a version byte).
public enum NodeCommand: Equatable, Sendable {
    case put(key: String, value: [UInt8])
    /// Where a member can be reached; replicated so every node (and newcomers) knows.
    case setMember(Member)

    static let putTag: UInt8 = 1
    static let setMemberTag: UInt8 = 2

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        switch self {
        case .put(let k, let v): w.u8(Self.putTag); w.string(k); w.data(v)
        case .setMember(let m): w.u8(Self.setMemberTag); w.u64(m.id); w.string(m.raftAddress); w.string(m.httpURL)
        }
        return w.bytes
    }

    public static func decode(_ b: [UInt8]) throws(DecodeError) -> NodeCommand {
        var r = ByteReader(b, what: "command")
        let op = try r.u8()
        let c: NodeCommand
        switch op {
        case putTag: c = .put(key: try r.string(), value: try r.data())
        case setMemberTag: c = .setMember(Member(id: try r.u64(), raftAddress: try r.string(), httpURL: try r.string()))
        default: throw DecodeError("command: unknown operation \(op)")
        }
        try r.expectEnd()
        return c
    }
}

/// Where a member's Raft port and HTTP API are.
public struct Member: Equatable, Sendable, Codable {
    public var id: UInt64
    public var raftAddress: String
    public var httpURL: String
    public init(id: UInt64, raftAddress: String, httpURL: String) { self.id = id; self.raftAddress = raftAddress; self.httpURL = httpURL }
}

/// `PUT /v1/debug/kv/…`: a replicated key-value store for testing replication end to end.
struct KVCommandSet: CommandSet {
    let kv: Table
    var name: String { "kv" }
    var tags: [UInt8] { [NodeCommand.putTag] }
    var tableNames: [String] { ["kv"] }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        guard case .put(let k, let v) = try NodeCommand.decode(data) else { preconditionFailure("kv set routed a non-put") }
        try txn.put(kv, Array(k.utf8), v)
    }
}

/// The member directory: each member's addresses, removed with the member.
struct MemberCommandSet: CommandSet {
    let members: Table
    var name: String { "members" }
    var tags: [UInt8] { [NodeCommand.setMemberTag] }
    var tableNames: [String] { ["members"] }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        guard case .setMember(let m) = try NodeCommand.decode(data) else { preconditionFailure("member set routed a non-member command") }
        try txn.put(members, Key(m.id), NodeCommand.setMember(m).encoded())
        effects.membersChanged = true
    }

    func applied(_ change: ConfChange, in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        guard change.kind == .removeNode else { return }
        if try txn.delete(members, Key(change.node)) { effects.membersChanged = true }
    }

    func all(_ txn: ReadTransaction) throws -> [Member] {
        try txn.entries(in: members).compactMap { e -> Member? in
            if case .setMember(let m) = try NodeCommand.decode(e.value) { return m }
            return nil
        }
    }
}
