import Telemetry

/// JSON-RPC calls by method and outcome, and how long each took, on the node's metrics
/// registry: /status shows what clients ask and what fails without reading logs, and a
/// scrape sees the same series.
public final class RPCStats: Sendable {
    public enum Outcome: String, CaseIterable, Sendable {
        case ok, error
    }

    /// Bounds the series against clients inventing method names; later names count as "(other)".
    static let maxMethods = 256

    let requests: CounterFamily
    let latency: Histogram

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        requests = registry.counters("rpc_requests_total", help: "JSON-RPC calls by method and outcome",
                                     labels: [.firstSeen("method", max: Self.maxMethods), .allowed("outcome", Outcome.self)])
        latency = registry.histogram("rpc_request_duration_seconds", help: "Time to run one JSON-RPC call, envelope excluded")
    }

    public func record(_ method: String, _ outcome: Outcome, took: Duration) {
        requests.labels(method, outcome.rawValue).increment()
        latency.observe(took)
    }

    public struct Snapshot: Sendable, Equatable {
        public struct Counts: Sendable, Equatable {
            /// Every call of the method, failed ones included.
            public var calls: UInt64 = 0
            public var errors: UInt64 = 0
        }
        public var methods: [String: Counts]
        public var latency: HistogramSnapshot
        public var requests: UInt64 { methods.values.reduce(0) { $0 + $1.calls } }
        public var errors: UInt64 { methods.values.reduce(0) { $0 + $1.errors } }
    }

    public var snapshot: Snapshot {
        var methods = [String: Snapshot.Counts]()
        let family = requests.snapshot()
        for s in family.series {
            guard case .counter(let n) = s.value, s.labels.count == 2 else { continue }
            methods[s.labels[0], default: .init()].calls += n
            if s.labels[1] == Outcome.error.rawValue { methods[s.labels[0], default: .init()].errors += n }
        }
        return Snapshot(methods: methods, latency: latency.snapshot)
    }
}
