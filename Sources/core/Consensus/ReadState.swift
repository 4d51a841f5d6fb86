/// A completed ReadIndex request: once the application has applied up to `index`, it may
/// answer the read identified by `context` from its local state and the answer is
/// linearizable (thesis 6.4).
public struct ReadState: Equatable, Sendable {
    public var context: UInt64
    public var index: UInt64

    public init(context: UInt64, index: UInt64) {
        self.context = context
        self.index = index
    }
}

/// A ReadIndex request waiting at the leader for a heartbeat round to confirm leadership.
struct PendingRead {
    var round: UInt64
    var index: UInt64
    var requester: NodeID
    var context: UInt64
}
