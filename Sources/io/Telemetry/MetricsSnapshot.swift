/// What a registry holds at one moment, as plain values: `/status` renders it as JSON and a
/// Prometheus scrape as text, so neither reads live handles or knows how they are stored.

public enum MetricKind: String, Sendable, Equatable {
    case counter, gauge, histogram
}

public enum MetricValue: Sendable, Equatable {
    case counter(UInt64)
    case gauge(Int64)
    /// A total in a unit that is not a count (CPU seconds), read from the kernel.
    case realCounter(Double)
    /// A reading that is not a count (seconds of lag, a start time).
    case realGauge(Double)
    case histogram(HistogramSnapshot)

    public var kind: MetricKind {
        switch self {
        case .counter, .realCounter: .counter
        case .gauge, .realGauge: .gauge
        case .histogram: .histogram
        }
    }

    /// A counter's or gauge's value as a number; nil for a histogram.
    public var number: Double? {
        switch self {
        case .counter(let v): Double(v)
        case .gauge(let v): Double(v)
        case .realCounter(let v), .realGauge(let v): v
        case .histogram: nil
        }
    }

    /// Two series folded into one (label values past a bound share the overflow series);
    /// nil when they cannot be (different kinds or buckets).
    func merged(with other: MetricValue) -> MetricValue? {
        switch (self, other) {
        case (.counter(let a), .counter(let b)): return .counter(a &+ b)
        case (.gauge(let a), .gauge(let b)): return .gauge(a &+ b)
        case (.realCounter(let a), .realCounter(let b)): return .realCounter(a + b)
        case (.realGauge(let a), .realGauge(let b)): return .realGauge(a + b)
        case (.histogram(let a), .histogram(let b)): return a.adding(b).map { .histogram($0) }
        default: return nil
        }
    }
}

public struct HistogramSnapshot: Sendable, Equatable {
    /// Upper bounds (inclusive), ascending; the overflow bucket (+Inf) has none.
    public var bounds: [Double]
    /// Observations per bucket (not cumulative): `bounds.count + 1` entries, the last for +Inf.
    public var counts: [UInt64]
    public var sum: Double

    public init(bounds: [Double], counts: [UInt64], sum: Double) {
        precondition(counts.count == bounds.count + 1, "a histogram has one bucket per bound plus +Inf")
        self.bounds = bounds; self.counts = counts; self.sum = sum
    }

    /// No observations yet.
    public init(empty bounds: [Double]) {
        self.init(bounds: bounds, counts: Array(repeating: 0, count: bounds.count + 1), sum: 0)
    }

    /// One observation, into the bucket `Histogram` would put it in (NaN is dropped).
    public mutating func observe(_ value: Double) {
        guard !value.isNaN else { return }
        counts[Histogram.bucket(for: value, in: bounds)] &+= 1
        sum += value
    }

    /// Both histograms' observations together; nil when their buckets differ.
    public func adding(_ other: HistogramSnapshot) -> HistogramSnapshot? {
        guard bounds == other.bounds else { return nil }
        return HistogramSnapshot(bounds: bounds, counts: zip(counts, other.counts).map { $0 &+ $1 }, sum: sum + other.sum)
    }

    /// Derived from the buckets, so it always agrees with them even while observations land.
    public var count: UInt64 { counts.reduce(0, &+) }

    /// Observations at or below each bound, then the total: Prometheus's `_bucket` series.
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return counts.map { running &+= $0; return running }
    }
}

/// One series: its label values, in the order of the family's label names.
public struct MetricSeries: Sendable, Equatable {
    public var labels: [String]
    public var value: MetricValue
    public init(labels: [String] = [], value: MetricValue) { self.labels = labels; self.value = value }
}

public struct MetricFamilySnapshot: Sendable, Equatable {
    public var name: String
    public var help: String
    public var kind: MetricKind
    public var labelNames: [String]
    /// Ordered by label values, so renderings are stable.
    public var series: [MetricSeries]

    /// The series with exactly these label values (by name).
    public func value(_ labels: [String: String] = [:]) -> MetricValue? {
        guard labels.count == labelNames.count else { return nil }
        let wanted = labelNames.map { labels[$0] }
        return series.first { s in zip(s.labels, wanted).allSatisfy { $0 == $1 } }?.value
    }

    public func counter(_ labels: [String: String] = [:]) -> UInt64? {
        if case .counter(let v)? = value(labels) { return v }
        return nil
    }

    public func gauge(_ labels: [String: String] = [:]) -> Int64? {
        if case .gauge(let v)? = value(labels) { return v }
        return nil
    }

    public func histogram(_ labels: [String: String] = [:]) -> HistogramSnapshot? {
        if case .histogram(let v)? = value(labels) { return v }
        return nil
    }
}

public struct MetricsSnapshot: Sendable, Equatable {
    /// Ordered by name.
    public var families: [MetricFamilySnapshot]

    public init(families: [MetricFamilySnapshot]) { self.families = families }

    public subscript(_ name: String) -> MetricFamilySnapshot? { families.first { $0.name == name } }
}
