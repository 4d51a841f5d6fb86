import Alerts
import ByteCodec
import Net
import StateMachine
import Synchronization
import Telemetry

/// Built-in alerting on the leader: every `evaluateMillis` it judges the rules against the
/// cluster's readings (`AlertEvaluator`) and writes incidents opening and resolving to the
/// log; every tick it sends each incident's firing and resolved notification to each of its
/// rule's channels, signed like webhook deliveries and retried with the same backoff, and
/// records in the log what went out (or was given up after `maxAttempts`).
///
/// It starts in a term only after an empty entry of that term applied, so the incidents and
/// notification marks it reads are every earlier leader's. Across a failover a notification
/// that went out but was not recorded yet goes again with the same message id and PagerDuty
/// dedup key: at least once, one incident on the receiver's side.
public final class AlertNotifier: Sendable {
    struct Lane { var inFlight = false; var failures = 0; var notBefore: UInt64 = 0; var sent = false }
    struct State {
        var term: UInt64 = 0
        var barrierSent = false
        var caughtUp = false
        var evaluator = AlertEvaluator()
        var lastEvaluation: UInt64 = 0
        var evaluating = false
        var lanes: [String: Lane] = [:]
        var done: [AlertCommand.Notification] = []
        var recording = false
    }

    let node: ChainNode
    let sender: WebhookSender
    let clusterId: String
    let logger: Logger
    let maxAttempts: Int
    let readings: @Sendable () -> AlertReadings
    private let state = Mutex(State())
    private let workers: WorkerPool
    private let notifications: CounterFamily
    private let firing: Gauge

    static let evaluateMillis: UInt64 = 5000
    static let concurrency = 8

    init(node: ChainNode, sender: WebhookSender, clusterId: String, logger: Logger, metrics: MetricsRegistry, maxAttempts: Int,
         readings: @escaping @Sendable () -> AlertReadings) {
        precondition(maxAttempts > 0, "a notification is tried at least once")
        self.node = node; self.sender = sender; self.clusterId = clusterId; self.logger = logger; self.maxAttempts = maxAttempts
        self.readings = readings
        workers = WorkerPool(name: "alert-post", maxThreads: Self.concurrency)
        notifications = metrics.counters("alert_notifications_total", help: "Alert notifications sent by outcome (leader only)",
                                         labels: [.allowed("outcome", ["delivered", "failed", "given_up"])])
        firing = metrics.gauge("alert_incidents_open", help: "Built-in alert incidents firing now (leader only)")
    }

    public func tick(nowMillis: UInt64) {
        let r = node.report
        guard r.status.role == .leader, r.corruption == nil else {
            state.withLock { s in if s.term != 0 { s = State() } }
            firing.set(0)
            return
        }
        let term = r.status.term
        let barrier = state.withLock { s -> Bool in
            if s.term != term { s = State(); s.term = term }
            guard !s.barrierSent else { return false }
            s.barrierSent = true
            return true
        }
        if barrier {
            node.propose(raw: AlertCommand.notified([]).encoded(), timeoutMillis: 5000) { [self] outcome in
                state.withLock { s in
                    guard s.term == term else { return }
                    if case .applied = outcome { s.caughtUp = true } else { s.barrierSent = false }
                }
            }
            return
        }
        guard state.withLock({ $0.caughtUp }) else { return }
        evaluate(term: term, nowMillis: nowMillis)
        deliver(term: term, nowMillis: nowMillis)
        record(term: term)
    }

    // MARK: judging

    private func evaluate(term: UInt64, nowMillis: UInt64) {
        let due = state.withLock { s -> Bool in
            guard !s.evaluating, nowMillis >= s.lastEvaluation + Self.evaluateMillis else { return false }
            s.evaluating = true
            s.lastEvaluation = nowMillis
            return true
        }
        guard due else { return }
        let view: ([AlertRule], [AlertIncident])
        do { view = try node.stateMachine.alertView { d, txn in (try d.allRules(txn), try d.openIncidents(txn)) } } catch {
            logger.error("alerts_unreadable", [("error", "\(error)")])
            state.withLock { $0.evaluating = false }
            return
        }
        firing.set(Int64(view.1.count))
        let current = readings()
        let decisions = state.withLock { s in s.evaluator.evaluate(rules: view.0, open: view.1, readings: current, nowMillis: nowMillis) }
        guard !decisions.isEmpty else { state.withLock { $0.evaluating = false }; return }
        let left = Mutex(decisions.count)
        for d in decisions {
            let command: AlertCommand
            switch d {
            case .open(let rule, let chain, let value, let summary):
                command = .open(rule: rule, chainId: chain, atMillis: nowMillis, value: value, summary: summary, term: term)
                logger.warn("alert_firing", [("alert", OrgAdmin.idText(rule)), ("chain", chain), ("summary", summary)])
            case .resolve(let incident, let value):
                command = .resolve(incident: incident, atMillis: nowMillis, value: value)
                logger.info("alert_resolved", [("incident", OrgAdmin.idText(incident))])
            }
            node.propose(raw: command.encoded(), timeoutMillis: 5000) { [self] outcome in
                if case .applied = outcome {} else { logger.warn("alert_change_not_recorded", [("outcome", "\(outcome)")]) }
                if left.withLock({ $0 -= 1; return $0 == 0 }) { state.withLock { $0.evaluating = false } }
            }
        }
    }

