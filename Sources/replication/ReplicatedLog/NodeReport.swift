import Consensus
import RaftDriver

// What a replicated node reports and answers, outside the generic node type so every
// layer can name them.

public struct ReplicationOptions: Sendable {
    public var id: UInt64
    public var tickMillis = 100
    public var electionTicks = 10
    public var heartbeatTicks = 1
    /// Compact the log into a snapshot once this many entries were applied past the last one.
    public var snapshotEvery: UInt64 = 10_000
    public var randomSeed: UInt64
    public init(id: UInt64, randomSeed: UInt64) { self.id = id; self.randomSeed = randomSeed }
}

public enum ProposeOutcome: Equatable, Sendable {
    case applied(index: UInt64)
    case notLeader(leader: UInt64)
    case rejected(String)
    /// This node cannot take writes now (its disk refused one); nothing was promised.
    case unavailable(String)
    case timedOut
}

/// Why this node stopped taking writes, while its disk refuses them (etcd's NOSPACE alarm).
public struct DiskAlarm: Sendable, Equatable {
    /// Which write failed: "raft log" or "apply".
    public var stage: String
    public var error: String
    public var sinceMillis: UInt64
    /// Raft messages dropped while alarmed (the core is frozen; peers resend).
    public var droppedMessages: UInt64 = 0
    /// Probes of the disk since the alarm was raised.
    public var probes: UInt64 = 0

    /// Free space the data directory needs before an alarmed node tries its writes again,
    /// so a node whose disk is just at the edge does not flap between alarm and service.
    public static let resumeFreeBytes: UInt64 = 16 << 20
    /// How often an alarmed node probes its disk.
    public static let probeMillis = 1000

    public var message: String {
        "this node's disk refused a write (\(stage): \(error)); it takes no writes until space returns — use another node"
    }
}

/// A point-in-time view for /status and metrics.
public struct NodeReport: Sendable {
    public var status: NodeStatus
    public var appliedIndex: UInt64
    public var digest: [UInt8]
    public var peerMatch: [UInt64: UInt64]
    public var leaderChanges: Int
    /// The term in which this node last knew a leader (0: none since it started), kept at
    /// every publish, so a leader seen briefly between two samplings is not missed.
    public var lastLeaderTerm: UInt64 = 0
    /// The Raft driver's work since start.
    public var counters = DriverCounters()
    /// The durable log's forced syncs and the bytes they carried.
    public var logSyncs = RaftLogStore.SyncCounters()
    /// Set while this node's disk refuses writes.
    public var diskAlarm: DiskAlarm?
    /// Why this node stopped for good: replicated state that does not decode.
    public var corruption: String?
}

