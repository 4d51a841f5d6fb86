import Synchronization

/// A count that only goes up: requests, bytes, failures. An increment is one relaxed atomic
/// add — no lock, no allocation — so a handle can sit on any hot path; readers see each
/// increment eventually, which is all a scrape or /status needs.
public final class Counter: MetricHandle {
    private let count = Atomic<UInt64>(0)

    init() {}

    public func increment(by n: UInt64 = 1) { count.wrappingAdd(n, ordering: .relaxed) }

    public var value: UInt64 { count.load(ordering: .relaxed) }

    public static var kind: MetricKind { .counter }
    public var snapshotValue: MetricValue { .counter(value) }
}
