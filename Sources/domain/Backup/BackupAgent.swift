import Chain
import Consensus
import Foundation
import ReplicatedLog
import StateMachine
import Storage
import Synchronization
import Telemetry

/// A node's backup duties: backups on request and on a schedule, and (on the leader)
/// shipping committed log entries in segments, so that the newest backup plus the shipped
/// log rebuild the cluster's state to within seconds. All of it runs on the agent's own
/// queue, never on the Raft loop or a serving thread.
public final class BackupAgent: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public enum TakenBy: String, Sendable { case follower, leader, any }
        /// A directory or s3://bucket/prefix.
        public var to: String
        /// Scheduled backups every this many minutes (nil: only on request).
        public var everyMinutes: Int?
        public var keep = 48
        public var takenBy = TakenBy.follower
        public var shipLogs = true
        public var shipEverySeconds = 30
        public var shipEveryMiB = 16
        public init(to: String) { self.to = to }
    }

    /// What /status shows of backups and shipping on this node.
    public struct Status: Sendable {
        public var lastBackup: BackupManifest?
        public var lastBackupSeconds: Double?
        public var lastBackupError: String?
        public var lastBackupAttemptMillis: UInt64?
        public var running = false
        public var shippedThrough: UInt64?
        public var lastShipMillis: UInt64?
        public var shipError: String?
        public var segmentsShipped = 0
    }

    let env: Environment
    let log: RaftLogStore
    let root: StateMachineRoot
    let clusterId: String
    let nodeId: UInt64
    let staging: String
    public let settings: Settings?
    let target: (any BackupTarget)?
    let report: @Sendable () -> NodeReport
    let logger: Logger
    let queue = DispatchQueue(label: "backup")
    private let state = Mutex(Status())
    private let busy = Mutex(false)
    /// Shipping position: the index and digest the last shipped segment ended at (nil
    /// until this node, as leader, read it from the target).
    private var shipped: (index: UInt64, digest: [UInt8])?
    private var lastShipMillis: UInt64 = 0
    private var lastPruneMillis: UInt64 = 0
    private var newestBackupMillis: UInt64?
    private var newestCheckedMillis: UInt64 = 0
    private var timer: DispatchSourceTimer?
    private let backupsOK, backupsFailed, segmentsOK, segmentsFailed: Counter
    private let lastSuccess, shippedIndex, shipLag: Gauge
    private let duration: Histogram

    public init(env: Environment, log: RaftLogStore, root: StateMachineRoot, clusterId: String, nodeId: UInt64, dataDir: String,
                settings: Settings?, report: @escaping @Sendable () -> NodeReport, logger: Logger, metrics: MetricsRegistry) throws {
        self.env = env; self.log = log; self.root = root; self.clusterId = clusterId; self.nodeId = nodeId
        staging = dataDir + "/backup-staging"
        self.settings = settings
        target = try settings.map { try BackupTargets.open($0.to) }
        self.report = report; self.logger = logger
        let outcomes = metrics.counters("backups_total", help: "Backups this node took, by outcome", labels: [.allowed("outcome", ["ok", "failed"])])
        backupsOK = outcomes.labels("ok"); backupsFailed = outcomes.labels("failed")
        let shippedFamily = metrics.counters("log_segments_shipped_total", help: "Log segments this node shipped to backup storage, by outcome",
                                             labels: [.allowed("outcome", ["ok", "failed"])])
        segmentsOK = shippedFamily.labels("ok"); segmentsFailed = shippedFamily.labels("failed")
        lastSuccess = metrics.gauge("backup_last_success_timestamp_seconds", help: "When this node's last backup completed (0: none yet)")
        shippedIndex = metrics.gauge("log_shipped_index", help: "The last Raft index shipped to backup storage (leader; 0 until known)")
        shipLag = metrics.gauge("log_shipping_lag_entries", help: "Applied entries not shipped yet (leader only)")
        duration = metrics.histogram("backup_duration_seconds", help: "How long each backup took, copy to manifest",
                                     buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600])
    }

    public var status: Status { state.withLock { $0 } }

    public func start() {
        guard settings != nil else { return }
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1), leeway: .milliseconds(200))
        t.setEventHandler { [weak self] in self?.tick(nowMillis: UInt64(Date().timeIntervalSince1970 * 1000)) }
        t.resume()
        timer = t
    }

    public struct Busy: Error, CustomStringConvertible { public var description: String { "a backup is already running on this node" } }

    /// One backup now, to `spec` (or the configured target). Refuses while another runs.
    public func backup(to spec: String?) throws -> BackupManifest {
        let target: any BackupTarget
        if let spec { target = try BackupTargets.open(spec) } else if let t = self.target { target = t } else {
            throw BackupTargetProblem("no destination: pass one (a directory or s3://bucket/prefix) or configure backup.to")
        }
        guard busy.withLock({ b in defer { b = true }; return !b }) else { throw Busy() }
        defer { busy.withLock { $0 = false } }
        let started = Date()
        state.withLock { $0.running = true; $0.lastBackupAttemptMillis = UInt64(started.timeIntervalSince1970 * 1000) }
        logger.info("backup_started", [("to", target.description)])
        let lastLogged = Mutex<Double>(0)
        do {
            let m = try HotBackup.create(env: env, clusterId: clusterId, nodeId: nodeId, staging: staging, target: target) { [logger] step, done, total in
                let now = Date().timeIntervalSince1970
                guard total > 0, lastLogged.withLock({ l in defer { if now - l >= 2 { l = now } }; return now - l >= 2 }) else { return }
                let rate = Double(done) / max(0.001, Date().timeIntervalSince(started))
                logger.info("backup_progress", [("step", step), ("done", done), ("total", total), ("percent", done * 100 / total),
                                                ("mibPerSecond", String(format: "%.1f", rate / 1048576)),
                                                ("etaSeconds", Int(Double(total - done) / max(rate, 1)))])
            }
            let seconds = Date().timeIntervalSince(started)
            state.withLock { $0.running = false; $0.lastBackup = m; $0.lastBackupSeconds = seconds; $0.lastBackupError = nil }
            backupsOK.increment(); duration.observe(seconds)
            lastSuccess.set(Int64(Date().timeIntervalSince1970))
            logger.info("backup_done", [("name", m.name), ("appliedIndex", m.appliedIndex), ("bytes", m.files.first?.bytes ?? 0),
                                        ("seconds", String(format: "%.2f", seconds)), ("to", target.description)])
            return m
        } catch {
            state.withLock { $0.running = false; $0.lastBackupError = "\(error)" }
            backupsFailed.increment()
            logger.error("backup_failed", [("to", target.description), ("error", "\(error)")])
            throw error
        }
    }

    /// Once a second on the agent's queue: a scheduled backup when due and this node is
    /// the one to take it; on the leader, a segment when due.
    func tick(nowMillis: UInt64) {
        guard let settings, let target else { return }
        let r = report()
        let leader = r.status.role == .leader
        if settings.shipLogs { ship(target, settings, leader: leader, applied: (r.appliedIndex, r.digest), nowMillis: nowMillis) }
        if let every = settings.everyMinutes, shouldTakeScheduled(settings.takenBy, r.status) {
            if newestBackupMillis == nil || nowMillis - newestCheckedMillis > 60_000 {
                newestCheckedMillis = nowMillis
                newestBackupMillis = (try? HotBackup.list(target))?.last?.manifest.createdAtMillis ?? 0
            }
            if nowMillis >= (newestBackupMillis ?? 0) + UInt64(every) * 60_000 {
                if (try? backup(to: nil)) != nil {
                    newestBackupMillis = nowMillis
                    do {
                        let pruned = try HotBackup.prune(target, keep: settings.keep)
                        if !pruned.isEmpty { logger.info("backups_pruned", [("names", pruned.joined(separator: ","))]) }
                    } catch { logger.warn("backup_prune_failed", [("error", "\(error)")]) }
                } else {
                    // Retry in a minute, not every second.
                    newestBackupMillis = nowMillis - UInt64(every) * 60_000 + 60_000
                }
            }
        }
    }

    /// Which node takes scheduled backups: by default the lowest-numbered follower voter
    /// (the leader is busiest); the leader when it is alone.
    func shouldTakeScheduled(_ takenBy: Settings.TakenBy, _ s: NodeStatus) -> Bool {
        switch takenBy {
        case .any: return s.leader != 0
        case .leader: return s.role == .leader
        case .follower:
            guard s.leader != 0 else { return false }
            let followers = s.conf.voters.filter { $0 != s.leader }
            return followers.isEmpty ? s.role == .leader : followers.min() == s.id
        }
    }

    /// Ships applied entries past the last shipped segment, every `shipEverySeconds` or
    /// as soon as `shipEveryMiB` are waiting. A new leader first reads where the last
    /// segment ended; a log compacted past that point leaves a gap, which is logged and
    /// restarts shipping from the current state (restore then needs a newer backup).
    func ship(_ target: any BackupTarget, _ settings: Settings, leader: Bool, applied: (UInt64, [UInt8]), nowMillis: UInt64) {
        guard leader else { shipped = nil; shipLag.set(0); return }
        do {
            if shipped == nil {
                guard let start = try startingPoint(target) else {
                    state.withLock { $0.shipError = "waiting for a backup to ship after (none of this history that the log still reaches)" }
                    return
                }
                shipped = start
                lastShipMillis = nowMillis
                state.withLock { $0.shippedThrough = start.0; $0.shipError = nil }
            }
            guard var pos = shipped, applied.0 > pos.index else { shipLag.set(0); return }
            shipLag.set(Int64(applied.0 - pos.index))
            if let first = try log.firstStoredIndex(), first > pos.index + 1 {
                logger.error("log_shipping_gap", [("shippedThrough", pos.index), ("logStartsAt", first),
                                                  ("why", "the log was compacted past the last shipped entry; shipping resumes after the next backup")])
                shipped = nil
                state.withLock { $0.shipError = "gap after \(pos.index): the log was compacted to \(first); waiting for a backup" }
                return
            }
            let limit = settings.shipEveryMiB << 20
            let due = nowMillis >= lastShipMillis + UInt64(settings.shipEverySeconds) * 1000
            let entries = try log.entries(from: pos.index + 1, through: applied.0, maxBytes: limit)
            let bytes = entries.reduce(0) { $0 + $1.data.count }
            guard !entries.isEmpty, due || bytes >= limit else { return }
            let seg = LogSegment(clusterId: clusterId, startDigest: pos.digest, entries: entries)
            // Entries the state machine applied produce the digest it reported.
            assert(seg.last != applied.0 || seg.endDigest == applied.1, "a shipped segment ends at the applied digest")
            try target.put(bytes: seg.encoded(), as: seg.name)
            pos = (seg.last, seg.endDigest)
            shipped = pos
            lastShipMillis = nowMillis
            segmentsOK.increment()
            shippedIndex.set(Int64(pos.index))
            shipLag.set(Int64(applied.0 - pos.index))
            state.withLock { $0.shippedThrough = pos.index; $0.lastShipMillis = nowMillis; $0.shipError = nil; $0.segmentsShipped += 1 }
            logger.info("log_segment_shipped", [("first", seg.first), ("last", seg.last), ("bytes", bytes), ("to", target.description)])
            if nowMillis >= lastPruneMillis + 600_000 { lastPruneMillis = nowMillis; pruneSegments(target) }
        } catch {
            segmentsFailed.increment()
            state.withLock { $0.shipError = "\(error)" }
            logger.warn("log_shipping_failed", [("error", "\(error)")])
            lastShipMillis = nowMillis   // retry at the next interval, not every second
        }
    }

    /// Where shipping continues, on this leader's own history: after the newest segment
    /// or backup whose last entry this log still holds with the same term (Raft's log
    /// matching: then every entry before it is the same too, and so is the digest), and
    /// whose next entry the log still holds. Segments or backups of another history (a
    /// point-in-time restore left the old one's later segments behind) are passed over.
    /// nil when there is nothing to continue from yet: shipping without a backup under it
    /// restores nothing, so it waits for the first backup.
    func startingPoint(_ target: any BackupTarget) throws -> (UInt64, [UInt8])? {
        guard let first = try log.firstStoredIndex() else { return nil }
        func ours(_ index: UInt64, term: UInt64, data: [UInt8]?) throws -> Bool {
            guard index + 1 >= first else { return false }
            guard let e = try log.entries(from: index, through: index, maxBytes: 1).first else { return false }
            return e.term == term && (data == nil || e.data == data!)
        }
        let named = try target.list(prefix: LogSegment.prefix).compactMap { n in LogSegment.range(ofName: n).map { (n, $0) } }
        for (name, range) in named.sorted(by: { $0.1.upperBound > $1.1.upperBound }) where range.upperBound + 1 >= first {
            guard let bytes = try target.get(name) else { continue }
            let seg = try LogSegment.decode(bytes, name: "\(target)/\(name)")
            guard seg.clusterId == clusterId else {
                throw BackupTargetProblem("\(target)/\(name) belongs to cluster '\(seg.clusterId)', not '\(clusterId)': give each cluster its own prefix")
            }
            let last = seg.entries.last!
            if try ours(last.index, term: last.term, data: last.data) { return (seg.last, seg.endDigest) }
        }
        for b in try HotBackup.list(target).reversed() where b.manifest.clusterId == clusterId {
            let m = b.manifest
            guard m.appliedIndex + 1 >= first, let digest = try? Hex.decodeData("0x" + m.stateDigest), digest.count == 32 else { continue }
            if try m.appliedIndex == 0 || ours(m.appliedIndex, term: m.appliedTerm, data: nil) { return (m.appliedIndex, digest) }
        }
        return nil
    }

    /// Segments wholly older than the oldest kept backup restore nothing: delete them.
    func pruneSegments(_ target: any BackupTarget) {
        do {
            guard let oldest = try HotBackup.list(target).first?.manifest.appliedIndex else { return }
            for name in try target.list(prefix: LogSegment.prefix) {
                if let r = LogSegment.range(ofName: name), r.upperBound <= oldest { try target.delete(name) }
            }
        } catch { logger.warn("log_segment_prune_failed", [("error", "\(error)")]) }
    }
}
