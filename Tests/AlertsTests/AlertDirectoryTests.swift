@testable import Alerts
import ByteCodec
import Foundation
import Storage
import Testing
import TestSupport

/// The alert tables against a model: random rule, incident and notification commands over a
/// few ids, applied to LMDB and to a dictionary, must agree after every step (what is stored,
/// what is open, what was skipped), and every command survives its codec.
@Suite struct AlertDirectoryTests {
    struct Model {
        var rules: [UInt64: AlertRule] = [:]
        var incidents: [UInt64: AlertIncident] = [:]
        var open: [String: UInt64] = [:]
        var next: UInt64 = 1

        /// Whether the command is skipped.
        mutating func apply(_ c: AlertCommand) -> Bool {
            switch c {
            case .create(let r):
                guard r.id != 0, AlertDirectory.problem(r) == nil, rules[r.id] == nil else { return true }
                rules[r.id] = r
            case .delete(let id, let at):
                guard var r = rules[id], !r.deleted else { return true }
                r.deleted = true
                rules[id] = r
                for (k, iid) in open where k.hasPrefix("\(id)/") {
                    incidents[iid]!.resolvedMillis = max(at, incidents[iid]!.openedMillis + 1)
                    incidents[iid]!.summary += " (resolved: the alert was deleted)"
                    open[k] = nil
                }
            case .open(let rid, let chain, let at, let value, let summary, let term):
                guard let r = rules[rid], !r.deleted, open["\(rid)/\(chain)"] == nil else { return true }
                incidents[next] = AlertIncident(id: next, rule: rid, org: r.org, chainId: chain, severity: r.severity, openedMillis: at, openValue: value,
                                                summary: summary, term: term, channels: r.channels.count)
                open["\(rid)/\(chain)"] = next
                next += 1
            case .resolve(let id, let at, let value):
                guard var i = incidents[id], i.isOpen else { return true }
                i.resolvedMillis = max(at, i.openedMillis + 1)
                i.resolvedValue = value
                incidents[id] = i
                open["\(i.rule)/\(i.chainId)"] = nil
            case .notified(let list):
                var any = false
                for n in list where incidents[n.incident].map({ Int(n.channel) < $0.notified.count }) ?? false {
                    incidents[n.incident]!.notified[Int(n.channel)] |= n.bits
                    any = true
                }
                if !any && !list.isEmpty { return true }
            case .past(let rid, let opened, let resolved, let summary, let term):
                guard let r = rules[rid], resolved > opened, !incidents.values.contains(where: { $0.rule == rid && $0.term == term }) else { return true }
                var i = AlertIncident(id: next, rule: rid, org: r.org, chainId: 0, severity: r.severity, openedMillis: opened, openValue: 1,
                                      summary: summary, term: term, channels: r.channels.count)
                i.resolvedMillis = resolved
                i.notified = Array(repeating: 3, count: r.channels.count)
                incidents[next] = i
                next += 1
            }
            return false
        }
    }

    static func rule(_ id: UInt64, _ rng: inout SeededRandom) -> AlertRule {
        let metric = AlertMetric.allCases.randomElement(using: &rng)!
        let channels = (0..<(Int.random(in: 0..<10, using: &rng) == 0 ? 0 : Int.random(in: 1...3, using: &rng))).map { i in
            AlertChannel(kind: AlertChannel.Kind.allCases.randomElement(using: &rng)!, url: "https://hooks.example/\(id)/\(i)")
        }
        return AlertRule(id: id, org: UInt64.random(in: 1...2, using: &rng), chainId: UInt64.random(in: 0...2, using: &rng),
                         name: Int.random(in: 0..<10, using: &rng) > 0 ? "alert \(id)" : "", condition: AlertCondition(metric: metric, comparison: .above, threshold: 1.5),
                         forSeconds: UInt32.random(in: 0...60, using: &rng), severity: AlertSeverity.allCases.randomElement(using: &rng)!,
                         channels: channels, secret: "whsec_c2VjcmV0", createdBy: 7, createdMillis: 1000)
    }