    // MARK: telling

    static func key(_ incident: UInt64, _ channel: Int, _ phase: AlertIncident.Phase) -> String { "\(incident)/\(channel)/\(phase.rawValue)" }

    private func deliver(term: UInt64, nowMillis: UInt64) {
        let work: [(AlertIncident, AlertRule)]
        do {
            work = try node.stateMachine.alertView { d, txn in
                try d.undelivered(txn).compactMap { i in try d.rule(i.rule, txn).map { (i, $0) } }
            }
        } catch {
            logger.error("alert_incidents_unreadable", [("error", "\(error)")])
            return
        }
        var start = [(String, AlertRule, AlertIncident, Int, AlertIncident.Phase)]()
        state.withLock { s in
            var live = Set<String>()
            for (i, rule) in work {
                for c in i.notified.indices where c < rule.channels.count {
                    guard let phase = i.due(c) else { continue }
                    let k = Self.key(i.id, c, phase)
                    live.insert(k)
                    var lane = s.lanes[k] ?? Lane()
                    guard !lane.inFlight, !lane.sent, lane.notBefore <= nowMillis, s.lanes.values.count(where: \.inFlight) < Self.concurrency else { continue }
                    lane.inFlight = true
                    s.lanes[k] = lane
                    start.append((k, rule, i, c, phase))
                }
            }
            // Recorded ones are no longer due: forget them (and lanes of incidents gone).
            for k in s.lanes.keys where !live.contains(k) && !(s.lanes[k]!.inFlight) { s.lanes[k] = nil }
        }
        for (k, rule, incident, c, phase) in start {
            workers.submit { [self] in
                let notice = AlertPayload.notice(rule, incident, phase)
                let channel = rule.channels[c]
                let r = sender.send(to: channel.url, secrets: [rule.secret], id: AlertPayload.messageId(notice),
                                    body: AlertPayload.body(channel.kind, notice, clusterId: clusterId), nowMillis: unixMillis())
                finish(k, incident: incident.id, channel: c, phase: phase, r, term: term, nowMillis: unixMillis())
            }
        }
    }

    private func finish(_ k: String, incident: UInt64, channel: Int, phase: AlertIncident.Phase, _ r: WebhookSender.Result, term: UInt64, nowMillis: UInt64) {
        let gaveUp: Bool = state.withLock { s in
            guard s.term == term, var lane = s.lanes[k] else { return false }
            lane.inFlight = false
            defer { s.lanes[k] = lane }
            if r.ok {
                lane.sent = true
                s.done.append(.init(incident: incident, channel: UInt8(channel), bits: phase.sent.rawValue))
                return false
            }
            lane.failures += 1
            if lane.failures >= maxAttempts {
                lane.sent = true
                s.done.append(.init(incident: incident, channel: UInt8(channel), bits: phase.givenUp.rawValue))
                return true
            }
            lane.notBefore = nowMillis + WebhookDeliverer.backoff(failures: lane.failures, retryAfterSeconds: r.retryAfterSeconds)
            return false
        }
        notifications.labels(r.ok ? "delivered" : gaveUp ? "given_up" : "failed").increment()
        if gaveUp {
            logger.error("alert_notification_given_up", [("incident", OrgAdmin.idText(incident)), ("channel", channel), ("phase", phase.name), ("error", r.error)])
        } else if !r.ok {
            logger.warn("alert_notification_failed", [("incident", OrgAdmin.idText(incident)), ("channel", channel), ("phase", phase.name), ("error", r.error)])
        }
        record(term: term)
    }

    /// What went out, into the log in one entry; one proposal at a time.
    private func record(term: UInt64) {
        let batch: [AlertCommand.Notification]? = state.withLock { s in
            guard s.term == term, !s.recording, !s.done.isEmpty else { return nil }
            s.recording = true
            let b = Array(s.done.prefix(AlertCommand.maxBatch))
            s.done.removeFirst(b.count)
            return b
        }
        guard let batch else { return }
        node.propose(raw: AlertCommand.notified(batch).encoded(), timeoutMillis: 5000) { [self] outcome in
            var ok = false
            if case .applied = outcome { ok = true }
            state.withLock { s in
                guard s.term == term else { return }
                s.recording = false
                if !ok { s.done.insert(contentsOf: batch, at: 0) }
            }
            if !ok { logger.warn("alert_notifications_not_recorded_yet", [("outcome", "\(outcome)")]) } else { record(term: term) }
        }
    }
}
