@testable import Alerts
import ByteCodec
import Chain
@testable import Edge
import Foundation
import RPC
import Telemetry
import Testing
import TestSupport

/// What alerting sends and what it judges by: the bodies per channel (one PagerDuty incident
/// per alert incident: trigger and resolve share the dedup key), the cluster's JSON-RPC
/// readings (their codec refuses lies; the window is the difference of cumulative reports,
/// survives a restarted node and is unknown to a new leader until it has its own two).
@Suite struct AlertNotificationTests {
    static let rule = AlertRule(id: 0xab, org: 7, chainId: 901, name: "rpc errors", condition: AlertCondition(metric: .errorRate, threshold: 0.2),
                                severity: .critical, channels: [AlertChannel(kind: .pagerDuty, url: "https://events.pagerduty.com/v2/enqueue?routing_key=K3Y")],
                                secret: "whsec_eA==")

    @Test func pagerDutyGetsOneIncidentSlackALineWebhooksTheEnvelope() throws {
        var i = AlertIncident(id: 5, rule: 0xab, org: 7, chainId: 901, severity: .critical, openedMillis: 1_800_000_000_000, openValue: 0.5,
                              summary: "rpc errors: error_rate is 0.5 on chain 901 (> 0.2)", term: 3, channels: 1)
        let firing = AlertPayload.notice(Self.rule, i, .firing)
        i.resolvedMillis = 1_800_000_060_000
        i.resolvedValue = 0.01
        let resolved = AlertPayload.notice(Self.rule, i, .resolved)
        let t = try JSON.parse(AlertPayload.body(.pagerDuty, firing, clusterId: "prod")), r = try JSON.parse(AlertPayload.body(.pagerDuty, resolved, clusterId: "prod"))
        #expect(t["event_action"] == .string("trigger") && r["event_action"] == .string("resolve"))
        #expect(t["dedup_key"] == r["dedup_key"] && t["dedup_key"] == .string("infrastack-prod-incident-0000000000000005"))
        #expect(t["routing_key"] == .string("K3Y") && t["payload"]?["severity"] == .string("critical") && t["payload"]?["source"] == .string("infrastack prod"))
        #expect(AlertPayload.messageId(firing) == "alert_0000000000000005_firing" && AlertPayload.messageId(resolved) == "alert_0000000000000005_resolved")
        let slack = try JSON.parse(AlertPayload.body(.slack, resolved, clusterId: "prod"))["text"]?.stringValue ?? ""
        #expect(slack.contains("RESOLVED") && slack.contains("[critical]") && slack.contains("now 0.01"), "\(slack)")
        let hook = try JSON.parse(AlertPayload.body(.webhook, firing, clusterId: "prod"))
        #expect(hook["type"] == .string("alert.firing") && hook["incident"]?["chain"] == .number("901") && hook["incident"]?["resolvedAt"] == .null)
        #expect(hook["alert"]?["condition"] == .string("error_rate > 0.2") && hook["cluster"] == .string("prod"))
    }

    static func totals(calls: UInt64, errors: UInt64, fast: UInt64, slow: UInt64) -> [UInt64: RPCReadings.Totals] {
        [901: .init(calls: calls, errors: errors, latency: HistogramSnapshot(bounds: [0.01, 1], counts: [fast, slow, 0], sum: 0))]
    }

    @Test func theWindowIsTheClustersTrafficOfTheLastMinute() throws {
        let r = RPCReadings()
        #expect(r.window(nowMillis: 0, node: 1) == nil, "a new leader knows nothing yet")
        r.record(node: 1, Self.totals(calls: 100, errors: 0, fast: 100, slow: 0), nowMillis: 0)
        r.record(node: 2, Self.totals(calls: 500, errors: 50, fast: 500, slow: 0), nowMillis: 1000)
        #expect(r.window(nowMillis: 1000, node: 1) == nil)
        r.record(node: 1, Self.totals(calls: 200, errors: 0, fast: 200, slow: 0), nowMillis: 5000)
        r.record(node: 2, Self.totals(calls: 600, errors: 150, fast: 590, slow: 10), nowMillis: 6000)
        let w = try #require(r.window(nowMillis: 6000, node: 1)?[901])
        // 100 + 100 calls in the window, 100 errors: the reports' differences, both nodes together.
        #expect(w.calls == 200 && w.errorRate == 0.5, "\(w)")
        #expect(w.p99Millis == 1000, "10 of 200 slow calls put the 99th percentile in the 1 s bucket: \(w)")
        // Node 2 restarts: its counters start again, and its newest totals are the window.
        r.record(node: 2, Self.totals(calls: 40, errors: 0, fast: 40, slow: 0), nowMillis: 11_000)
        r.record(node: 1, Self.totals(calls: 300, errors: 0, fast: 300, slow: 0), nowMillis: 10_000)
        let after = try #require(r.window(nowMillis: 11_000, node: 1)?[901])
        #expect(after.calls == 200 + 40 && after.errorRate == 0, "\(after)")
        // Reports older than the window fall out of it.
        r.record(node: 1, Self.totals(calls: 300, errors: 0, fast: 300, slow: 0), nowMillis: 200_000)
        r.record(node: 1, Self.totals(calls: 300, errors: 0, fast: 300, slow: 0), nowMillis: 205_000)
        #expect(r.window(nowMillis: 205_000, node: 1)?[901]?.calls == 0, "node 2 went silent two windows ago; node 1 had no calls")
    }

    @Test func readingsFromAPeerAreCheckedNotTrusted() throws {
        let good = RPCReadings.encode(Self.totals(calls: 10, errors: 2, fast: 9, slow: 1))
        #expect(try RPCReadings.decode(good) == Self.totals(calls: 10, errors: 2, fast: 9, slow: 1))
        #expect(throws: DecodeError.self) { try RPCReadings.decode(RPCReadings.encode(Self.totals(calls: 1, errors: 2, fast: 1, slow: 0))) }
        #expect(throws: DecodeError.self) { try RPCReadings.decode(Array(good.dropLast())) }
        #expect(throws: DecodeError.self) { try RPCReadings.decode(good + [0]) }
        var seed = SeededRandom(seed: SeededRandom.seed("AlertNotificationTests.readingsFromAPeer"))
        for _ in 0..<2000 {
            var b = good
            b[Int.random(in: 0..<b.count, using: &seed)] = UInt8.random(in: 0...255, using: &seed)
            _ = try? RPCReadings.decode(b)  // refuses or reads: never traps
        }
    }

    @Test func totalsAddEveryMethodOfAChain() {
        let m = MetricsRegistry()
        let stats = RPCStats(registry: m, chainId: 901)
        stats.record("eth_call", .ok, took: .milliseconds(2))
        stats.record("eth_call", .error, took: .milliseconds(3))
        stats.record("eth_nope", .error, took: .milliseconds(1))
        let t = RPCReadings.totals(m.snapshot())[901]
        #expect(t?.calls == 3 && t?.errors == 2 && t?.latency.count == 3, "\(String(describing: t))")
    }
}
