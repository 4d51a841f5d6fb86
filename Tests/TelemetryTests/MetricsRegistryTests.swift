import Foundation
import Testing
@testable import Telemetry

@Suite struct MetricsRegistryTests {
    @Test func countersAndGaugesReadBackThroughTheSnapshot() {
        let r = MetricsRegistry()
        let c = r.counter("requests_total", help: "Requests")
        c.increment()
        c.increment(by: 41)
        let g = r.gauge("queue_length", help: "Queued")
        g.set(7)
        g.decrement(by: 9)
        g.increment()
        let s = r.snapshot()
        #expect(s["requests_total"]?.counter() == 42)
        #expect(s["requests_total"]?.kind == .counter)
        #expect(s["queue_length"]?.gauge() == -1)
        #expect(s.families.map(\.name) == s.families.map(\.name).sorted(), "families are ordered by name")
    }

    @Test func registeringANameAgainReturnsTheSameSeries() {
        let r = MetricsRegistry()
        r.counter("x_total", help: "x").increment()
        r.counter("x_total", help: "x").increment()
        #expect(r.snapshot()["x_total"]?.counter() == 2)
        let f = r.counters("y_total", help: "y", labels: [.allowed("outcome", ["ok", "error"])])
        #expect(f === r.counters("y_total", help: "y", labels: [.allowed("outcome", ["ok", "error"])]))
    }

    @Test func histogramBucketsIncludeTheirUpperBound() throws {
        let r = MetricsRegistry()
        let h = r.histogram("latency_seconds", help: "Latency", buckets: [0.01, 0.1, 1])
        // Below the first bound, exactly on each bound, between bounds, past the last, negative.
        for v in [0.001, 0.01, 0.010_000_1, 0.1, 0.5, 1, 1.000_001, 30, -1] { h.observe(v) }
        h.observe(.nan)
        h.observe(.milliseconds(100))
        let s = try #require(r.snapshot()["latency_seconds"]?.histogram())
        #expect(s.bounds == [0.01, 0.1, 1])
        #expect(s.counts == [3, 3, 2, 2], "≤0.01: 0.001 0.01 -1; ≤0.1: 0.0100001 0.1 100ms; ≤1: 0.5 1; +Inf: 1.000001 30")
        #expect(s.count == 10, "NaN is not counted")
        #expect(s.cumulativeCounts == [3, 6, 8, 10])
        #expect(abs(s.sum - (0.001 + 0.01 + 0.010_000_1 + 0.1 + 0.5 + 1 + 1.000_001 + 30 - 1 + 0.1)) < 1e-9)
        #expect(Histogram.bucket(for: 0.1, in: [0.01, 0.1, 1]) == 1)
        #expect(Histogram.bucket(for: .infinity, in: [0.01, 0.1, 1]) == 3)
    }

    @Test func labelsOutsideTheirBoundShareTheOverflowSeries() throws {
        let r = MetricsRegistry()
        let f = r.counters("calls_total", help: "Calls",
                           labels: [.firstSeen("method", max: 3), .allowed("outcome", ["ok", "error"])])
        for m in ["a", "b", "c", "d", "e", "a"] { f.labels(m, "ok").increment() }
        f.labels("a", "maybe").increment()
        f.labels(String(repeating: "x", count: MetricLabel.maxValueBytes + 1), "error").increment()
        let s = try #require(r.snapshot()["calls_total"])
        #expect(s.labelNames == ["method", "outcome"])
        #expect(s.counter(["method": "a", "outcome": "ok"]) == 2)
        #expect(s.counter(["method": "c", "outcome": "ok"]) == 1)
        #expect(s.counter(["method": "(other)", "outcome": "ok"]) == 2, "d and e came after the three allowed")
        #expect(s.counter(["method": "a", "outcome": "(other)"]) == 1, "an undeclared outcome")
        #expect(s.counter(["method": "(other)", "outcome": "error"]) == 1, "an over-long value")
        #expect(s.series.count == 6, "a, b, c, (other)×ok, a×(other), (other)×error")
        #expect(r.labelOverflows.value == 4)
        #expect(r.snapshot()["telemetry_label_overflow_total"]?.counter() == 4)
        // Once the bound is reached, no new value opens a series, however many arrive.
        for i in 0..<1000 { f.labels("m\(i)", "ok").increment() }
        #expect(r.snapshot()["calls_total"]?.series.count == 6)
    }

    @Test func enumLabelsAllowExactlyTheCases() {
        enum Outcome: String, CaseIterable { case ok, error }
        #expect(MetricLabel.allowed("outcome", Outcome.self) == MetricLabel("outcome", .allowed(["ok", "error"])))
    }

    @Test func collectorsAreReadAtSnapshotAndBoundedToo() throws {
        let r = MetricsRegistry()
        let source = Counter()
        r.collect("peer_sent_total", help: "Sent", kind: .counter, labels: [.firstSeen("peer", max: 2)]) {
            [MetricSeries(labels: ["1"], value: .counter(source.value)), MetricSeries(labels: ["2"], value: .counter(5)),
             MetricSeries(labels: ["3"], value: .counter(6)), MetricSeries(labels: ["4"], value: .counter(7)),
             MetricSeries(labels: ["5"], value: .gauge(1))]
        }
        source.increment(by: 3)
        let s = try #require(r.snapshot()["peer_sent_total"])
        #expect(s.counter(["peer": "1"]) == 3)
        #expect(s.counter(["peer": "2"]) == 5)
        #expect(s.counter(["peer": "(other)"]) == 13, "peers 3 and 4 summed; the gauge of the wrong kind dropped")
        #expect(s.series.count == 3)
    }

    /// Eight threads, each incrementing and observing many times, sum exactly: no update is lost.
    @Test func concurrentUpdatesSumExactly() throws {
        let r = MetricsRegistry()
        let plain = r.counter("plain_total", help: "p")
        let family = r.counters("by_worker_total", help: "w", labels: [.firstSeen("worker", max: 4)])
        let gauge = r.gauge("level", help: "l")
        let h = r.histogram("obs_seconds", help: "o", buckets: [0.5, 1.5])
        let threads = 8, perThread = 20_000
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let mine = family.labels("w\(t % 4)")
            for i in 0..<perThread {
                plain.increment()
                mine.increment()
                gauge.increment(by: 2)
                gauge.decrement()
                h.observe(i % 2 == 0 ? 1 : 0.25)
            }
        }
        let s = r.snapshot()
        #expect(s["plain_total"]?.counter() == UInt64(threads * perThread))
        for w in 0..<4 { #expect(s["by_worker_total"]?.counter(["worker": "w\(w)"]) == UInt64(2 * perThread)) }
        #expect(s["level"]?.gauge() == Int64(threads * perThread))
        let hs = try #require(s["obs_seconds"]?.histogram())
        #expect(hs.counts == [UInt64(threads * perThread / 2), UInt64(threads * perThread / 2), 0])
        #expect(hs.sum == Double(threads * perThread / 2) * 1.25, "sums of quarters and ones are exact in binary")
    }
}
