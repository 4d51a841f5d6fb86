import ByteCodec

/// One firing of a rule for one subject (a chain, or the cluster: chain 0), from the moment
/// the leader saw its condition hold long enough to the moment it stopped. Each of the rule's
/// channels gets one firing and one resolved notification for it; `notified` records which
/// went out (or were given up after the retries), so a new leader sends only what is missing.
public struct AlertIncident: Equatable, Sendable {
    public var id: UInt64
    public var rule: UInt64
    public var org: UInt64
    public var chainId: UInt64
    public var severity: AlertSeverity
    public var openedMillis: UInt64
    /// 0 while it fires.
    public var resolvedMillis: UInt64
    public var openValue: Double
    public var resolvedValue: Double
    /// A sentence for people: what held and its value.
    public var summary: String
    /// The Raft term of the leader that opened it; for a `no_leader` incident, the term of the
    /// leader that was lost (one incident per outage, however many nodes report it).
    public var term: UInt64
    /// Per channel of the rule, `Notified` bits.
    public var notified: [UInt8]

    public struct Notified: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let firing = Notified(rawValue: 1)
        public static let resolved = Notified(rawValue: 2)
        /// The retries ran out: nothing more is sent for that phase.
        public static let firingGivenUp = Notified(rawValue: 4)
        public static let resolvedGivenUp = Notified(rawValue: 8)
    }

    public var isOpen: Bool { resolvedMillis == 0 }

    public init(id: UInt64, rule: UInt64, org: UInt64, chainId: UInt64, severity: AlertSeverity, openedMillis: UInt64, openValue: Double,
                summary: String, term: UInt64, channels: Int) {
        self.id = id; self.rule = rule; self.org = org; self.chainId = chainId; self.severity = severity
        self.openedMillis = openedMillis; self.resolvedMillis = 0; self.openValue = openValue; self.resolvedValue = 0
        self.summary = summary; self.term = term; self.notified = Array(repeating: 0, count: channels)
    }

    /// What is still to send to channel `c`: the firing, then (once resolved) the resolution.
    public func due(_ c: Int) -> Phase? {
        let n = Notified(rawValue: notified[c])
        if !n.contains(.firing) && !n.contains(.firingGivenUp) { return .firing }
        if !isOpen && !n.contains(.resolved) && !n.contains(.resolvedGivenUp) { return .resolved }
        return nil
    }

    public enum Phase: UInt8, Sendable { case firing = 1, resolved = 2
        public var name: String { self == .firing ? "firing" : "resolved" }
        public var sent: Notified { self == .firing ? .firing : .resolved }
        public var givenUp: Notified { self == .firing ? .firingGivenUp : .resolvedGivenUp }
    }

    static let maxSummary = 1024

    func write(_ w: inout ByteWriter) {
        w.u64(id); w.u64(rule); w.u64(org); w.u64(chainId); w.u8(severity.rawValue)
        w.u64(openedMillis); w.u64(resolvedMillis); w.u64(openValue.bitPattern); w.u64(resolvedValue.bitPattern)
        w.string(summary); w.u64(term); w.data(notified)
    }

    static func read(_ r: inout ByteReader) throws(DecodeError) -> AlertIncident {
        let id = try r.u64(), rule = try r.u64(), org = try r.u64(), chain = try r.u64(), sev = try r.u8()
        guard let severity = AlertSeverity(rawValue: sev) else { throw DecodeError("alert incident: unknown severity \(sev)") }
        let opened = try r.u64(), resolved = try r.u64()
        let openValue = Double(bitPattern: try r.u64()), resolvedValue = Double(bitPattern: try r.u64())
        var i = AlertIncident(id: id, rule: rule, org: org, chainId: chain, severity: severity, openedMillis: opened, openValue: openValue,
                              summary: try r.string(), term: try r.u64(), channels: 0)
        i.resolvedMillis = resolved
        i.resolvedValue = resolvedValue
        i.notified = try r.data(max: AlertRule.maxChannels)
        return i
    }
}
