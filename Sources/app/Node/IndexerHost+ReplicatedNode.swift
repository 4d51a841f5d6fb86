import ChainFollower
import ReplicatedLog

/// The chain follower proposes through the replicated log: it may ingest only on a leader
/// that has applied everything committed and whose disk and state are sound.
extension ReplicatedNode: IndexerHost {
    public var mayIngest: Bool {
        let r = report
        return r.diskAlarm == nil && r.corruption == nil && r.status.role == .leader && r.appliedIndex >= r.status.committed
    }

    public func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> ReplicationOutcome {
        Self.replication(propose(raw: entry, timeoutMillis: timeoutMillis), timeoutMillis: timeoutMillis)
    }

    public func propose(_ entry: [UInt8], timeoutMillis: Int, then: @escaping @Sendable (ReplicationOutcome) -> Void) {
        propose(raw: entry, timeoutMillis: timeoutMillis) { then(Self.replication($0, timeoutMillis: timeoutMillis)) }
    }

    private static func replication(_ outcome: ProposeOutcome, timeoutMillis: Int) -> ReplicationOutcome {
        switch outcome {
        case .applied: return .applied
        case .notLeader(let l): return .notLeader(leader: l)
        case .rejected(let why): return .rejected(why)
        case .unavailable(let why): return .unavailable(why)
        case .timedOut: return .timedOut(afterMillis: timeoutMillis)
        }
    }
}
