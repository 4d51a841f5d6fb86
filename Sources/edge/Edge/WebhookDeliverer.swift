import ByteCodec
import Chain
import ChainIndex
import NodeConfig
import Dispatch
import Net
import StateMachine
import Synchronization
import Telemetry
import WebhookEvents
import Webhooks

/// Sends every webhook its events, on the leader only, once an entry of the leader's own term
/// has applied (so the positions it starts from are the latest the log will ever hold from
/// an earlier leader).
///
/// Each webhook is a lane: its position in the event stream (`WebhookStream`), at most one
/// batch in flight or waiting to be retried, and its retry state. Lanes never wait on each
/// other: a POST runs on a worker (at most `concurrency` at once), and a lane that fails
/// backs off on its own (exponential with jitter, `Retry-After` honoured) until
/// `maxAttempts` failures in a row pause the webhook with the reason, an error log line and
/// a metric; its backlog stays in the chain index for a later resume or replay. Memory per
/// lane is one batch; everything after it is read back from LMDB when it is due.
///
/// Positions go into the log in one entry for all lanes, stamped with this leader's term so a
/// deposed leader's late write cannot move one back: before a batch is sent, its intent (the
/// position, and where the batch ends, `WebhookStream.intent`), so whoever delivers next
/// knows everything the receiver might hold; acknowledged positions every `flushMillis`. A
/// new leader starts from what the log holds: a failover re-sends what was out or not yet
/// acknowledged in the log (at least once, in order, same event ids), and retracts first
/// whatever of it a reorg removed meanwhile.
public final class WebhookDeliverer: Sendable {
    struct Lane {
        enum Phase { case idle, deriving, awaitingIntent, sending }
        var hook: Webhook
        var matcher: EventMatcher
        var position: WebhookCursor?
        var phase = Phase.idle
        /// The chain's heads when the stream last had nothing new: nothing to do until they move.
        var idleAt: ChainMark?
        /// The batch being sent or retried, the position after it, and what the log must hold
        /// before it goes out (`intentLogged` once it does).
        var batch: [StreamEvent] = []
        var after: WebhookCursor?
        var intent: WebhookCursor?
        var intentLogged = false
        var failures = 0
        var notBefore: UInt64 = 0
        /// When a batch smaller than `batchMaxEvents` was first seen (batching waits for more).
        var partialSince: UInt64?
        /// The acknowledged position is not in the log yet.
        var dirty = false
    }

    struct State {
        var epoch: UInt64 = 0
        var lanes: [UInt64: Lane] = [:]
        var running = 0
        var attempts: [DeliveryAttempt] = []
        var lastFlush: UInt64 = 0
        var proposing = false
        /// Set once an entry of this term applied here: every earlier entry (a deposed
        /// leader's last intents among them) is applied too, so the positions read are final.
        var caughtUp = false
        var barrierSent = false
    }

    let node: ChainNode
    let sender: WebhookSender
    let nodeId: UInt64
    let logger: Logger
    let maxAttempts: Int
    let concurrency: Int
    private let state = Mutex(State())
    /// Threads of its own: a POST blocks for up to the timeout, and GCD would run only about
    /// one per core at a time.
    private let workers: WorkerPool
    private let derived = WebhookStream.Cache()

    /// A chain's latest, safe and finalized heads: what a stream's next step depends on.
    struct ChainMark: Equatable { var latest: ChainIndex.Head?; var safe: UInt64?; var finalized: UInt64? }
    private let deliveries: CounterFamily
    private let paused: Counter
    private let backlogEvents: Gauge
    private let activeLanes: Gauge
    private let latency: Histogram
    private let backlogBlocks: Gauge
    private let backlogMaxBlocks: Gauge
    private let pausedNow: Gauge

    static let flushMillis: UInt64 = 1000
    static let baseBackoffMillis: UInt64 = 500
    static let maxBackoffMillis: UInt64 = 300_000
    static let maxRetryAfterMillis: UInt64 = 3_600_000
    static let maxKeptAttempts = 2000
    static let attemptsPerFlush = 10

    public convenience init(node: ChainNode, config: NodeConfig, logger: Logger, metrics: MetricsRegistry) {
        self.init(node: node, sender: WebhookSender(config), nodeId: config.nodeId, logger: logger, metrics: metrics,
                  maxAttempts: config.webhookMaxAttempts, concurrency: config.webhookConcurrency)
    }

