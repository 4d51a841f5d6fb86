/// Static parameters of one Raft node.
public struct RaftConfig: Sendable {
    public var id: NodeID
    /// Ticks without hearing from a leader before a follower campaigns. The actual timeout
    /// is drawn uniformly from `electionTicks ..< 2 * electionTicks` after every reset.
    public var electionTicks: Int = 10
    /// Ticks between leader heartbeats. Must be well below `electionTicks`.
    public var heartbeatTicks: Int = 1
    /// Run a pre-vote round before incrementing the term (thesis 9.6), so a node that was
    /// partitioned away cannot depose a healthy leader when it returns.
    public var preVote: Bool = true
    /// A leader steps down if it has not heard from a quorum within an election timeout;
    /// followers that heard from a leader recently ignore vote requests (leader stickiness).
    public var checkQuorum: Bool = true
    /// Largest append message in bytes (at least one entry is always sent).
    public var maxMessageBytes: Int = 4096
    /// Flow control: append messages in flight to one follower.
    public var maxInflightMessages: Int = 64
    /// Flow control: bytes of entries in flight to one follower.
    public var maxInflightBytes: Int = 256 * 1024
    /// Snapshot chunk size.
    public var snapshotChunkBytes: Int = 64 * 1024
    /// Seed for the election-timeout randomness. The core has no other source of randomness.
    public var randomSeed: UInt64
    /// Index the application has already applied (e.g. persisted with its state). Committed
    /// entries above it are delivered again after a restart.
    public var applied: UInt64 = 0

    public init(id: NodeID, randomSeed: UInt64) {
        self.id = id
        self.randomSeed = randomSeed
    }
}
