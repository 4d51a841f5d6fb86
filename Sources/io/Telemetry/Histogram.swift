import Synchronization

/// Observations counted into buckets fixed at registration (upper bounds in seconds,
/// inclusive, as Prometheus's `le`), plus their sum. Fixed buckets keep an observation
/// to a search and two atomic updates, and let replicas' and scrapes' histograms add up.
public final class Histogram: MetricHandle {
    /// Request and disk latencies from half a millisecond to ten seconds.
    public static let latencySeconds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let bounds: [Double]
    /// One per bound, then the overflow bucket (+Inf).
    private let buckets: [Counter]
    private let sumBits = Atomic<UInt64>(Double(0).bitPattern)

    init(bounds: [Double]) {
        precondition(Self.validBounds(bounds), "histogram bounds must be finite and strictly increasing: \(bounds)")
        self.bounds = bounds
        buckets = (0...bounds.count).map { _ in Counter() }
    }

    static func validBounds(_ b: [Double]) -> Bool {
        !b.isEmpty && b.allSatisfy(\.isFinite) && zip(b, b.dropFirst()).allSatisfy { $0 < $1 }
    }

    /// NaN is dropped: it has no bucket, and in the sum it would hide every later observation.
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        buckets[Self.bucket(for: value, in: bounds)].increment()
        var old = sumBits.load(ordering: .relaxed)
        while true {
            let new = (Double(bitPattern: old) + value).bitPattern
            let (done, seen) = sumBits.compareExchange(expected: old, desired: new, ordering: .relaxed)
            if done { return }
            old = seen
        }
    }

    public func observe(_ d: Duration) {
        let c = d.components
        observe(Double(c.seconds) + Double(c.attoseconds) * 1e-18)
    }

    /// The first bucket whose bound is at least `value`; `bounds.count` (+Inf) past the last.
    static func bucket(for value: Double, in bounds: [Double]) -> Int {
        var lo = 0, hi = bounds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if value <= bounds[mid] { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    public var snapshot: HistogramSnapshot {
        HistogramSnapshot(bounds: bounds, counts: buckets.map(\.value), sum: Double(bitPattern: sumBits.load(ordering: .relaxed)))
    }

    public static var kind: MetricKind { .histogram }
    public var snapshotValue: MetricValue { .histogram(snapshot) }
}