    init(node: ChainNode, sender: WebhookSender, nodeId: UInt64, logger: Logger, metrics: MetricsRegistry, maxAttempts: Int, concurrency: Int) {
        precondition(maxAttempts > 0 && concurrency > 0, "a deliverer tries at least once, one at a time at least")
        self.node = node; self.sender = sender; self.nodeId = nodeId; self.logger = logger
        self.maxAttempts = maxAttempts; self.concurrency = concurrency
        workers = WorkerPool(name: "webhook-post", maxThreads: concurrency)
        deliveries = metrics.counters("webhook_deliveries_total", help: "Webhook POSTs by outcome",
                                      labels: [.allowed("outcome", ["delivered", "failed", "refused"])])
        paused = metrics.counter("webhook_paused_total", help: "Webhooks paused after too many failed deliveries in a row")
        backlogEvents = metrics.gauge("webhook_batch_events", help: "Events in batches sent or waiting to be retried, all webhooks")
        activeLanes = metrics.gauge("webhook_active", help: "Webhooks this node delivers (non-zero on the leader only)")
        latency = metrics.histogram("webhook_delivery_duration_seconds", help: "Time from a webhook POST to its receiver's answer")
        backlogBlocks = metrics.gauge("webhook_backlog_blocks", help: "Blocks between each running webhook's acknowledged position and its chain's head, summed (leader only)")
        backlogMaxBlocks = metrics.gauge("webhook_backlog_max_blocks", help: "The largest of those backlogs: the webhook furthest behind (leader only)")
        pausedNow = metrics.gauge("webhooks_paused", help: "Webhooks paused now, by the retry ceiling or by hand (leader only)")
    }

    /// One round: drop everything if this node stopped leading, sync the lanes with the
    /// webhook tables, start what is due, flush positions. Called every ~100 ms off the loops.
    public func tick(nowMillis: UInt64) {
        let r = node.report
        let leading = r.corruption == nil && r.diskAlarm == nil && r.status.role == .leader && r.appliedIndex >= r.status.committed
        guard leading else {
            state.withLock { s in if !s.lanes.isEmpty || s.epoch != 0 { s = State(running: s.running) } }
            activeLanes.set(0)
            backlogBlocks.set(0); backlogMaxBlocks.set(0); pausedNow.set(0)
            return
        }
        let term = r.status.term
        let barrier = state.withLock { s -> Bool in
            if s.epoch != term { s = State(epoch: term, running: s.running, lastFlush: nowMillis) }
            guard !s.caughtUp, !s.barrierSent else { return false }
            s.barrierSent = true
            return true
        }
        if barrier {
            // An empty position write, in this term: once it applies, the log before it has too.
            node.propose(raw: WebhookCommand.advance([], replay: false).encoded(), timeoutMillis: 5000) { [self] outcome in
                state.withLock { s in
                    guard s.epoch == term else { return }
                    if case .applied = outcome { s.caughtUp = true } else { s.barrierSent = false }
                }
            }
        }
        guard state.withLock({ $0.caughtUp && $0.epoch == term }) else { return }
        let hooks: [Webhook], cursors: [UInt64: WebhookCursor]
        do {
            (hooks, cursors) = try node.stateMachine.webhookView { d, txn in
                let all = try d.webhooks(txn)
                return (all, try all.reduce(into: [UInt64: WebhookCursor]()) { $0[$1.id] = try d.cursor($1.id, txn) })
            }
        } catch {
            logger.error("webhooks_unreadable", [("error", "\(error)")])
            return
        }
        let marks = (try? node.stateMachine.chain.view { v in
            try Set(hooks.map(\.chainId)).reduce(into: [UInt64: ChainMark]()) { m, cid in
                m[cid] = ChainMark(latest: try v.head(cid), safe: try v.head(cid, .safe)?.number, finalized: try v.head(cid, .finalized)?.number)
            }
        }) ?? [:]
        let due = state.withLock { s -> [UInt64] in
            guard s.epoch == term else { return [] }
            sync(&s, hooks.filter { !$0.paused }, cursors)
            return s.lanes.filter { id, lane in
                guard lane.phase == .idle, lane.notBefore <= nowMillis else { return false }
                if !lane.batch.isEmpty { return lane.intentLogged }
                return lane.idleAt == nil || lane.idleAt != marks[lane.hook.chainId]
            }.map(\.key).sorted()
        }
        for id in due { start(id, nowMillis: nowMillis) }
        let (count, pending, behind) = state.withLock { s in
            (s.lanes.count, s.lanes.values.reduce(0) { $0 + $1.batch.count },
             s.lanes.values.map { lane -> UInt64 in
                 guard let head = marks[lane.hook.chainId]?.latest?.number, let at = lane.position?.at.block else { return 0 }
                 return head > at ? head - at : 0
             })
        }
        activeLanes.set(Int64(count))
        backlogEvents.set(Int64(pending))
        backlogBlocks.set(Int64(clamping: behind.reduce(0, &+)))
        backlogMaxBlocks.set(Int64(clamping: behind.max() ?? 0))
        pausedNow.set(Int64(hooks.count { $0.paused }))
        record(nowMillis: nowMillis)
    }

