import Synchronization

/// Every metric of one process, by name: counters, gauges and histograms with fixed
/// buckets, each family with its labels declared up front. Components register once and
/// keep the handles; `/status` and a Prometheus scrape read `snapshot()`.
///
/// Registering a name again with the same kind, labels and buckets returns the same
/// family, so two instances of a component share their series instead of failing;
/// registering it with a different shape is a programming error and traps.
public final class MetricsRegistry: Sendable {
    private enum Source: Sendable {
        case family(any SnapshottingFamily)
        /// Values read from elsewhere at snapshot time (state a component already keeps under
        /// its own lock, such as the peer transport's per-peer records).
        case collector(@Sendable () -> [MetricSeries])
    }

    private struct Entry: Sendable {
        var help: String
        var kind: MetricKind
        var labels: [MetricLabel]
        var buckets: [Double]?
        var source: Source
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Label values refused by a bound (and counted under the overflow value instead).
    public let labelOverflows: Counter

    public init() {
        let overflow = MetricFamily<Counter>(name: "telemetry_label_overflow_total",
                                             help: "Label values past a label's declared bound, counted under \(MetricLabel.overflow) instead",
                                             labels: [], clipped: nil, make: { Counter() })
        labelOverflows = overflow.labels([])
        entries.withLock { $0[overflow.name] = Entry(help: overflow.help, kind: .counter, labels: [], buckets: nil, source: .family(overflow)) }
    }

    public func counter(_ name: String, help: String) -> Counter {
        counters(name, help: help, labels: []).labels([])
    }

    public func gauge(_ name: String, help: String) -> Gauge {
        gauges(name, help: help, labels: []).labels([])
    }

    public func histogram(_ name: String, help: String, buckets: [Double] = Histogram.latencySeconds) -> Histogram {
        histograms(name, help: help, labels: [], buckets: buckets).labels([])
    }

    public func counters(_ name: String, help: String, labels: [MetricLabel]) -> CounterFamily {
        family(name, help: help, labels: labels, buckets: nil) { Counter() }
    }

    public func gauges(_ name: String, help: String, labels: [MetricLabel]) -> GaugeFamily {
        family(name, help: help, labels: labels, buckets: nil) { Gauge() }
    }

    public func histograms(_ name: String, help: String, labels: [MetricLabel], buckets: [Double] = Histogram.latencySeconds) -> HistogramFamily {
        precondition(Histogram.validBounds(buckets), "histogram \(name): bounds must be finite and strictly increasing")
        return family(name, help: help, labels: labels, buckets: buckets) { Histogram(bounds: buckets) }
    }

    /// A family whose series `read` produces at each snapshot, bounded by `labels` like any
    /// other (series past a bound are summed into the overflow series). Registering the name
    /// again replaces `read`: the component that registered it was replaced too.
    public func collect(_ name: String, help: String, kind: MetricKind, labels: [MetricLabel],
                        _ read: @escaping @Sendable () -> [MetricSeries]) {
        precondition(Self.isValidName(name), "metric name \(name) must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        entries.withLock { e in
            Self.checkOpenMetricsName(name, kind, in: e)
            if let old = e[name] {
                guard case .collector = old.source, old.kind == kind, old.labels == labels else {
                    preconditionFailure("metric \(name) is already registered with another shape")
                }
            }
            e[name] = Entry(help: help, kind: kind, labels: labels, buckets: nil, source: .collector(read))
        }
    }

    private func family<H: MetricHandle>(_ name: String, help: String, labels: [MetricLabel], buckets: [Double]?,
                                         make: @escaping @Sendable () -> H) -> MetricFamily<H> {
        precondition(Self.isValidName(name), "metric name \(name) must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        precondition(Set(labels.map(\.name)).count == labels.count, "metric \(name) declares a label twice")
        return entries.withLock { e in
            Self.checkOpenMetricsName(name, H.kind, in: e)
            if let old = e[name] {
                guard case .family(let f) = old.source, let same = f as? MetricFamily<H>, old.labels == labels, old.buckets == buckets else {
                    preconditionFailure("metric \(name) is already registered with another shape")
                }
                return same
            }
            let f = MetricFamily(name: name, help: help, labels: labels, clipped: labelOverflows, make: make)
            e[name] = Entry(help: help, kind: H.kind, labels: labels, buckets: buckets, source: .family(f))
            return f
        }
    }

    /// Every family, by name. Families are read one at a time, outside the registry's lock
    /// (collectors take their components' locks), so two families may be a moment apart.
    public func snapshot() -> MetricsSnapshot {
        let all = entries.withLock { $0.sorted { $0.key < $1.key } }
        return MetricsSnapshot(families: all.map { name, entry in
            switch entry.source {
            case .family(let f): return f.snapshot()
            case .collector(let read):
                return MetricFamilySnapshot(name: name, help: entry.help, kind: entry.kind, labelNames: entry.labels.map(\.name),
                                            series: Self.bounded(read(), labels: entry.labels, kind: entry.kind))
            }
        })
    }

    /// A collector's series held to its labels' bounds, as registered families are: values
    /// past a bound fold into the overflow series. Series of another kind are dropped.
    static func bounded(_ series: [MetricSeries], labels: [MetricLabel], kind: MetricKind) -> [MetricSeries] {
        var admission = LabelAdmission(labels)
        var out = [[String]: MetricValue]()
        for s in series where s.value.kind == kind && s.labels.count == labels.count {
            let key = admission.admit(s.labels).values
            if let have = out[key] {
                if let m = have.merged(with: s.value) { out[key] = m }
            } else {
                out[key] = s.value
            }
        }
        return out.map { MetricSeries(labels: $0.key, value: $0.value) }.sorted { $0.labels.lexicographicallyPrecedes($1.labels) }
    }

    /// OpenMetrics names a counter's family without `_total`: a counter `x_total` and
    /// another family `x` would be one family twice to an OpenMetrics scraper.
    private static func checkOpenMetricsName(_ name: String, _ kind: MetricKind, in e: [String: Entry]) {
        if kind == .counter, name.hasSuffix("_total") {
            let stem = String(name.dropLast(6))
            precondition(e[stem] == nil, "metric \(name): its OpenMetrics family name \(stem) is already a metric")
        }
        if let other = e[name + "_total"] {
            precondition(other.kind != .counter, "metric \(name) is the OpenMetrics family name of counter \(name)_total")
        }
    }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.utf8.first else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 || c == 58 }
        return letter(first) && s.utf8.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

/// A registered family as the registry reads it, whatever its handle type.
protocol SnapshottingFamily: AnyObject, Sendable {
    func snapshot() -> MetricFamilySnapshot
}

extension MetricFamily: SnapshottingFamily {}
