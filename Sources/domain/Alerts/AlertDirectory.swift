import ByteCodec
import Storage

/// An alert record that does not decode: corrupt replicated state.
public struct CorruptAlertRecord: CorruptRecord, Equatable, Sendable {
    public let table: String
    public let key: String
    public let problem: String
    public var description: String { "corrupt replicated state in \(table) at \(key): \(problem)" }
}

/// The replicated alert tables and the apply of `AlertCommand`s: rules (`alert_rules`, deleted
/// ones as tombstones), incidents by id in the order they opened (`alert_incidents`, the
/// newest `keptIncidents`), and the open incident of each rule and subject (`alert_open`), which
/// makes "one incident per firing" a property of apply: a second open for the same rule and
/// chain, from a deposed leader or a retry, is skipped. Apply is deterministic and total.
public final class AlertDirectory: Sendable {
    let rules: Table, incidents: Table, open: Table, meta: Table
    public static let tableNames = ["alert_rules", "alert_incidents", "alert_open", "alert_meta"]
    public static let keptIncidents: UInt64 = 10_000
    static let version: UInt8 = 1
    static let nextKey = Array("next_incident".utf8)

    public init(env: Environment) throws {
        rules = try env.table(Self.tableNames[0])
        incidents = try env.table(Self.tableNames[1])
        open = try env.table(Self.tableNames[2])
        meta = try env.table(Self.tableNames[3])
    }

    public struct Outcome: Equatable, Sendable {
        public var skipped: String?
        public init(skipped: String? = nil) { self.skipped = skipped }
    }

