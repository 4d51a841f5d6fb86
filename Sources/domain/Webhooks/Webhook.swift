import ByteCodec

/// What a webhook is told about.
public enum WebhookEvent: UInt8, Sendable, CaseIterable {
    case newBlock = 1, newTx = 2, contractEvent = 3, stateChange = 4
    public var name: String {
        switch self { case .newBlock: "new_block"; case .newTx: "new_tx"; case .contractEvent: "contract_event"; case .stateChange: "state_change" }
    }
    public init?(name: String) { guard let e = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = e }
}

/// How deep a block must be before its events go out. `safe` and `finalized` follow the
/// chain's own tags, which a reorg never undoes, so no retraction is ever sent for them.
public enum Confirmations: Equatable, Sendable {
    case latest
    case depth(UInt32)
    case safe
    case finalized

    public var text: String {
        switch self { case .latest: "latest"; case .depth(let n): String(n); case .safe: "safe"; case .finalized: "finalized" }
    }

    public init?(text: String) {
        switch text {
        case "latest", "0": self = .latest
        case "safe": self = .safe
        case "finalized": self = .finalized
        default:
            guard let n = UInt32(text), (1...10_000).contains(n) else { return nil }
            self = .depth(n)
        }
    }
}

/// Where the events go and in what shape.
public enum WebhookFormat: UInt8, Sendable, CaseIterable {
    case json = 1, slack = 2, pagerDuty = 3
    public var name: String { switch self { case .json: "json"; case .slack: "slack"; case .pagerDuty: "pagerduty" } }
    public init?(name: String) { guard let f = Self.allCases.first(where: { $0.name == name }) else { return nil }; self = f }
}

/// One organisation's subscription to one chain's events. The signing secret is kept in
/// the clear (the node signs with it); after a rotation the previous one signs too, until
/// `previousValidUntilMillis`, so a receiver can switch without losing a delivery.
public struct Webhook: Equatable, Sendable {
    public var id: UInt64
    public var org: UInt64
    public var chainId: UInt64
    public var name: String
    public var url: String
    public var event: WebhookEvent
    /// The event's filter as canonical JSON (validated by the admin API).
    public var filter: [UInt8]
    public var confirmations: Confirmations
    /// A POST carries up to this many events, or what came within `batchMaxMillis`.
    public var batchMaxEvents: UInt32
    public var batchMaxMillis: UInt32
    public var format: WebhookFormat
    /// `whsec_` and the base64 of the key.
    public var secret: String
    public var previousSecret: String?
    public var previousValidUntilMillis: UInt64
    public var paused: Bool
    /// Why it was paused (by a person, or by the retry ceiling); empty when running.
    public var pausedReason: String
    public var createdBy: UInt64
    public var createdMillis: UInt64

    public init(id: UInt64, org: UInt64, chainId: UInt64, name: String, url: String, event: WebhookEvent, filter: [UInt8] = Array("{}".utf8),
                confirmations: Confirmations = .latest, batchMaxEvents: UInt32 = 1, batchMaxMillis: UInt32 = 0, format: WebhookFormat = .json,
                secret: String, createdBy: UInt64, createdMillis: UInt64) {
        self.id = id; self.org = org; self.chainId = chainId; self.name = name; self.url = url; self.event = event; self.filter = filter
        self.confirmations = confirmations; self.batchMaxEvents = batchMaxEvents; self.batchMaxMillis = batchMaxMillis; self.format = format
        self.secret = secret; self.previousSecret = nil; self.previousValidUntilMillis = 0; self.paused = false; self.pausedReason = ""
        self.createdBy = createdBy; self.createdMillis = createdMillis
    }

    /// The secrets that sign a delivery at `nowMillis`: the current one, and the previous
    /// one within its grace period.
    public func signingSecrets(nowMillis: UInt64) -> [String] {
        [secret] + (previousSecret.map { nowMillis < previousValidUntilMillis ? [$0] : [] } ?? [])
    }

    static let maxURL = 2048
    static let maxFilter = 64 << 10

    func write(_ w: inout ByteWriter) {
        w.u64(id); w.u64(org); w.u64(chainId); w.string(name); w.string(url); w.u8(event.rawValue); w.data(filter)
        switch confirmations {
        case .latest: w.u8(0); w.u32(0)
        case .depth(let n): w.u8(1); w.u32(n)
        case .safe: w.u8(2); w.u32(0)
        case .finalized: w.u8(3); w.u32(0)
        }
        w.u32(batchMaxEvents); w.u32(batchMaxMillis); w.u8(format.rawValue)
        w.string(secret); w.string(previousSecret ?? ""); w.u64(previousValidUntilMillis)
        w.bool(paused); w.string(pausedReason); w.u64(createdBy); w.u64(createdMillis)
    }

