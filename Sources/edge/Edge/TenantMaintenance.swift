import Synchronization
import StateMachine
import Telemetry
import Tenancy

/// The tenant tables' background work, one `tick` every `UsageRecorder.flushMillis` off the
/// loops (`NodeRuntime` drives it): usage batches into the log (proposed by the leader, sent
/// to it by followers), and retention, proposed by the leader at most once an hour: audit
/// entries older than `auditRetentionDays` and usage rows older than `usageRetentionDays`
/// are deleted in bounded steps (`TenantDirectory.maxCompaction` a command), the audit chain
/// continuing from an anchor so it still verifies.
public final class TenantMaintenance: Sendable {
    let node: ChainNode
    let recorder: UsageRecorder
    let logger: Logger
    let auditRetentionMillis: UInt64
    let usageRetentionMillis: UInt64
    /// Sends a message to a peer over the peer transport.
    let send: @Sendable (_ peer: UInt64, _ type: UInt8, _ payload: [UInt8]) -> Void
    private let lastRetention = Mutex<UInt64>(0)

    static let retentionEveryMillis: UInt64 = 3_600_000

    public init(node: ChainNode, recorder: UsageRecorder, auditRetentionDays: Int, usageRetentionDays: Int, logger: Logger,
                send: @escaping @Sendable (_ peer: UInt64, _ type: UInt8, _ payload: [UInt8]) -> Void) {
        precondition(auditRetentionDays > 0 && usageRetentionDays > 0, "retention keeps at least a day")
        self.node = node
        self.recorder = recorder
        self.logger = logger
        self.send = send
        auditRetentionMillis = UInt64(auditRetentionDays) * 86_400_000
        usageRetentionMillis = UInt64(usageRetentionDays) * 86_400_000
    }

    public func tick(nowMillis: UInt64) {
        recorder.seal(nowMillis: nowMillis)
        acknowledge()
        let r = node.report
        guard r.corruption == nil, r.status.leader != 0 else { return }
        if r.status.role != .leader {
            if let message = recorder.message() { send(r.status.leader, UsageRecorder.frameType, message) }
            return
        }
        let batches = recorder.unapplied()
        if !batches.isEmpty {
            let outcome = node.propose(raw: TenantCommand.usage(batches).encoded(), timeoutMillis: 5000)
            if case .applied = outcome { acknowledge() } else {
                logger.warn("usage_not_recorded_yet", [("batches", batches.count), ("outcome", "\(outcome)"), ("next", "retried in \(UsageRecorder.flushMillis / 1000) s")])
            }
        }
        let due = lastRetention.withLock { last -> Bool in
            guard nowMillis >= last + Self.retentionEveryMillis else { return false }
            last = nowMillis
            return true
        }
        if due { retain(nowMillis: nowMillis) }
    }

    private func acknowledge() {
        guard let seqs = try? node.stateMachine.tenantView({ d, txn in
            try ([recorder.nodeId] + recorder.unapplied().map(\.node)).reduce(into: [UInt64: UInt64]()) { $0[$1] = try d.usage.appliedSeq($1, txn) }
        }) else { return }
        recorder.acknowledge { seqs[$0] ?? 0 }
    }

    /// Deletes what retention no longer keeps, a bounded step at a time, until a step deletes
    /// less than it may.
    func retain(nowMillis: UInt64) {
        let limit = TenantDirectory.maxCompaction
        let auditBefore = nowMillis > auditRetentionMillis ? nowMillis - auditRetentionMillis : 0
        let usageBefore = (nowMillis > usageRetentionMillis ? nowMillis - usageRetentionMillis : 0) / 60_000
        var deleted = (audit: 0, usage: 0)
        for _ in 0..<100 {
            let before = counts()
            guard case .applied = node.propose(raw: TenantCommand.compactAudit(beforeMillis: auditBefore, limit: limit).encoded(), timeoutMillis: 10_000),
                  case .applied = node.propose(raw: TenantCommand.compactUsage(beforeMinute: usageBefore, limit: limit).encoded(), timeoutMillis: 10_000)
            else { break }
            let after = counts()
            let step = (before.audit - min(before.audit, after.audit), before.usage - min(before.usage, after.usage))
            deleted.audit += step.0
            deleted.usage += step.1
            if step.0 < Int(limit) && step.1 < Int(limit) { break }
        }
        if deleted.audit + deleted.usage > 0 {
            logger.info("tenant_retention", [("auditEntriesDeleted", deleted.audit), ("usageRowsDeleted", deleted.usage),
                                             ("auditRetentionDays", auditRetentionMillis / 86_400_000), ("usageRetentionDays", usageRetentionMillis / 86_400_000)])
        }
    }

    private func counts() -> (audit: Int, usage: Int) {
        (try? node.stateMachine.tenantView { d, txn in (Int(try d.audit.count(txn)), Int(try d.usage.rowCount(txn))) }) ?? (0, 0)
    }
}
