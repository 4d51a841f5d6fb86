import Consensus

/// The applied index and the digest of the state after it. Replicas at the same index
/// with different digests diverged.
public struct AppliedState: Equatable, Sendable {
    public var index: UInt64
    public var digest: [UInt8]
    public init(index: UInt64, digest: [UInt8]) { self.index = index; self.digest = digest }
}

/// What applying a batch of committed entries did, as far as the log's host cares.
public struct AppliedBatch: Sendable {
    public var state: AppliedState
    /// The member directory or the configuration changed: peer addresses must be refreshed.
    public var membersChanged: Bool
    /// Entries the state machine skipped on purpose (a block that no longer extends the
    /// chain, re-proposed by a new leader), for the log.
    public var skipped: [String]
    public init(state: AppliedState, membersChanged: Bool, skipped: [String] = []) {
        self.state = state; self.membersChanged = membersChanged; self.skipped = skipped
    }
}

/// The durable replicated state machine a `ReplicatedNode` drives. Apply is a pure
/// function of (state, entries) and durable with its applied index, so a crash never
/// applies an entry twice or half. Errors conforming to `CorruptRecord` stop the node.
public protocol ReplicatedStateMachine: AnyObject, Sendable {
    func applied() throws -> AppliedState
    /// Applies committed entries in order, skipping any at or below the applied index.
    func apply(committed entries: [Entry]) throws -> AppliedBatch
    /// The whole state at the applied index, as snapshot bytes.
    func snapshotData() throws -> (index: UInt64, data: [UInt8])
    /// Replaces the whole state with a snapshot received from the leader.
    func install(snapshotData data: [UInt8]) throws
    /// Where each member's Raft port is, from the replicated member directory.
    func raftAddresses() throws -> [UInt64: String]
}
