@testable import Alerts
import Testing
import TestSupport

/// The evaluator's decisions: an incident opens once a condition held for the rule's `for`,
/// once per rule and subject, resolves in the first round it is known to stop holding, neither
/// fires nor resolves on an unknown value, judges only the organisation's own chains, and ends what it no longer judges.
@Suite struct AlertEvaluatorTests {
    static func rule(_ id: UInt64, _ condition: String, org: UInt64 = 1, chain: UInt64 = 0, for seconds: UInt32 = 0) -> AlertRule {
        AlertRule(id: id, org: org, chainId: chain, name: "r\(id)", condition: try! AlertCondition.parse(condition).get(), forSeconds: seconds,
                  channels: [AlertChannel(kind: .webhook, url: "https://x")], secret: "whsec_eA==")
    }

    static func incident(_ id: UInt64, rule: UInt64, chain: UInt64) -> AlertIncident {
        AlertIncident(id: id, rule: rule, org: 1, chainId: chain, severity: .warning, openedMillis: 1, openValue: 1, summary: "", term: 1, channels: 1)
    }

    @Test func opensAfterForAndResolvesWhenItStopsHolding() {
        var e = AlertEvaluator()
        let lag = Self.rule(1, "lag_seconds > 30", for: 10)
        let owners: [UInt64: UInt64] = [901: 1]
        func readings(_ v: Double?) -> AlertReadings { AlertReadings(chains: [901: v.map { [.lagSeconds: $0] } ?? [:]], owners: owners) }
        #expect(e.evaluate(rules: [lag], open: [], readings: readings(45), nowMillis: 0) == [], "held 0 s of 10")
        #expect(e.evaluate(rules: [lag], open: [], readings: readings(45), nowMillis: 9_000) == [])
        let opened = e.evaluate(rules: [lag], open: [], readings: readings(50), nowMillis: 10_000)
        guard case .open(1, 901, 50, let summary)? = opened.first, opened.count == 1 else { Issue.record("\(opened)"); return }
        #expect(summary == "r1: lag_seconds is 50 on chain 901 (> 30 for 10 s)")
        let open = [Self.incident(9, rule: 1, chain: 901)]
        #expect(e.evaluate(rules: [lag], open: open, readings: readings(60), nowMillis: 11_000) == [], "one incident while it fires")
        #expect(e.evaluate(rules: [lag], open: open, readings: readings(20), nowMillis: 12_000) == [.resolve(incident: 9, value: 20)])
        // Holding again starts the count again.
        #expect(e.evaluate(rules: [lag], open: [], readings: readings(45), nowMillis: 13_000) == [])
        #expect(e.evaluate(rules: [lag], open: [], readings: readings(45), nowMillis: 22_000) == [])
        #expect(e.evaluate(rules: [lag], open: [], readings: readings(45), nowMillis: 23_000).count == 1)
        // An unknown value (a new leader not yet told every node's traffic) neither fires nor
        // ends an incident, and restarts the count.
        var f = AlertEvaluator()
        let errors = Self.rule(2, "error_rate > 0.01", for: 5)
        func rate(_ v: Double?) -> AlertReadings { AlertReadings(chains: [901: v.map { [.errorRate: $0] } ?? [:]], owners: owners) }
        #expect(f.evaluate(rules: [errors], open: [], readings: rate(nil), nowMillis: 0) == [])
        #expect(f.evaluate(rules: [errors], open: [Self.incident(3, rule: 2, chain: 901)], readings: rate(nil), nowMillis: 0) == [])
        #expect(f.evaluate(rules: [errors], open: [], readings: rate(0.5), nowMillis: 1000) == [])
        #expect(f.evaluate(rules: [errors], open: [], readings: rate(nil), nowMillis: 4000) == [])
        #expect(f.evaluate(rules: [errors], open: [], readings: rate(0.5), nowMillis: 7000) == [], "held 0 s since the gap")
        #expect(f.evaluate(rules: [errors], open: [Self.incident(3, rule: 2, chain: 901)], readings: rate(0.001), nowMillis: 8000) == [.resolve(incident: 3, value: 0.001)])
    }

    @Test func judgesOnlyTheOrganisationsChainsAndTheClusterOnce() {
        var e = AlertEvaluator()
        let owners: [UInt64: UInt64] = [901: 1, 902: 1, 903: 2]
        let all = [901, 902, 903].reduce(into: [UInt64: [AlertMetric: Double]]()) { $0[UInt64($1)] = [.refusedBlocks: 1] }
        let r = AlertReadings(chains: all, cluster: [.followerLagEntries: 5000], owners: owners)
        let decisions = e.evaluate(rules: [Self.rule(1, "refused_blocks > 0"), Self.rule(2, "refused_blocks > 0", chain: 903),
                                           Self.rule(3, "follower_lag_entries > 1000"), Self.rule(4, "no_leader")], open: [], readings: r, nowMillis: 0)
        let opened = decisions.compactMap { d -> String? in if case .open(let rule, let chain, _, _) = d { return "\(rule)/\(chain)" }; return nil }
        #expect(opened == ["1/901", "1/902", "3/0"], "org 1's chains, not org 2's; the cluster once; no_leader is not the leader's to judge: \(opened)")
        // The chain changes hands: its incident ends.
        var moved = r
        moved.owners[902] = 2
        let open = [Self.incident(5, rule: 1, chain: 901), Self.incident(6, rule: 1, chain: 902)]
        #expect(e.evaluate(rules: [Self.rule(1, "refused_blocks > 0")], open: open, readings: moved, nowMillis: 1) == [.resolve(incident: 6, value: 0)])
    }

    @Test func randomRoundsNeverOpenTwiceOrOpenEarly() {
        let seed = SeededRandom.seed("AlertEvaluatorTests.randomRoundsNeverOpenTwiceOrOpenEarly")
        var rng = SeededRandom(seed: seed)
        var e = AlertEvaluator()
        let rule = Self.rule(1, "p99_latency_ms > 500", chain: 901, for: 20)
        var open: [AlertIncident] = [], since: UInt64?, now: UInt64 = 0, opens = 0, nextId: UInt64 = 1
        for round in 0..<2000 {
            now += UInt64.random(in: 1000...6000, using: &rng)
            // Stretches that always hold, that flap, and that never hold.
            let phase = round / 50 % 3
            let v = phase == 0 ? Double.random(in: 501...1000, using: &rng) : phase == 1 ? Double.random(in: 0...1000, using: &rng) : Double.random(in: 0...500, using: &rng)
            if v > 500 { since = since ?? now } else { since = nil }
            for d in e.evaluate(rules: [rule], open: open, readings: AlertReadings(chains: [901: [.p99LatencyMs: v]], owners: [901: 1]), nowMillis: now) {
                switch d {
                case .open:
                    #expect(open.isEmpty, "seed \(seed), round \(round): a second incident while one is open")
                    #expect(since.map { now - $0 >= 20_000 } ?? false, "seed \(seed), round \(round): opened before the condition held 20 s")
                    open = [Self.incident(nextId, rule: 1, chain: 901)]; nextId += 1; opens += 1
                case .resolve(let id, _):
                    #expect(open.first?.id == id && v <= 500, "seed \(seed), round \(round): resolved what is not open, or while it holds")
                    open = []
                }
            }
        }
        #expect(opens > 3, "seed \(seed): incidents opened (\(opens))")
    }
}
