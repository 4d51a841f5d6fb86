import ByteCodec
import Storage

/// A webhook record or cursor that does not decode: corrupt replicated state.
public struct CorruptWebhookRecord: CorruptRecord, Equatable, Sendable {
    public let table: String
    public let key: String
    public let problem: String
    public var description: String { "corrupt replicated state in \(table) at \(key): \(problem)" }
}

/// The replicated webhook tables and the apply of `WebhookCommand`s: subscriptions
/// (`webhooks`), each one's acknowledged position (`webhook_cursors`) and its latest
/// delivery attempts (`webhook_attempts`, the newest `keptAttempts`). Apply is deterministic
/// and total: a command that does not fit is skipped with the same reason everywhere.
public final class WebhookDirectory: Sendable {
    let hooks: Table, cursors: Table, attemptLog: Table
    public static let tableNames = ["webhooks", "webhook_cursors", "webhook_attempts"]
    public static let keptAttempts = 100
    static let version: UInt8 = 1

    public init(env: Environment) throws {
        hooks = try env.table(Self.tableNames[0])
        cursors = try env.table(Self.tableNames[1])
        attemptLog = try env.table(Self.tableNames[2])
    }

    public struct Outcome: Equatable, Sendable {
        public var skipped: String?
        public init(skipped: String? = nil) { self.skipped = skipped }
    }