    static func random(_ rng: inout SeededRandom, clock: inout UInt64) -> AlertCommand {
        clock += UInt64.random(in: 1...5000, using: &rng)
        let id = UInt64.random(in: 0...4, using: &rng)
        switch Int.random(in: 0..<12, using: &rng) {
        case 0, 1, 2: return .create(rule(id, &rng))
        case 11 where Bool.random(using: &rng): return .delete(id: id, atMillis: clock)
        case 3, 4, 5: return .open(rule: id, chainId: UInt64.random(in: 0...2, using: &rng), atMillis: clock, value: 2.5, summary: "s\(clock)", term: 3)
        case 6, 7: return .resolve(incident: UInt64.random(in: 0...8, using: &rng), atMillis: clock, value: 0.5)
        case 8, 9: return .notified((0..<Int.random(in: 0...3, using: &rng)).map { _ in
            .init(incident: UInt64.random(in: 0...8, using: &rng), channel: UInt8.random(in: 0...3, using: &rng), bits: UInt8.random(in: 1...15, using: &rng)) })
        default: return .past(rule: id, openedMillis: clock, resolvedMillis: clock + UInt64.random(in: 0...2, using: &rng), summary: "outage", term: UInt64.random(in: 1...3, using: &rng))
        }
    }

    @Test func agreesWithTheModel() throws {
        let seed = SeededRandom.seed("AlertDirectoryTests.agreesWithTheModel")
        var rng = SeededRandom(seed: seed)
        var applied = 0, skipped = 0
        for run in 0..<4 {
            let env = try Environment(path: NSTemporaryDirectory() + "alerts-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let d = try AlertDirectory(env: env)
            var m = Model()
            var clock: UInt64 = 1_000_000
            for step in 0..<300 {
                let c = Self.random(&rng, clock: &clock)
                #expect(try AlertCommand.decode(c.encoded()) == c, "seed \(seed): \(c) survives its codec")
                let outcome = try env.write { (txn: WriteTransaction) throws in try d.apply(c, in: txn) }
                let modelSkips = m.apply(c)
                if modelSkips { skipped += 1 } else { applied += 1 }
                let at = "seed \(seed), run \(run), step \(step), \(c)"
                guard (outcome.skipped != nil) == modelSkips else {
                    Issue.record("\(at): directory skipped \(outcome.skipped ?? "no"), the model \(modelSkips ? "yes" : "no")"); return
                }
                try env.read { (txn: ReadTransaction) throws in
                    #expect(try d.allRules(txn) == m.rules.values.sorted { $0.id < $1.id }, "\(at): rules")
                    #expect(try d.recentIncidents(txn) == m.incidents.values.sorted { $0.id > $1.id }, "\(at): incidents")
                    #expect(Set(try d.openIncidents(txn).map(\.id)) == Set(m.open.values), "\(at): open incidents")
                    for i in try d.openIncidents(txn) { #expect(i.isOpen, "\(at): incident \(i.id) listed open is open") }
                }
            }
        }
        #expect(applied > 150 && skipped > 100, "seed \(seed): both paths exercised (\(applied) applied, \(skipped) skipped)")
    }

    @Test func aCorruptRecordIsAnErrorNotAnAbsence() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "alerts-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let d = try AlertDirectory(env: env)
        let r = AlertRule(id: 5, org: 1, name: "lag", condition: AlertCondition(metric: .lagSeconds, threshold: 30), channels: [AlertChannel(kind: .slack, url: "https://x")], secret: "whsec_eA==")
        _ = try env.write { (txn: WriteTransaction) throws in try d.apply(.create(r), in: txn) }
        try env.write { (txn: WriteTransaction) throws in try txn.put(try env.table("alert_rules"), Key(5), [1, 2, 3]) }
        #expect(throws: CorruptAlertRecord.self) { try env.read { (txn: ReadTransaction) throws in try d.rule(5, txn) } }
        #expect(throws: CorruptAlertRecord.self) { try env.read { (txn: ReadTransaction) throws in try d.allRules(txn) } }
    }

    @Test func conditionsParseAsTheSeedWritesThem() throws {
        #expect(try AlertCondition.parse("lag_seconds > 30").get() == AlertCondition(metric: .lagSeconds, comparison: .above, threshold: 30))
        #expect(try AlertCondition.parse("error_rate >= 0.01").get() == AlertCondition(metric: .errorRate, comparison: .atLeast, threshold: 0.01))
        #expect(try AlertCondition.parse("p99_latency_ms > 500").get().text == "p99_latency_ms > 500")
        #expect(try AlertCondition.parse("no_leader").get().metric == .noLeader)
        for (bad, says) in [("lag > 30", "one of"), ("lag_seconds 30", "write it as"), ("lag_seconds > x", "number"), ("error_rate > 2", "fraction"),
                            ("no_leader > 1", "no comparison"), ("lag_seconds > -1", "0 or more"), ("", "one of")] {
            guard case .failure(let p) = AlertCondition.parse(bad) else { Issue.record("\(bad) parsed"); continue }
            #expect(p.description.contains(says), "\(bad): \(p)")
        }
    }
}
