import ReplicatedLog
import Telemetry

/// The Raft driver's counters as registry handles, for the driver to bump as it handles
/// Readies (one relaxed atomic add each). Not wired yet: the driver still counts into its
/// `NodeReport`, and /status's `counters` reads `RaftCounters(report)`. Once the driver takes
/// a `RaftMetrics`, /status switches to `RaftCounters(metrics)` and /metrics has them too.
public struct RaftMetrics: Sendable {
    /// Readies handled (one durable log write each at most).
    public let readies: Counter
    public let entriesPersisted: Counter
    public let messagesSent: Counter
    public let entriesApplied: Counter
    public let leaderChanges: Counter
    /// Time per durable log write and per apply transaction.
    public let persistSeconds: Histogram
    public let applySeconds: Histogram
    public let term: Gauge
    public let commitIndex: Gauge
    public let appliedIndex: Gauge
    /// 1 while this node leads.
    public let isLeader: Gauge

    public init(registry: MetricsRegistry) {
        readies = registry.counter("raft_readies_total", help: "Readies handled by the Raft driver")
        entriesPersisted = registry.counter("raft_entries_persisted_total", help: "Log entries written to the durable Raft log")
        messagesSent = registry.counter("raft_messages_sent_total", help: "Raft messages handed to the peer transport")
        entriesApplied = registry.counter("raft_entries_applied_total", help: "Committed entries applied to the state machine")
        leaderChanges = registry.counter("raft_leader_changes_total", help: "Times this node saw the leader change")
        persistSeconds = registry.histogram("raft_persist_seconds", help: "Duration of one durable Raft log write")
        applySeconds = registry.histogram("raft_apply_seconds", help: "Duration of one apply transaction")
        term = registry.gauge("raft_term", help: "Current Raft term")
        commitIndex = registry.gauge("raft_commit_index", help: "Highest log index known committed")
        appliedIndex = registry.gauge("raft_applied_index", help: "Highest log index applied here")
        isLeader = registry.gauge("raft_is_leader", help: "1 while this node is the leader")
    }
}

/// /status's `counters`: the driver's totals since start.
public struct RaftCounters: Sendable, Equatable {
    public var readies: UInt64
    public var entriesPersisted: UInt64
    public var messagesSent: UInt64
    public var entriesApplied: UInt64
    public var persistMicros: UInt64
    public var applyMicros: UInt64
    public var leaderChanges: UInt64

    public init(readies: UInt64, entriesPersisted: UInt64, messagesSent: UInt64, entriesApplied: UInt64,
                persistMicros: UInt64, applyMicros: UInt64, leaderChanges: UInt64) {
        self.readies = readies
        self.entriesPersisted = entriesPersisted
        self.messagesSent = messagesSent
        self.entriesApplied = entriesApplied
        self.persistMicros = persistMicros
        self.applyMicros = applyMicros
        self.leaderChanges = leaderChanges
    }

    public init(_ r: NodeReport) {
        readies = r.readies
        entriesPersisted = r.entriesPersisted
        messagesSent = r.messagesSent
        entriesApplied = r.entriesApplied
        persistMicros = r.persistMicros
        applyMicros = r.applyMicros
        leaderChanges = UInt64(max(r.leaderChanges, 0))
    }

    public init(_ m: RaftMetrics) {
        readies = m.readies.value
        entriesPersisted = m.entriesPersisted.value
        messagesSent = m.messagesSent.value
        entriesApplied = m.entriesApplied.value
        persistMicros = UInt64((m.persistSeconds.snapshot.sum * 1e6).rounded())
        applyMicros = UInt64((m.applySeconds.snapshot.sum * 1e6).rounded())
        leaderChanges = m.leaderChanges.value
    }
}
