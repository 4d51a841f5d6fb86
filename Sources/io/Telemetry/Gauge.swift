import Synchronization

/// A value that goes up and down: queue lengths, connection state (0 or 1), the current
/// term. Integer, because every gauge the node has is a count or a state; exact where a
/// floating-point gauge would round.
public final class Gauge: MetricHandle {
    private let current = Atomic<Int64>(0)

    init() {}

    public func set(_ v: Int64) { current.store(v, ordering: .relaxed) }
    public func set(_ on: Bool) { set(on ? 1 : 0) }
    public func increment(by n: Int64 = 1) { current.wrappingAdd(n, ordering: .relaxed) }
    public func decrement(by n: Int64 = 1) { current.wrappingSubtract(n, ordering: .relaxed) }

    public var value: Int64 { current.load(ordering: .relaxed) }

    public static var kind: MetricKind { .gauge }
    public var snapshotValue: MetricValue { .gauge(value) }
}