    /// Lanes for the running webhooks; a lane whose webhook changed keeps its place unless the
    /// log's position is a newer generation (a replay) or the filter changed.
    private func sync(_ s: inout State, _ hooks: [Webhook], _ cursors: [UInt64: WebhookCursor]) {
        let live = Set(hooks.map(\.id))
        for id in s.lanes.keys where !live.contains(id) { s.lanes[id] = nil }
        for h in hooks {
            let logged = cursors[h.id]
            if var lane = s.lanes[h.id] {
                let replayed = (logged?.generation ?? 0) != (lane.position?.generation ?? lane.after?.generation ?? 0)
                if replayed || lane.hook.filter != h.filter || lane.hook.event != h.event {
                    guard lane.phase == .idle else { continue }  // replaced once the work in progress returns
                    s.lanes[h.id] = nil
                } else {
                    if lane.hook != h { lane.idleAt = nil }   // confirmations or batching changed: look again
                    lane.hook = h
                    s.lanes[h.id] = lane
                    continue
                }
            }
            guard let matcher = try? EventMatcher(event: h.event, filter: h.filter) else {
                logger.error("webhook_filter_unreadable", [("webhook", OrgAdmin.idText(h.id))])
                continue
            }
            s.lanes[h.id] = Lane(hook: h, matcher: matcher, position: logged)
        }
    }

    /// Sends the lane's batch when its intent is in the log, or reads its next batch from the
    /// stream (outside the lock, with the lane marked `deriving` so nothing else starts it).
    private func start(_ id: UInt64, nowMillis: UInt64) {
        enum Pick { case send(Webhook, [StreamEvent]), derive(Lane), nothing }
        let pick: Pick = state.withLock { s in
            guard var lane = s.lanes[id], lane.phase == .idle else { return .nothing }
            if !lane.batch.isEmpty {
                guard lane.intentLogged, s.running < concurrency else { return .nothing }
                lane.phase = .sending
                s.running += 1
                s.lanes[id] = lane
                return .send(lane.hook, lane.batch)
            }
            lane.phase = .deriving
            s.lanes[id] = lane
            return .derive(lane)
        }
        guard case .derive(let lane) = pick else {
            if case .send(let hook, let events) = pick { send(id, hook, events) }
            return
        }
        var step: WebhookStream.Step?
        var before: WebhookCursor?
        var mark: ChainMark?
        do {
            (before, step, mark) = try node.stateMachine.chain.view { v in
                let cid = lane.hook.chainId
                return (try lane.position ?? WebhookStream.start(lane.hook, v),
                        try WebhookStream.next(lane.hook, lane.matcher, after: lane.position, view: v, maxEvents: Self.maxEvents(lane.hook), cache: derived),
                        ChainMark(latest: try v.head(cid), safe: try v.head(cid, .safe)?.number, finalized: try v.head(cid, .finalized)?.number))
            }
        } catch {
            logger.error("webhook_events_unreadable", [("webhook", OrgAdmin.idText(id)), ("error", "\(error)")])
        }
        for note in step?.notes ?? [] { logger.warn("webhook_retractions_lost", [("webhook", OrgAdmin.idText(id)), ("why", note)]) }
        state.withLock { s in
            guard var current = s.lanes[id], current.phase == .deriving else { return }
            current.phase = .idle
            defer { s.lanes[id] = current }
            guard let step else { current.notBefore = nowMillis + 5000; return }
            if step.events.isEmpty {
                if step.position != current.position { current.position = step.position; current.dirty = true } else { current.idleAt = mark }
                current.partialSince = nil
                return
            }
            current.idleAt = nil
            // Batching: a short batch waits up to batchMaxMillis for more events.
            if step.events.count < Self.maxEvents(current.hook), current.hook.batchMaxMillis > 0 {
                let since = current.partialSince ?? nowMillis
                current.partialSince = since
                if nowMillis < since + UInt64(current.hook.batchMaxMillis) { return }
            }
            guard let before, let after = step.position else { return }
            current.partialSince = nil
            current.batch = step.events
            current.after = after
            current.intent = WebhookStream.intent(before: before, after: after, events: step.events)
            current.intentLogged = false
        }
        record(nowMillis: nowMillis)
    }

