import ByteCodec

/// Changes to webhooks, replicated through the log (tag 0xC4, then a version).
public enum WebhookCommand: Equatable, Sendable {
    case create(Webhook)
    /// Replaces what a webhook's owner may change (name, url, filter, confirmations,
    /// batching, format); id, organisation, chain, event, secrets and times stay.
    case update(Webhook)
    case delete(id: UInt64)
    /// A new secret; the current one keeps signing until `previousValidUntilMillis`.
    case rotateSecret(id: UInt64, secret: String, previousValidUntilMillis: UInt64)
    case setPaused(id: UInt64, paused: Bool, reason: String)
    /// Delivery positions (see `WebhookCursor` for which ones are kept). A `replay` one
    /// starts a new generation at its position, whatever the deliverer has done.
    case advance([WebhookCursor], replay: Bool)
    case attempts([DeliveryAttempt])

    public static let tag: UInt8 = 0xC4
    static let version: UInt8 = 1
    public static let maxBatch = 10_000

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.tag); w.u8(Self.version)
        switch self {
        case .create(let h): w.u8(1); h.write(&w)
        case .update(let h): w.u8(2); h.write(&w)
        case .delete(let id): w.u8(3); w.u64(id)
        case .rotateSecret(let id, let secret, let until): w.u8(4); w.u64(id); w.string(secret); w.u64(until)
        case .setPaused(let id, let paused, let reason): w.u8(5); w.u64(id); w.bool(paused); w.string(reason)
        case .advance(let cursors, let replay):
            w.u8(6); w.bool(replay); w.u32(UInt32(cursors.count))
            for c in cursors { c.write(&w) }
        case .attempts(let list):
            w.u8(7); w.u32(UInt32(list.count))
            for a in list { a.write(&w) }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> WebhookCommand {
        var r = ByteReader(bytes, what: "webhook command")
        guard try r.u8() == tag else { throw DecodeError("webhook command: wrong tag") }
        let v = try r.u8()
        guard v == version else { throw DecodeError("webhook command: unsupported version \(v) (this node reads \(version))") }
        let c: WebhookCommand
        switch try r.u8() {
        case 1: c = .create(try Webhook.read(&r))
        case 2: c = .update(try Webhook.read(&r))
        case 3: c = .delete(id: try r.u64())
        case 4: c = .rotateSecret(id: try r.u64(), secret: try r.string(), previousValidUntilMillis: try r.u64())
        case 5: c = .setPaused(id: try r.u64(), paused: try r.bool(), reason: try r.string())
        case 6:
            let replay = try r.bool(), n = try r.u32()
            guard n <= maxBatch else { throw DecodeError("webhook command: \(n) cursors (at most \(maxBatch))") }
            c = .advance(try (0..<n).map { _ throws(DecodeError) in try WebhookCursor.read(&r) }, replay: replay)
        case 7:
            let n = try r.u32()
            guard n <= maxBatch else { throw DecodeError("webhook command: \(n) attempts (at most \(maxBatch))") }
            c = .attempts(try (0..<n).map { _ throws(DecodeError) in try DeliveryAttempt.read(&r) })
        case let k: throw DecodeError("webhook command: unknown kind \(k)")
        }
        try r.expectEnd()
        return c
    }
}
