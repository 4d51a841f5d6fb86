import Dispatch
import Synchronization

/// A reading of the system (/proc, `mdb_env_info`, `statvfs`) taken at most once per
/// `maxAgeMillis`: the families of one scrape that come from the same source share one
/// reading instead of each repeating the I/O.
public final class RecentReading<Value: Sendable>: Sendable {
    private let maxAgeNanos: UInt64
    private let read: @Sendable () -> Value?
    private let last = Mutex<(atNanos: UInt64, value: Value?)?>(nil)

    public init(maxAgeMillis: UInt64 = 100, _ read: @escaping @Sendable () -> Value?) {
        precondition(maxAgeMillis > 0, "a reading is kept for some time")
        self.maxAgeNanos = maxAgeMillis * 1_000_000
        self.read = read
    }

    /// The last reading if it is fresh enough, else a new one (nil when the read failed).
    public var value: Value? {
        let now = DispatchTime.now().uptimeNanoseconds
        if let l = last.withLock({ $0 }), now &- l.atNanos < maxAgeNanos { return l.value }
        let v = read()
        last.withLock { $0 = (now, v) }
        return v
    }
}
