import Synchronization

/// The last hour of a few totals, sampled every `intervalSeconds` from the registry, for
/// the dashboard's charts without a Prometheus: calls, errors, rate-limit refusals,
/// webhook deliveries and the call-latency buckets, kept as cumulative readings so a
/// missed sample loses nothing but resolution. Rates and percentiles are computed between
/// consecutive samples when asked (`points`).
public final class MetricsHistory: Sendable {
    public struct Sample: Sendable, Equatable {
        public var unixMillis: UInt64
        public var calls: UInt64
        public var errors: UInt64
        public var rateLimited: UInt64
        public var deliveries: UInt64
        public var deliveryFailures: UInt64
        /// All chains' and methods' call-latency buckets summed (not cumulative), +Inf last.
        public var latency: HistogramSnapshot?
        public init(unixMillis: UInt64, calls: UInt64, errors: UInt64, rateLimited: UInt64 = 0, deliveries: UInt64 = 0,
                    deliveryFailures: UInt64 = 0, latency: HistogramSnapshot? = nil) {
            self.unixMillis = unixMillis; self.calls = calls; self.errors = errors; self.rateLimited = rateLimited
            self.deliveries = deliveries; self.deliveryFailures = deliveryFailures; self.latency = latency
        }
    }

    /// One interval between two samples.
    public struct Point: Sendable, Equatable {
        public var unixMillis: UInt64
        public var callsPerSecond: Double
        public var errorRatio: Double?
        public var rateLimitedPerSecond: Double
        public var deliveriesPerSecond: Double
        public var deliveryFailuresPerSecond: Double
        /// Upper bounds of the buckets holding the 50th and 99th percentile call (seconds);
        /// nil without calls in the interval, +Inf past the last bound.
        public var p50: Double?
        public var p99: Double?
    }

    public let intervalSeconds: Int
    public let capacity: Int
    private let samples = Mutex<[Sample]>([])

    public init(intervalSeconds: Int = 10, keepSeconds: Int = 3600) {
        precondition(intervalSeconds > 0 && keepSeconds >= intervalSeconds, "an interval inside the kept span")
        self.intervalSeconds = intervalSeconds
        capacity = keepSeconds / intervalSeconds + 1
    }

    public func record(_ s: Sample) {
        samples.withLock { all in
            // A clock step backwards would make negative intervals: start over from it.
            if let last = all.last, s.unixMillis <= last.unixMillis { all.removeAll() }
            all.append(s)
            if all.count > capacity { all.removeFirst(all.count - capacity) }
            assert(all.count <= capacity, "the ring holds at most an hour")
        }
    }

    /// The sample a registry snapshot gives, from the families named here.
    public static func sample(_ m: MetricsSnapshot, unixMillis: UInt64) -> Sample {
        func sum(_ name: String, _ keep: (MetricSeries, [String]) -> Bool = { _, _ in true }) -> UInt64 {
            guard let f = m[name] else { return 0 }
            return f.series.reduce(0) { total, s in
                guard keep(s, f.labelNames), case .counter(let v) = s.value else { return total }
                return total &+ v
            }
        }
        func label(_ s: MetricSeries, _ names: [String], _ name: String) -> String? {
            names.firstIndex(of: name).map { s.labels[$0] }
        }
        var latency: HistogramSnapshot?
        for s in m["rpc_request_duration_seconds"]?.series ?? [] {
            guard case .histogram(let h) = s.value else { continue }
            latency = latency.map { $0.adding(h) ?? $0 } ?? h
        }
        return Sample(unixMillis: unixMillis,
                      calls: sum("rpc_requests_total"),
                      errors: sum("rpc_requests_total") { s, n in label(s, n, "outcome") == "error" },
                      rateLimited: sum("edge_requests_total") { s, n in label(s, n, "code") == "429" },
                      deliveries: sum("webhook_deliveries_total"),
                      deliveryFailures: sum("webhook_deliveries_total") { s, n in label(s, n, "outcome") != "delivered" },
                      latency: latency)
    }

    public var points: [Point] { Self.points(samples.withLock { $0 }) }

    static func points(_ all: [Sample]) -> [Point] {
        zip(all, all.dropFirst()).map { a, b in
            precondition(b.unixMillis > a.unixMillis, "samples ascend in time")
            let seconds = Double(b.unixMillis - a.unixMillis) / 1000
            // A restarted counter (a new process would not keep the ring, but a family may be
            // replaced) reads as zero for the interval, never as a negative rate.
            func rate(_ x: UInt64, _ y: UInt64) -> Double { y >= x ? Double(y - x) / seconds : 0 }
            let calls = b.calls >= a.calls ? b.calls - a.calls : 0
            let errors = b.errors >= a.errors ? b.errors - a.errors : 0
            var p50: Double?, p99: Double?
            if let la = a.latency, let lb = b.latency, la.bounds == lb.bounds {
                let delta = zip(la.counts, lb.counts).map { $1 >= $0 ? $1 - $0 : 0 }
                p50 = quantile(0.5, delta, lb.bounds)
                p99 = quantile(0.99, delta, lb.bounds)
            } else if let lb = b.latency, a.latency == nil {
                p50 = quantile(0.5, lb.counts, lb.bounds)
                p99 = quantile(0.99, lb.counts, lb.bounds)
            }
            return Point(unixMillis: b.unixMillis, callsPerSecond: Double(calls) / seconds,
                         errorRatio: calls > 0 ? Double(min(errors, calls)) / Double(calls) : nil,
                         rateLimitedPerSecond: rate(a.rateLimited, b.rateLimited),
                         deliveriesPerSecond: rate(a.deliveries, b.deliveries),
                         deliveryFailuresPerSecond: rate(a.deliveryFailures, b.deliveryFailures), p50: p50, p99: p99)
        }
    }

    /// The upper bound of the bucket holding the q-th observation (as Prometheus's
    /// histogram_quantile without interpolation); nil when there is none.
    public static func quantile(_ q: Double, _ counts: [UInt64], _ bounds: [Double]) -> Double? {
        precondition(counts.count == bounds.count + 1 && q > 0 && q <= 1, "one count per bound plus +Inf; q in (0, 1]")
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = (q * Double(total)).rounded(.up)
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if Double(seen) >= rank { return i < bounds.count ? bounds[i] : .infinity }
        }
        return .infinity
    }
}
