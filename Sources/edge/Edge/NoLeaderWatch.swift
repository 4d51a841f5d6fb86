import Alerts
import ByteCodec
import Dispatch
import Foundation
import Net
import StateMachine
import Synchronization
import Telemetry

/// The `no_leader` alerts, on every node: while the cluster has no leader nothing can be
/// written to the log, so no incident can open there. Each node that has known no leader for
/// a rule's `for` (at least `minimumSeconds`) notifies the rule's channels itself, and tells
/// them it resolved once a leader is back. Every node names the outage by the term of the
/// last leader it knew, so the message id and the PagerDuty dedup key are the same from all of
/// them: the receiver sees one incident. The node that leads afterwards records the outage in
/// the log as a past incident (one per rule and lost term, whoever reports it).
///
/// A node cut off alone from the other two cannot tell that from the other two being down:
/// it reports no leader in both cases (the other two, if they have a leader, report it down).
public final class NoLeaderWatch: Sendable {
    struct State {
        var since: UInt64?
        var lostTerm: UInt64 = 0
        var fired: [UInt64: AlertRule] = [:]
    }

    let node: ChainNode
    let sender: WebhookSender
    let clusterId: String
    let logger: Logger
    /// A frame to a peer: a follower hands its record of an outage to the leader.
    let send: @Sendable (_ peer: UInt64, _ type: UInt8, _ payload: [UInt8]) -> Void
    private let state = Mutex(State())
    private let workers = WorkerPool(name: "no-leader-post", maxThreads: 4)

    static let minimumSeconds: UInt32 = 5
    /// A node that has not known a leader since it started may only be joining: it waits
    /// this long before it calls that an outage.
    static let neverKnownSeconds: UInt32 = 60
    static let attempts = 3
    public static let frameType: UInt8 = 5

    init(node: ChainNode, sender: WebhookSender, clusterId: String, logger: Logger, send: @escaping @Sendable (UInt64, UInt8, [UInt8]) -> Void) {
        self.node = node; self.sender = sender; self.clusterId = clusterId; self.logger = logger; self.send = send
    }

    /// A peer's record of an outage it notified (an `AlertCommand.past`), proposed here if
    /// this node leads; apply keeps one per rule and lost term.
    public func receive(from peer: UInt64, _ payload: [UInt8]) throws(DecodeError) {
        guard case .past = try AlertCommand.decode(payload) else { throw DecodeError("no-leader record: not a past incident") }
        guard node.report.status.role == .leader else { return }
        propose(payload)
    }

    private func propose(_ entry: [UInt8]) {
        node.propose(raw: entry) { [logger] outcome in
            if case .applied = outcome { return }
            logger.warn("no_leader_incident_not_recorded", [("outcome", "\(outcome)")])
        }
    }

    public func tick(nowMillis: UInt64) {
        let r = node.report
        if r.status.leader != 0 {
            let ended: (since: UInt64, term: UInt64, fired: [AlertRule])? = state.withLock { s in
                guard let since = s.since else { return nil }
                defer { s.since = nil; s.fired = [:] }
                return (since, s.lostTerm, s.fired.values.sorted { $0.id < $1.id })
            }
            guard let ended, !ended.fired.isEmpty else { return }
            logger.info("no_leader_resolved", [("lostTerm", ended.term), ("seconds", (nowMillis - ended.since) / 1000)])
            for rule in ended.fired { notify(rule, since: ended.since, term: ended.term, phase: .resolved, nowMillis: nowMillis) }
            // Into the log: here when this node leads, else through the leader (Raft forwards no proposals).
            for rule in ended.fired {
                let summary = "\(rule.name): the cluster had no leader for \((nowMillis - ended.since) / 1000) s (the last was of term \(ended.term))"
                let entry = AlertCommand.past(rule: rule.id, openedMillis: ended.since, resolvedMillis: max(nowMillis, ended.since + 1), summary: summary, term: ended.term).encoded()
                if r.status.role == .leader { propose(entry) } else { send(r.status.leader, Self.frameType, entry) }
            }
            return
        }
        let (since, term) = state.withLock { s in
            // The report's term of the last known leader, not this tick's sampling: a leader
            // known for less than a tick (a node restarted just before the outage) still counts.
            if s.since == nil { s.since = nowMillis; s.lostTerm = r.lastLeaderTerm }
            return (s.since!, s.lostTerm)
        }
        let rules = ((try? node.stateMachine.alertView { d, txn in try d.allRules(txn) }) ?? []).filter { !$0.deleted && $0.condition.metric == .noLeader }
        let due = state.withLock { s in
            let floor = s.lostTerm == 0 ? Self.neverKnownSeconds : Self.minimumSeconds
            return rules.filter { rule in
                guard s.fired[rule.id] == nil, nowMillis >= since + UInt64(max(rule.forSeconds, floor)) * 1000 else { return false }
                s.fired[rule.id] = rule
                return true
            }
        }
        for rule in due {
            logger.error("no_leader", [("alert", OrgAdmin.idText(rule.id)), ("lostTerm", term), ("seconds", (nowMillis - since) / 1000)])
            notify(rule, since: since, term: term, phase: .firing, nowMillis: nowMillis)
        }
    }

    static func notice(_ rule: AlertRule, since: UInt64, term: UInt64, phase: AlertIncident.Phase, nowMillis: UInt64) -> AlertPayload.Notice {
        AlertPayload.Notice(rule: rule, incidentId: "noleader-\(OrgAdmin.idText(rule.id))-\(term)", chainId: 0,
                            summary: "\(rule.name): the cluster has no leader (since \(OrgAdmin.iso8601(since)); the last was of term \(term))",
                            value: phase == .firing ? 1 : 0, openedMillis: since, resolvedMillis: phase == .resolved ? nowMillis : nil, phase: phase)
    }

    /// Each channel, a few tries a second apart: with no leader there is no log to keep a
    /// retry in, and the next node reporting the same outage sends the same message.
    private func notify(_ rule: AlertRule, since: UInt64, term: UInt64, phase: AlertIncident.Phase, nowMillis: UInt64) {
        let n = Self.notice(rule, since: since, term: term, phase: phase, nowMillis: nowMillis)
        for channel in rule.channels {
            workers.submit { [self] in
                for attempt in 1...Self.attempts {
                    let r = sender.send(to: channel.url, secrets: [rule.secret], id: AlertPayload.messageId(n),
                                        body: AlertPayload.body(channel.kind, n, clusterId: clusterId), nowMillis: unixMillis())
                    if r.ok { return }
                    if attempt == Self.attempts {
                        logger.warn("no_leader_notification_failed", [("alert", OrgAdmin.idText(rule.id)), ("phase", phase.name), ("error", r.error)])
                    } else {
                        usleep(UInt32(1000 * WebhookDeliverer.backoff(failures: attempt, retryAfterSeconds: nil)))
                    }
                }
            }
        }
    }
}
