import Synchronization

/// What a family holds per series: a counter, gauge or histogram.
public protocol MetricHandle: AnyObject, Sendable {
    static var kind: MetricKind { get }
    var snapshotValue: MetricValue { get }
}

/// Series of one metric told apart by label values, bounded by the labels' declarations.
/// Looking a series up takes the family's lock; keep the handle it returns where the same
/// series is hit often (the handle itself is lock-free).
public final class MetricFamily<Handle: MetricHandle>: Sendable {
    public let name: String
    public let help: String
    public let labels: [MetricLabel]
    private let make: @Sendable () -> Handle
    /// The registry's count of label values refused by a bound.
    private let clipped: Counter?

    private struct State {
        var admission: LabelAdmission
        var series: [[String]: Handle] = [:]
    }
    private let state: Mutex<State>

    init(name: String, help: String, labels: [MetricLabel], clipped: Counter?, make: @escaping @Sendable () -> Handle) {
        self.name = name
        self.help = help
        self.labels = labels
        self.make = make
        self.clipped = clipped
        state = Mutex(State(admission: LabelAdmission(labels)))
    }

    public func labels(_ values: String...) -> Handle { labels(values) }

    /// The series for these label values (one per declared label, in order); values past a
    /// label's bound land in the overflow series.
    public func labels(_ values: [String]) -> Handle {
        let (handle, wasClipped) = state.withLock { s -> (Handle, Bool) in
            let (key, wasClipped) = s.admission.admit(values)
            if let h = s.series[key] { return (h, wasClipped) }
            let h = make()
            s.series[key] = h
            return (h, wasClipped)
        }
        if wasClipped { clipped?.increment() }
        return handle
    }

    public func snapshot() -> MetricFamilySnapshot {
        let series = state.withLock { s in s.series.map { MetricSeries(labels: $0.key, value: $0.value.snapshotValue) } }
        return MetricFamilySnapshot(name: name, help: help, kind: Handle.kind, labelNames: labels.map(\.name),
                                    series: series.sorted { $0.labels.lexicographicallyPrecedes($1.labels) })
    }
}

public typealias CounterFamily = MetricFamily<Counter>
public typealias GaugeFamily = MetricFamily<Gauge>
public typealias HistogramFamily = MetricFamily<Histogram>
