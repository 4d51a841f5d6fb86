import Synchronization
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
    /// Methods with a latency histogram of their own (each is 17 series per chain); later
    /// ones share "(other)".
    static let maxTimedMethods = 32
    /// Chains a cluster serves (as the chain metrics bound them).
    static let maxChains = 64

    let requests: CounterFamily
    let latency: HistogramFamily
    /// This chain's id as a label value.
    let chain: String

    public init(registry: MetricsRegistry = MetricsRegistry(), chainId: UInt64 = 0) {
        chain = String(chainId)
        requests = registry.counters("rpc_requests_total", help: "JSON-RPC calls by chain, method and outcome",
                                     labels: [.firstSeen("chain", max: Self.maxChains), .firstSeen("method", max: Self.maxMethods),
                                              .allowed("outcome", Outcome.self)])
        latency = registry.histograms("rpc_request_duration_seconds", help: "Time to run one JSON-RPC call, envelope excluded, by chain and method",
                                      labels: [.firstSeen("chain", max: Self.maxChains), .firstSeen("method", max: Self.maxTimedMethods)])
    }

    /// Each method's handles, so a call takes one lock (this one) instead of one per family.
    private let handles = Mutex<[String: (ok: Counter, error: Counter, latency: Histogram)]>([:])

    public func record(_ method: String, _ outcome: Outcome, took: Duration) {
        let h = handles.withLock { all in
            if let h = all[method] { return h }
            let h = (ok: requests.labels(chain, method, Outcome.ok.rawValue), error: requests.labels(chain, method, Outcome.error.rawValue),
                     latency: latency.labels(chain, method))
            // Names past the bounds share the overflow series: keep no handle for them.
            if all.count < Self.maxMethods { all[method] = h }
            return h
        }
        (outcome == .ok ? h.ok : h.error).increment()
        h.latency.observe(took)
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

    /// This chain's calls (the registry's families hold every chain's).
    public var snapshot: Snapshot {
        var methods = [String: Snapshot.Counts]()
        for s in requests.snapshot().series where s.labels.count == 3 && s.labels[0] == chain {
            guard case .counter(let n) = s.value else { continue }
            methods[s.labels[1], default: .init()].calls += n
            if s.labels[2] == Outcome.error.rawValue { methods[s.labels[1], default: .init()].errors += n }
        }
        var all: HistogramSnapshot?
        for s in latency.snapshot().series where s.labels.first == chain {
            guard case .histogram(let h) = s.value else { continue }
            all = all.map { $0.adding(h) ?? $0 } ?? h
        }
        return Snapshot(methods: methods, latency: all ?? HistogramSnapshot(empty: Histogram.latencySeconds))
    }
}