    /// Why a rule may not be stored, or nil.
    public static func problem(_ r: AlertRule) -> String? {
        let n = r.name.unicodeScalars.count
        guard (1...100).contains(n), !r.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "an alert's name is 1 to 100 characters, none a control character"
        }
        guard (1...AlertRule.maxChannels).contains(r.channels.count) else { return "an alert has 1 to \(AlertRule.maxChannels) channels" }
        guard r.channels.allSatisfy({ !$0.url.isEmpty && $0.url.utf8.count <= 2048 }) else { return "a channel's url is 1 to 2048 bytes" }
        guard r.forSeconds <= AlertRule.maxForSeconds else { return "for is at most \(AlertRule.maxForSeconds) seconds" }
        guard r.secret.hasPrefix("whsec_"), r.secret.utf8.count <= 256 else { return "an alert's secret is whsec_ and base64" }
        guard r.condition.threshold.isFinite else { return "the threshold is a finite number" }
        return nil
    }

    public func apply(_ command: AlertCommand, in txn: WriteTransaction) throws -> Outcome {
        func skip(_ why: String) -> Outcome { Outcome(skipped: why) }
        switch command {
        case .create(let rule):
            guard rule.id != 0 else { return skip("alert id 0 is no alert") }
            if let why = Self.problem(rule) { return skip(why) }
            guard try self.rule(rule.id, txn) == nil else { return skip("alert \(rule.id) exists") }
            var stored = rule
            stored.deleted = false
            try put(stored, txn)
        case .delete(let id, let at):
            guard var rule = try self.rule(id, txn), !rule.deleted else { return skip("no alert \(id)") }
            rule.deleted = true
            try put(rule, txn)
            for e in try txn.entries(in: open, prefix: Key(id)) {
                if var i = try incident(u64(e.value[...]), txn) {
                    i.resolvedMillis = max(at, i.openedMillis + 1)
                    i.summary = String((i.summary + " (resolved: the alert was deleted)").prefix(AlertIncident.maxSummary))
                    try put(i, txn)
                }
                _ = try txn.delete(open, e.key)
            }
        case .open(let ruleId, let chain, let at, let value, let summary, let term):
            guard let rule = try self.rule(ruleId, txn), !rule.deleted else { return skip("no alert \(ruleId)") }
            guard try txn.get(open, Key(ruleId).appending(chain)) == nil else { return skip("alert \(ruleId) already fires for chain \(chain)") }
            let id = try allocate(txn)
            let i = AlertIncident(id: id, rule: ruleId, org: rule.org, chainId: chain, severity: rule.severity, openedMillis: at, openValue: value,
                                  summary: String(summary.prefix(AlertIncident.maxSummary)), term: term, channels: rule.channels.count)
            try put(i, txn)
            try txn.put(open, Key(ruleId).appending(chain), Key(id))
        case .resolve(let id, let at, let value):
            guard var i = try incident(id, txn) else { return skip("no incident \(id)") }
            guard i.isOpen else { return skip("incident \(id) is resolved already") }
            i.resolvedMillis = max(at, i.openedMillis + 1)
            i.resolvedValue = value
            try put(i, txn)
            _ = try txn.delete(open, Key(i.rule).appending(i.chainId))
        case .notified(let list):
            var changed = [UInt64: AlertIncident]()
            for n in list {
                guard var i = try changed[n.incident] ?? incident(n.incident, txn), Int(n.channel) < i.notified.count else { continue }
                i.notified[Int(n.channel)] |= n.bits
                changed[n.incident] = i
            }
            if changed.isEmpty && !list.isEmpty { return skip("no incident of those notifications is kept") }
            for i in changed.values.sorted(by: { $0.id < $1.id }) { try put(i, txn) }
        case .past(let ruleId, let opened, let resolved, let summary, let term):
            guard let rule = try self.rule(ruleId, txn) else { return skip("no alert \(ruleId)") }
            guard resolved > opened else { return skip("a past incident ends after it starts") }
            // One per rule and lost term: every node that saw the outage may report it.
            let recent = try txn.entries(in: incidents, reverse: true, limit: 200).map(decode)
            guard !recent.contains(where: { $0.rule == ruleId && $0.term == term }) else { return skip("the outage of term \(term) is recorded") }
            var i = AlertIncident(id: try allocate(txn), rule: ruleId, org: rule.org, chainId: 0, severity: rule.severity, openedMillis: opened, openValue: 1,
                                  summary: String(summary.prefix(AlertIncident.maxSummary)), term: term, channels: rule.channels.count)
            i.resolvedMillis = resolved
            i.notified = Array(repeating: AlertIncident.Notified([.firing, .resolved]).rawValue, count: rule.channels.count)
            try put(i, txn)
        }
        return Outcome()
    }

    /// The next incident id; the incident `keptIncidents` older goes, if it is resolved (an
    /// open one stays until it resolves, and goes with a later opening).
    private func allocate(_ txn: WriteTransaction) throws -> UInt64 {
        let id = try txn.get(meta, Self.nextKey).map { u64($0[...]) } ?? 1
        try txn.put(meta, Self.nextKey, Key(id + 1))
        var old = id > Self.keptIncidents ? id - Self.keptIncidents : 0
        while old > 0, let i = try incident(old, txn), !i.isOpen {
            _ = try txn.delete(incidents, Key(old))
            old -= 1
        }
        let taken = try txn.contains(incidents, Key(id))
        assert(!taken, "incident ids are never reused")
        return id
    }

    // MARK: reads

    public func rule(_ id: UInt64, _ txn: ReadTransaction) throws -> AlertRule? {
        guard let raw = try txn.get(rules, Key(id)) else { return nil }
        return try decodeRule(Entry(key: Key(id).bytes, value: raw))
    }

    /// Every rule, tombstones included.
    public func allRules(_ txn: ReadTransaction) throws -> [AlertRule] {
        try txn.entries(in: rules).map(decodeRule)
    }

    public func incident(_ id: UInt64, _ txn: ReadTransaction) throws -> AlertIncident? {
        guard let raw = try txn.get(incidents, Key(id)) else { return nil }
        return try decode(Entry(key: Key(id).bytes, value: raw))
    }

    /// Incidents, newest first, at most `limit`.
    public func recentIncidents(_ txn: ReadTransaction, limit: Int = .max) throws -> [AlertIncident] {
        try txn.entries(in: incidents, reverse: true, limit: limit).map(decode)
    }

    /// The incidents firing now.
    public func openIncidents(_ txn: ReadTransaction) throws -> [AlertIncident] {
        try txn.entries(in: open).map { e in
            guard let i = try incident(u64(e.value[...]), txn) else {
                throw CorruptAlertRecord(table: "alert_open", key: Self.hex(e.key), problem: "names incident \(u64(e.value[...])), which is not stored")
            }
            return i
        }
    }

    /// Incidents with a notification still to send (firing ones, and recent resolved ones).
    public func undelivered(_ txn: ReadTransaction, scanning: Int = 1000) throws -> [AlertIncident] {
        try txn.entries(in: incidents, reverse: true, limit: scanning).map(decode).filter { i in i.notified.indices.contains { i.due($0) != nil } }
    }

    private func put(_ r: AlertRule, _ txn: WriteTransaction) throws {
        var w = ByteWriter()
        w.u8(Self.version); r.write(&w)
        try txn.put(rules, Key(r.id), w.bytes)
    }

    private func put(_ i: AlertIncident, _ txn: WriteTransaction) throws {
        var w = ByteWriter()
        w.u8(Self.version); i.write(&w)
        try txn.put(incidents, Key(i.id), w.bytes)
    }

    private func decodeRule(_ e: Entry) throws -> AlertRule {
        var r = ByteReader(e.value, what: "alert_rules")
        do {
            guard try r.u8() == Self.version else { throw DecodeError("unknown record version") }
            let rule = try AlertRule.read(&r)
            try r.expectEnd()
            guard Key(rule.id).bytes == e.key else { throw DecodeError("record \(rule.id) stored under another key") }
            return rule
        } catch {
            throw CorruptAlertRecord(table: "alert_rules", key: Self.hex(e.key), problem: "\(error)")
        }
    }

    private func decode(_ e: Entry) throws -> AlertIncident {
        var r = ByteReader(e.value, what: "alert_incidents")
        do {
            guard try r.u8() == Self.version else { throw DecodeError("unknown record version") }
            let i = try AlertIncident.read(&r)
            try r.expectEnd()
            guard Key(i.id).bytes == e.key else { throw DecodeError("record \(i.id) stored under another key") }
            return i
        } catch {
            throw CorruptAlertRecord(table: "alert_incidents", key: Self.hex(e.key), problem: "\(error)")
        }
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
    private func u64(_ b: ArraySlice<UInt8>) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }
}