    private func send(_ id: UInt64, _ hook: Webhook, _ events: [StreamEvent]) {
        workers.submit { [self] in
            let body = WebhookPayload.body(hook, events)
            let result = sender.send(hook, id: WebhookPayload.messageId(hook, events), body: body, nowMillis: unixMillis())
            finish(id, hook, events, result, nowMillis: unixMillis())
        }
    }

    private func finish(_ id: UInt64, _ hook: Webhook, _ events: [StreamEvent], _ r: WebhookSender.Result, nowMillis: UInt64) {
        deliveries.labels(r.ok ? "delivered" : r.status == 0 && r.latencyMillis == 0 ? "refused" : "failed").increment()
        if r.status != 0 { latency.observe(Duration.milliseconds(r.latencyMillis)) }
        let attempt = DeliveryAttempt(webhook: id, atMillis: nowMillis, firstEvent: WebhookPayload.eventId(hook, events[0]), events: UInt32(events.count),
                                      status: UInt16(clamping: r.status), latencyMillis: UInt32(clamping: r.latencyMillis), error: r.error, node: nodeId)
        let pause: String? = state.withLock { s in
            s.running -= 1
            assert(s.running >= 0, "every finished POST was started")
            s.attempts.append(attempt)
            if s.attempts.count > Self.maxKeptAttempts { s.attempts.removeFirst(s.attempts.count - Self.maxKeptAttempts) }
            guard var lane = s.lanes[id], lane.phase == .sending, lane.batch == events else { return nil }  // leadership or the webhook changed meanwhile
            lane.phase = .idle
            if r.ok {
                lane.position = lane.after
                lane.batch = []
                lane.after = nil
                lane.intent = nil
                lane.intentLogged = false
                lane.failures = 0
                lane.notBefore = 0
                lane.dirty = true
                s.lanes[id] = lane
                return nil
            }
            lane.failures += 1
            if lane.failures >= maxAttempts {
                s.lanes[id] = nil
                return "paused after \(lane.failures) failed deliveries in a row; the last: \(r.error)"
            }
            lane.notBefore = nowMillis + Self.backoff(failures: lane.failures, retryAfterSeconds: r.retryAfterSeconds)
            s.lanes[id] = lane
            return nil
        }
        // The freed slot goes to a lane whose batch waits for one, now rather than at the next tick.
        let waiting = state.withLock { s in
            s.lanes.first { $0.key != id && $0.value.phase == .idle && !$0.value.batch.isEmpty && $0.value.intentLogged && $0.value.notBefore <= nowMillis }?.key
        }
        if let waiting { start(waiting, nowMillis: nowMillis) }
        guard let pause else {
            // The next batch of a lane that just delivered goes now, not at the next tick.
            if r.ok { start(id, nowMillis: nowMillis) }
            return
        }
        paused.increment()
        logger.error("webhook_paused", [("webhook", OrgAdmin.idText(id)), ("org", OrgAdmin.idText(hook.org)), ("reason", pause)])
        node.propose(raw: WebhookCommand.setPaused(id: id, paused: true, reason: pause).encoded()) { [logger] outcome in
            if case .applied = outcome { return }
            logger.warn("webhook_pause_not_recorded", [("webhook", OrgAdmin.idText(id)), ("outcome", "\(outcome)")])
        }
    }

    /// A POST's events: PagerDuty takes one alert a request.
    static func maxEvents(_ hook: Webhook) -> Int { hook.format == .pagerDuty ? 1 : Int(hook.batchMaxEvents) }