    /// Why a webhook record may not be stored, or nil.
    public static func problem(_ h: Webhook) -> String? {
        let n = h.name.unicodeScalars.count
        guard (1...100).contains(n), !h.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "a webhook's name is 1 to 100 characters, none a control character"
        }
        guard !h.url.isEmpty, h.url.utf8.count <= Webhook.maxURL else { return "a webhook's url is 1 to \(Webhook.maxURL) bytes" }
        guard h.secret.hasPrefix("whsec_"), h.secret.utf8.count <= 256 else { return "a webhook's secret is whsec_ and base64" }
        guard h.filter.count <= Webhook.maxFilter else { return "a webhook's filter is at most \(Webhook.maxFilter) bytes" }
        guard (1...10_000).contains(h.batchMaxEvents), h.batchMaxMillis <= 600_000 else { return "batches are 1 to 10000 events, waiting at most 600000 ms" }
        return nil
    }

    public func apply(_ command: WebhookCommand, in txn: WriteTransaction) throws -> Outcome {
        func skip(_ why: String) -> Outcome { Outcome(skipped: why) }
        switch command {
        case .create(let h):
            guard h.id != 0 else { return skip("webhook id 0 is no webhook") }
            if let why = Self.problem(h) { return skip(why) }
            guard try webhook(h.id, txn) == nil else { return skip("webhook \(h.id) exists") }
            try put(h, txn)
        case .update(let h):
            guard var stored = try webhook(h.id, txn) else { return skip("no webhook \(h.id)") }
            stored.name = h.name; stored.url = h.url; stored.filter = h.filter; stored.confirmations = h.confirmations
            stored.batchMaxEvents = h.batchMaxEvents; stored.batchMaxMillis = h.batchMaxMillis; stored.format = h.format
            if let why = Self.problem(stored) { return skip(why) }
            try put(stored, txn)
        case .delete(let id):
            guard try webhook(id, txn) != nil else { return skip("no webhook \(id)") }
            _ = try txn.delete(hooks, Key(id))
            _ = try txn.delete(cursors, Key(id))
            for e in try txn.entries(in: attemptLog, prefix: Key(id)) { _ = try txn.delete(attemptLog, e.key) }
        case .rotateSecret(let id, let secret, let until):
            guard var h = try webhook(id, txn) else { return skip("no webhook \(id)") }
            guard secret != h.secret else { return skip("the new secret is the current one") }
            h.previousSecret = h.secret
            h.previousValidUntilMillis = until
            h.secret = secret
            if let why = Self.problem(h) { return skip(why) }
            try put(h, txn)
        case .setPaused(let id, let paused, let reason):
            guard var h = try webhook(id, txn) else { return skip("no webhook \(id)") }
            h.paused = paused
            h.pausedReason = paused ? String(reason.prefix(512)) : ""
            try put(h, txn)
        case .advance(let list, let replay):
            var moved = 0
            for var c in list where try webhook(c.webhook, txn) != nil {
                let current = try cursor(c.webhook, txn)
                if replay {
                    c.generation = (current?.generation ?? 0) &+ 1
                    c.epoch = 0
                } else if let current, c.generation != current.generation || c.epoch < current.epoch {
                    continue
                }
                var w = ByteWriter()
                w.u8(Self.version); c.write(&w)
                try txn.put(cursors, Key(c.webhook), w.bytes)
                moved += 1
            }
            if moved == 0 && !list.isEmpty { return skip("no cursor moved (webhooks gone, or positions from an older replay or leader)") }
        case .attempts(let list):
            // One pass over each webhook's kept attempts, however many of its attempts come.
            var order = [UInt64](), byHook = [UInt64: [DeliveryAttempt]]()
            for a in list {
                if byHook[a.webhook] == nil { order.append(a.webhook) }
                byHook[a.webhook, default: []].append(a)
            }
            for id in order where try webhook(id, txn) != nil {
                let new = byHook[id]!.suffix(Self.keptAttempts)
                let kept = try txn.entries(in: attemptLog, prefix: Key(id))
                var next = (kept.last.map { u64($0.key[8..<16]) } ?? 0) + 1
                for a in new {
                    var w = ByteWriter()
                    w.u8(Self.version); a.write(&w)
                    try txn.put(attemptLog, Key(id).appending(next), w.bytes)
                    next += 1
                }
                for old in kept.prefix(max(0, kept.count + new.count - Self.keptAttempts)) { _ = try txn.delete(attemptLog, old.key) }
            }
        }
        return Outcome()
    }

    // MARK: reads

    public func webhook(_ id: UInt64, _ txn: ReadTransaction) throws -> Webhook? {
        guard let raw = try txn.get(hooks, Key(id)) else { return nil }
        return try decode(Entry(key: Key(id).bytes, value: raw))
    }

    public func webhooks(_ txn: ReadTransaction) throws -> [Webhook] {
        try txn.entries(in: hooks).map(decode)
    }

    public func cursor(_ id: UInt64, _ txn: ReadTransaction) throws -> WebhookCursor? {
        guard let raw = try txn.get(cursors, Key(id)) else { return nil }
        var r = ByteReader(raw, what: "webhook_cursors")
        do {
            guard try r.u8() == Self.version else { throw DecodeError("unknown record version") }
            let c = try WebhookCursor.read(&r)
            try r.expectEnd()
            guard c.webhook == id else { throw DecodeError("the position of webhook \(c.webhook) stored under another key") }
            return c
        } catch {
            throw CorruptWebhookRecord(table: "webhook_cursors", key: "\(id)", problem: "\(error)")
        }
    }

    /// The latest attempts, oldest first.
    public func attempts(_ id: UInt64, _ txn: ReadTransaction) throws -> [DeliveryAttempt] {
        try txn.entries(in: attemptLog, prefix: Key(id)).map { e in
            var r = ByteReader(e.value, what: "webhook_attempts")
            do {
                guard try r.u8() == Self.version else { throw DecodeError("unknown record version") }
                let a = try DeliveryAttempt.read(&r)
                try r.expectEnd()
                return a
            } catch {
                throw CorruptWebhookRecord(table: "webhook_attempts", key: "\(id)", problem: "\(error)")
            }
        }
    }

    private func put(_ h: Webhook, _ txn: WriteTransaction) throws {
        var w = ByteWriter()
        w.u8(Self.version); h.write(&w)
        try txn.put(hooks, Key(h.id), w.bytes)
    }

    private func decode(_ e: Entry) throws -> Webhook {
        var r = ByteReader(e.value, what: "webhooks")
        do {
            guard try r.u8() == Self.version else { throw DecodeError("unknown record version") }
            let h = try Webhook.read(&r)
            try r.expectEnd()
            guard Key(h.id).bytes == e.key else { throw DecodeError("record \(h.id) stored under another key") }
            return h
        } catch {
            throw CorruptWebhookRecord(table: "webhooks", key: e.key.map { String(format: "%02x", $0) }.joined(), problem: "\(error)")
        }
    }

    private func u64(_ b: ArraySlice<UInt8>) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }
}
