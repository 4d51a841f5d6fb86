import ReplicatedLog

/// The replicated node every process runs: the log driving this state machine.
public typealias ChainNode = ReplicatedNode<StateMachineRoot>

extension ReplicatedNode where Machine == StateMachineRoot {
    /// Proposes a node command and waits until it is applied here (or fails).
    public func propose(_ command: NodeCommand, timeoutMillis: Int = 5000) -> ProposeOutcome {
        propose(raw: command.encoded(), timeoutMillis: timeoutMillis)
    }

    /// Proposes a node command without blocking; `then` runs once on the Raft loop.
    public func propose(_ command: NodeCommand, timeoutMillis: Int = 5000, then: @escaping @Sendable (ProposeOutcome) -> Void) {
        propose(raw: command.encoded(), timeoutMillis: timeoutMillis, then: then)
    }
}
