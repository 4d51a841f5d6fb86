import Testing
@testable import Telemetry

@Suite struct MetricsHistoryTests {
    static let bounds: [Double] = [0.001, 0.01, 0.1, 1]

    static func sample(_ t: UInt64, calls: UInt64, errors: UInt64, latency: [UInt64]) -> MetricsHistory.Sample {
        MetricsHistory.Sample(unixMillis: t, calls: calls, errors: errors, latency: HistogramSnapshot(bounds: bounds, counts: latency, sum: 0))
    }

    @Test func ratesAndPercentilesBetweenSamples() {
        let h = MetricsHistory(intervalSeconds: 10, keepSeconds: 60)
        h.record(Self.sample(10_000, calls: 100, errors: 0, latency: [100, 0, 0, 0, 0]))
        // 10 s later: 200 more calls, 20 of them errors; 97 fast, 100 at 10 ms, 3 past a second.
        h.record(Self.sample(20_000, calls: 300, errors: 20, latency: [197, 100, 0, 0, 3]))
        let p = h.points
        #expect(p.count == 1)
        #expect(p[0].unixMillis == 20_000 && p[0].callsPerSecond == 20 && p[0].errorRatio == 0.1)
        #expect(p[0].p50 == 0.01, "the 100th of 200 calls is in the 10 ms bucket")
        #expect(p[0].p99 == .infinity, "the 198th is past the last bound")
        // An idle interval: no calls, no ratio, no percentiles.
        h.record(Self.sample(30_000, calls: 300, errors: 20, latency: [197, 100, 0, 0, 3]))
        #expect(h.points.last?.callsPerSecond == 0 && h.points.last?.errorRatio == nil && h.points.last?.p50 == nil)
    }

    @Test func keepsAnHourAndStartsOverWhenTheClockStepsBack() {
        let h = MetricsHistory(intervalSeconds: 10, keepSeconds: 60)
        for i in 0..<20 { h.record(Self.sample(UInt64(i + 1) * 10_000, calls: UInt64(i) * 10, errors: 0, latency: [UInt64(i) * 10, 0, 0, 0, 0])) }
        #expect(h.points.count == h.capacity - 1, "at most keepSeconds / interval + 1 samples")
        #expect(h.points.allSatisfy { $0.callsPerSecond == 1 })
        h.record(Self.sample(5_000, calls: 0, errors: 0, latency: [0, 0, 0, 0, 0]))
        #expect(h.points.isEmpty, "an earlier time than the last sample restarts the ring")
        // A counter that went backwards reads as no calls, never a negative rate.
        h.record(Self.sample(15_000, calls: 0, errors: 0, latency: [0, 0, 0, 0, 0]))
        h.record(Self.sample(25_000, calls: 0, errors: 0, latency: [0, 0, 0, 0, 0]))
        #expect(h.points.allSatisfy { $0.callsPerSecond >= 0 })
    }

    @Test func sampledFromTheRegistry() {
        let r = MetricsRegistry()
        let calls = r.counters("rpc_requests_total", help: "x", labels: [.firstSeen("chain", max: 4), .firstSeen("method", max: 4), .allowed("outcome", ["ok", "error"])])
        calls.labels("1", "eth_call", "ok").increment(by: 7)
        calls.labels("2", "eth_call", "error").increment(by: 3)
        let lat = r.histograms("rpc_request_duration_seconds", help: "x", labels: [.firstSeen("chain", max: 4)], buckets: Self.bounds)
        lat.labels("1").observe(0.0005)
        lat.labels("2").observe(0.5)
        r.counters("edge_requests_total", help: "x", labels: [.allowed("surface", ["jsonrpc"]), .allowed("code", ["2xx", "429"])]).labels("jsonrpc", "429").increment(by: 4)
        let s = MetricsHistory.sample(r.snapshot(), unixMillis: 1)
        #expect(s.calls == 10 && s.errors == 3 && s.rateLimited == 4)
        #expect(s.latency?.counts == [1, 0, 0, 1, 0], "both chains' buckets summed")
    }

    @Test func quantileIsTheBucketBound() {
        #expect(MetricsHistory.quantile(0.5, [0, 0, 0, 0, 0], Self.bounds) == nil)
        #expect(MetricsHistory.quantile(0.5, [1, 1, 0, 0, 0], Self.bounds) == 0.001)
        #expect(MetricsHistory.quantile(0.99, [1, 1, 0, 0, 0], Self.bounds) == 0.01)
        #expect(MetricsHistory.quantile(1, [0, 0, 0, 0, 3], Self.bounds) == .infinity)
    }
}