    static func read(_ r: inout ByteReader) throws(DecodeError) -> Webhook {
        let id = try r.u64(), org = try r.u64(), chain = try r.u64(), name = try r.string(), url = try r.string()
        let rawEvent = try r.u8()
        guard let event = WebhookEvent(rawValue: rawEvent) else { throw DecodeError("webhook: unknown event \(rawEvent)") }
        let filter = try r.data(max: maxFilter)
        let kind = try r.u8(), depth = try r.u32()
        let confirmations: Confirmations
        switch kind {
        case 0: confirmations = .latest
        case 1: confirmations = .depth(depth)
        case 2: confirmations = .safe
        case 3: confirmations = .finalized
        default: throw DecodeError("webhook: unknown confirmations \(kind)")
        }
        let maxEvents = try r.u32(), maxMillis = try r.u32(), rawFormat = try r.u8()
        guard let format = WebhookFormat(rawValue: rawFormat) else { throw DecodeError("webhook: unknown format \(rawFormat)") }
        var h = Webhook(id: id, org: org, chainId: chain, name: name, url: url, event: event, filter: filter, confirmations: confirmations,
                        batchMaxEvents: maxEvents, batchMaxMillis: maxMillis, format: format, secret: try r.string(), createdBy: 0, createdMillis: 0)
        let previous = try r.string()
        h.previousSecret = previous.isEmpty ? nil : previous
        h.previousValidUntilMillis = try r.u64()
        h.paused = try r.bool()
        h.pausedReason = try r.string()
        h.createdBy = try r.u64()
        h.createdMillis = try r.u64()
        return h
    }
}

/// A place in a webhook's event stream: the receiver holds the first `held` events of block
/// `block` (hash `hash`, on whatever branch it was delivered) and every event of that block's
/// ancestors. `held` is `whole` once the block's events are all out. Going forward raises
/// `held` and moves to the next block; a block a reorg removed is retracted event by event
/// from the end, lowering `held`, and when it reaches 0 the place moves to the parent. The
/// hash tells a deliverer which of the two applies.
public struct StreamPoint: Equatable, Sendable {
    public var block: UInt64
    public var hash: [UInt8]
    public var held: UInt32
    public static let whole = UInt32.max
    public init(block: UInt64, hash: [UInt8], held: UInt32 = whole) { self.block = block; self.hash = hash; self.held = held }

    func write(_ w: inout ByteWriter) { w.u64(block); w.data(hash); w.u32(held) }
    static func read(_ r: inout ByteReader) throws(DecodeError) -> StreamPoint {
        StreamPoint(block: try r.u64(), hash: try r.data(max: 64), held: try r.u32())
    }
}

/// A webhook's delivery position as the log keeps it. `at` is what the receiver has
/// acknowledged. `sending` is set while a batch is out: where that batch ends, which the
/// receiver may or may not hold. It is written to the log before the batch is sent, so a
/// deliverer taking over after a failover knows every event the receiver might hold, and can
/// retract those a reorg removed meanwhile before it sends the rest again from `at`.
///
/// `generation` counts replays (each one starts a new stream), and `epoch` is the Raft term
/// of the leader that delivered: apply keeps a position only from the current generation and
/// from a deliverer at least as recent, so a deposed leader's late write never moves it back.
public struct WebhookCursor: Equatable, Sendable {
    public var webhook: UInt64
    public var at: StreamPoint
    public var sending: StreamPoint?
    public var generation: UInt32
    public var epoch: UInt64

    public init(webhook: UInt64, at: StreamPoint, sending: StreamPoint? = nil, generation: UInt32 = 0, epoch: UInt64 = 0) {
        self.webhook = webhook; self.at = at; self.sending = sending; self.generation = generation; self.epoch = epoch
    }

    func write(_ w: inout ByteWriter) {
        w.u64(webhook); at.write(&w); w.bool(sending != nil)
        sending?.write(&w)
        w.u32(generation); w.u64(epoch)
    }

    static func read(_ r: inout ByteReader) throws(DecodeError) -> WebhookCursor {
        let webhook = try r.u64(), at = try StreamPoint.read(&r)
        let sending = try r.bool() ? try StreamPoint.read(&r) : nil
        return WebhookCursor(webhook: webhook, at: at, sending: sending, generation: try r.u32(), epoch: try r.u64())
    }
}

/// One delivery attempt as the deliverer saw it, kept (the latest 100 per webhook) for
/// `GET /v1/webhooks/{id}/deliveries`.
public struct DeliveryAttempt: Equatable, Sendable {
    public var webhook: UInt64
    public var atMillis: UInt64
    /// The first event's id and how many the POST carried.
    public var firstEvent: String
    public var events: UInt32
    /// The receiver's HTTP status, 0 when there was none (timeout, connection error).
    public var status: UInt16
    public var latencyMillis: UInt32
    public var error: String
    public var node: UInt64
    public init(webhook: UInt64, atMillis: UInt64, firstEvent: String, events: UInt32, status: UInt16, latencyMillis: UInt32, error: String, node: UInt64) {
        self.webhook = webhook; self.atMillis = atMillis; self.firstEvent = firstEvent; self.events = events
        self.status = status; self.latencyMillis = latencyMillis; self.error = error; self.node = node
    }

    func write(_ w: inout ByteWriter) {
        w.u64(webhook); w.u64(atMillis); w.string(firstEvent); w.u32(events); w.u32(UInt32(status)); w.u32(latencyMillis); w.string(error); w.u64(node)
    }

    static func read(_ r: inout ByteReader) throws(DecodeError) -> DeliveryAttempt {
        let webhook = try r.u64(), at = try r.u64(), first = try r.string(), events = try r.u32(), status = try r.u32()
        guard status <= UInt32(UInt16.max) else { throw DecodeError("delivery attempt: status \(status)") }
        return DeliveryAttempt(webhook: webhook, atMillis: at, firstEvent: first, events: events, status: UInt16(status),
                               latencyMillis: try r.u32(), error: try r.string(), node: try r.u64())
    }
}
