import ByteCodec

/// Changes to alert rules and incidents, replicated through the log (tag 0xC5, then a
/// version). Times are carried in the command, so apply is the same on every replica.
public enum AlertCommand: Equatable, Sendable {
    case create(AlertRule)
    /// Tombstones the rule and resolves its open incidents at `atMillis`.
    case delete(id: UInt64, atMillis: UInt64)
    /// A new incident of `rule` for `chainId` (0: the cluster), unless one is open for them.
    case open(rule: UInt64, chainId: UInt64, atMillis: UInt64, value: Double, summary: String, term: UInt64)
    case resolve(incident: UInt64, atMillis: UInt64, value: Double)
    /// Notifications sent (or given up): bits of `AlertIncident.Notified` per incident and channel.
    case notified([Notification])
    /// An incident already over when it could be written: a `no_leader` outage, recorded by
    /// the next leader with every notification already sent by the nodes themselves. One
    /// per rule and lost leader term.
    case past(rule: UInt64, openedMillis: UInt64, resolvedMillis: UInt64, summary: String, term: UInt64)

    public struct Notification: Equatable, Sendable {
        public var incident: UInt64
        public var channel: UInt8
        public var bits: UInt8
        public init(incident: UInt64, channel: UInt8, bits: UInt8) { self.incident = incident; self.channel = channel; self.bits = bits }
    }

    public static let tag: UInt8 = 0xC5
    static let version: UInt8 = 1
    public static let maxBatch = 10_000

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.tag); w.u8(Self.version)
        switch self {
        case .create(let rule): w.u8(1); rule.write(&w)
        case .delete(let id, let at): w.u8(2); w.u64(id); w.u64(at)
        case .open(let rule, let chain, let at, let value, let summary, let term):
            w.u8(3); w.u64(rule); w.u64(chain); w.u64(at); w.u64(value.bitPattern); w.string(summary); w.u64(term)
        case .resolve(let incident, let at, let value): w.u8(4); w.u64(incident); w.u64(at); w.u64(value.bitPattern)
        case .notified(let list):
            w.u8(5); w.u32(UInt32(list.count))
            for n in list { w.u64(n.incident); w.u8(n.channel); w.u8(n.bits) }
        case .past(let rule, let opened, let resolved, let summary, let term):
            w.u8(6); w.u64(rule); w.u64(opened); w.u64(resolved); w.string(summary); w.u64(term)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> AlertCommand {
        var r = ByteReader(bytes, what: "alert command")
        guard try r.u8() == tag else { throw DecodeError("alert command: wrong tag") }
        let v = try r.u8()
        guard v == version else { throw DecodeError("alert command: unsupported version \(v) (this node reads \(version))") }
        let c: AlertCommand
        switch try r.u8() {
        case 1: c = .create(try AlertRule.read(&r))
        case 2: c = .delete(id: try r.u64(), atMillis: try r.u64())
        case 3:
            c = .open(rule: try r.u64(), chainId: try r.u64(), atMillis: try r.u64(), value: Double(bitPattern: try r.u64()),
                      summary: try r.string(), term: try r.u64())
        case 4: c = .resolve(incident: try r.u64(), atMillis: try r.u64(), value: Double(bitPattern: try r.u64()))
        case 5:
            let n = try r.u32()
            guard n <= maxBatch else { throw DecodeError("alert command: \(n) notifications (at most \(maxBatch))") }
            c = .notified(try (0..<n).map { _ throws(DecodeError) in Notification(incident: try r.u64(), channel: try r.u8(), bits: try r.u8()) })
        case 6:
            c = .past(rule: try r.u64(), openedMillis: try r.u64(), resolvedMillis: try r.u64(), summary: try r.string(), term: try r.u64())
        case let k: throw DecodeError("alert command: unknown kind \(k)")
        }
        try r.expectEnd()
        return c
    }
}
