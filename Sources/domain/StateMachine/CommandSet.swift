import Consensus
import ChainIndex
import Storage

/// One family of replicated commands (the chain, the debug key-value store, the member
/// directory; later organisations, API keys, webhooks, alerts, audit). The root routes each
/// committed entry to the set that owns its first byte.
///
/// Format rule: a set's entries start with its tag, then a version byte, then its payload;
/// a set that changes its payload bumps the version and keeps decoding the old ones. The
/// kv and member sets predate the rule: their tag is the operation and they carry no
/// version (format 0), and they stay readable as they are.
public protocol CommandSet: Sendable {
    /// For error messages: "chain", "kv", "members".
    var name: String { get }
    /// First bytes of the entries this set owns; no two sets share one.
    var tags: [UInt8] { get }
    /// Tables that hold this set's replicated state; snapshots carry exactly these.
    var tableNames: [String] { get }
    /// Applies one committed entry inside the batch's write transaction. A payload that does
    /// not decode throws `DecodeError`; the root turns it into `CorruptEntry`.
    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws
    /// A committed configuration change, for sets that keep per-member state.
    func applied(_ change: ConfChange, in txn: WriteTransaction, effects: inout ApplyEffects) throws
}

extension CommandSet {
    public func applied(_ change: ConfChange, in txn: WriteTransaction, effects: inout ApplyEffects) throws {}
}

/// What applying a batch did beyond changing tables, for the root to act on after commit.
public struct ApplyEffects: Sendable {
    /// Member records written or removed: peers must be refreshed.
    public var membersChanged = false
    /// Entries applied as no-ops on purpose, with why (a block that no longer extends the
    /// chain, re-proposed by a new leader).
    public var skipped: [String] = []
    /// Chain events, published once the batch committed.
    public var chainEvents: [ChainEvent] = []
    /// Keys, users, organisations or chain owners changed (not mere usage or audit appends).
    public var tenantsChanged = false
    public init() {}
}
