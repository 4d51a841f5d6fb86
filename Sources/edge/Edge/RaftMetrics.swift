import ReplicatedLog
import Telemetry

/// The Raft driver's counters and the core's position on the registry, read from the
/// node's published report when a snapshot is taken: the driver is single-threaded and
/// keeps plain counters, so a Ready pays nothing for metrics, and /status (`RaftCounters`)
/// and the registry read the same numbers.
public enum RaftMetrics {
    public static func register(_ report: @escaping @Sendable () -> NodeReport, in registry: MetricsRegistry) {
        func one(_ name: String, _ help: String, _ kind: MetricKind, _ value: @escaping @Sendable (NodeReport) -> MetricValue) {
            registry.collect(name, help: help, kind: kind, labels: []) { [MetricSeries(labels: [], value: value(report()))] }
        }
        one("raft_readies_total", "Readies carried out by the Raft driver (one durable log write each at most)", .counter) { .counter($0.counters.readies) }
        one("raft_entries_persisted_total", "Log entries written to the durable Raft log", .counter) { .counter($0.counters.entriesPersisted) }
        one("raft_messages_sent_total", "Raft messages handed to the peer transport", .counter) { .counter($0.counters.messagesSent) }
        one("raft_log_syncs_total", "Forced syncs of the durable Raft log (one per Ready that wrote entries, a snapshot or a new term or vote)", .counter) { .counter($0.logSyncs.syncs) }
        one("raft_log_synced_bytes_total", "Entry and snapshot bytes made durable by those syncs", .counter) { .counter($0.logSyncs.bytes) }
        one("raft_entries_applied_total", "Committed entries applied to the state machine", .counter) { .counter($0.counters.entriesApplied) }
        one("raft_leader_changes_total", "Times this node saw the leader change", .counter) { .counter(UInt64(max($0.leaderChanges, 0))) }
        one("raft_term", "Current Raft term", .gauge) { .gauge(Int64(clamping: $0.status.term)) }
        one("raft_commit_index", "Highest log index known committed", .gauge) { .gauge(Int64(clamping: $0.status.committed)) }
        one("raft_applied_index", "Highest log index applied here", .gauge) { .gauge(Int64(clamping: $0.appliedIndex)) }
        one("raft_is_leader", "1 while this node is the leader", .gauge) { .gauge($0.status.role == .leader ? 1 : 0) }
        one("raft_last_index", "Highest index in this node's log", .gauge) { .gauge(Int64(clamping: $0.status.lastIndex)) }
        one("raft_snapshot_index", "Index the log is compacted through", .gauge) { .gauge(Int64(clamping: $0.status.snapshotIndex)) }
        one("raft_readies_with_entries_total", "Readies that made log entries durable (raft_entries_persisted_total over this is entries per write)", .counter) {
            .counter($0.counters.readiesWithEntries)
        }
        one("raft_snapshots_serialized_total", "Times the state was serialized to send a follower a snapshot", .counter) { .counter($0.counters.snapshotsSerialized) }
        one("raft_snapshots_installed_total", "Snapshots received from a leader and installed here", .counter) { .counter($0.counters.snapshotsInstalled) }
        one("raft_compactions_total", "Log compactions into a snapshot", .counter) { .counter($0.counters.compactions) }
        one("raft_stopped", "1 while this node has stopped taking part: its disk refuses writes or replicated state is corrupt", .gauge) {
            .gauge($0.diskAlarm != nil || $0.corruption != nil ? 1 : 0)
        }
        // Per peer, on the leader only (a follower does not know its peers' logs).
        registry.collect("raft_peer_match_lag_entries", help: "On the leader: entries of its log a peer has not acknowledged yet", kind: .gauge,
                         labels: [.firstSeen("peer", max: 16)]) {
            let r = report()
            guard r.status.role == .leader else { return [] }
            return r.peerMatch.sorted { $0.key < $1.key }.map { peer, match in
                MetricSeries(labels: [String(peer)], value: .gauge(Int64(clamping: r.status.lastIndex &- min(match, r.status.lastIndex))))
            }
        }
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
    public var logSyncs: UInt64 = 0
    public var logBytesSynced: UInt64 = 0
    /// CPU time (not wall) of the durable write plus sends, and of apply.
    public var persistCPUMicros: UInt64 = 0
    public var applyCPUMicros: UInt64 = 0
    /// Snapshots installed from a leader, serialized for a follower, and log compactions.
    public var snapshotsInstalled: UInt64 = 0
    public var snapshotsSerialized: UInt64 = 0
    public var compactions: UInt64 = 0

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
        readies = r.counters.readies
        entriesPersisted = r.counters.entriesPersisted
        messagesSent = r.counters.messagesSent
        entriesApplied = r.counters.entriesApplied
        persistMicros = r.counters.persistMicros
        applyMicros = r.counters.applyMicros
        leaderChanges = UInt64(max(r.leaderChanges, 0))
        logSyncs = r.logSyncs.syncs
        logBytesSynced = r.logSyncs.bytes
        persistCPUMicros = r.counters.persistCPUMicros
        applyCPUMicros = r.counters.applyCPUMicros
        snapshotsInstalled = r.counters.snapshotsInstalled
        snapshotsSerialized = r.counters.snapshotsSerialized
        compactions = r.counters.compactions
    }
}