    /// Full jitter over an exponential step (so many receivers failing together do not retry
    /// in step), at least what `Retry-After` asked for.
    static func backoff(failures: Int, retryAfterSeconds: Int?, random: (ClosedRange<UInt64>) -> UInt64 = { UInt64.random(in: $0) }) -> UInt64 {
        precondition(failures > 0, "a backoff follows a failure")
        let step = min(maxBackoffMillis, baseBackoffMillis << UInt64(min(failures - 1, 20)))
        let jittered = random((step / 2)...step)
        guard let ra = retryAfterSeconds, ra > 0 else { return jittered }
        return max(jittered, min(UInt64(ra) * 1000, maxRetryAfterMillis))
    }

    /// Proposes, in one entry, the intents of batches about to go out (they are sent once it
    /// is applied) and, every `flushMillis`, the acknowledged positions of idle lanes and the
    /// attempts since the last time. One proposal at a time, so the log keeps their order.
    private func record(nowMillis: UInt64) {
        let work: (cursors: [WebhookCursor], intents: [UInt64], attempts: [DeliveryAttempt])? = state.withLock { s in
            guard !s.proposing, s.epoch != 0, s.caughtUp else { return nil }
            let term = s.epoch
            let due = nowMillis >= s.lastFlush + Self.flushMillis
            var cursors = [WebhookCursor](), intents = [UInt64]()
            for (id, lane) in s.lanes where lane.phase == .idle {
                var c: WebhookCursor
                if !lane.batch.isEmpty, !lane.intentLogged, let intent = lane.intent {
                    c = intent
                    intents.append(id)
                    s.lanes[id]!.phase = .awaitingIntent
                } else if due, lane.dirty, lane.batch.isEmpty, let p = lane.position {
                    c = p
                    s.lanes[id]!.dirty = false
                } else {
                    continue
                }
                c.webhook = id
                c.epoch = term
                cursors.append(c)
            }
            // The newest attempts of each webhook (a second of successes says no more than its last few).
            var perHook = [UInt64: Int]()
            let attempts = due ? Array(s.attempts.reversed().filter { a in
                perHook[a.webhook, default: 0] += 1
                return perHook[a.webhook]! <= Self.attemptsPerFlush
            }.reversed()) : []
            if due { s.attempts.removeAll(); s.lastFlush = nowMillis }
            guard !cursors.isEmpty || !attempts.isEmpty else { return nil }
            s.proposing = true
            return (cursors.sorted { $0.webhook < $1.webhook }, intents, attempts)
        }
        guard let work else { return }
        let n = WebhookCommand.maxBatch
        let entries = stride(from: 0, to: work.cursors.count, by: n).map { WebhookCommand.advance(Array(work.cursors[$0..<min($0 + n, work.cursors.count)]), replay: false).encoded() }
            + (work.attempts.isEmpty ? [] : [WebhookCommand.attempts(Array(work.attempts.suffix(n))).encoded()])
        let failed = Mutex((left: entries.count, failed: false))
        for entry in entries {
            node.propose(raw: entry, timeoutMillis: 5000) { [self] outcome in
                var ok = true
                if case .applied = outcome {} else { ok = false }
                let done = failed.withLock { f -> Bool? in
                    f.left -= 1
                    if !ok { f.failed = true }
                    return f.left == 0 ? !f.failed : nil
                }
                guard let allApplied = done else { return }
                let ready = state.withLock { s -> [UInt64] in
                    s.proposing = false
                    var ready = [UInt64]()
                    for id in work.intents {
                        guard var lane = s.lanes[id], lane.phase == .awaitingIntent else { continue }
                        lane.phase = .idle
                        lane.intentLogged = allApplied
                        if allApplied { ready.append(id) }
                        s.lanes[id] = lane
                    }
                    if !allApplied { for c in work.cursors where !work.intents.contains(c.webhook) { s.lanes[c.webhook]?.dirty = true } }
                    return ready
                }
                if !allApplied { logger.warn("webhook_positions_not_recorded_yet", [("outcome", "\(outcome)")]) }
                let now = unixMillis()
                for id in ready { start(id, nowMillis: now) }
                // Intents that came while this one was in the log go next, not a tick later.
                if allApplied { record(nowMillis: now) }
            }
        }
    }
}
