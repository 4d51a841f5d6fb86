import Chain
import Synchronization

/// What applying a chain entry changed, in apply order. Filters and subscriptions read
/// these to tell clients about new heads, new logs, and logs a reorg undid.
public enum ChainEvent: Sendable, Equatable {
    case applied(chain: UInt64, number: UInt64, hash: Hash32)
    /// Blocks above `to` were removed; `removedLogs` are their logs as they were served,
    /// already marked `"removed": true`, oldest block first.
    case rewound(chain: UInt64, to: UInt64, removedLogs: [JSONValue])
}

/// Fan-out of chain events from the apply path to readers. `publish` runs on the apply
/// thread, so subscribers must only enqueue; they do their reading elsewhere.
public final class ChainFeed: Sendable {
    public typealias Subscriber = @Sendable ([ChainEvent]) -> Void
    private let state = Mutex<(next: UInt64, subscribers: [UInt64: Subscriber])>((1, [:]))

    public init() {}

    @discardableResult
    public func subscribe(_ s: @escaping Subscriber) -> UInt64 {
        state.withLock { st in
            let id = st.next
            st.next += 1
            st.subscribers[id] = s
            return id
        }
    }

    public func unsubscribe(_ id: UInt64) { state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }

    public func publish(_ events: [ChainEvent]) {
        guard !events.isEmpty else { return }
        let subs = state.withLock { Array($0.subscribers.values) }
        for s in subs { s(events) }
    }
}
