import ReplicatedLog

/// The replicated node every process runs: the log driving this state machine.
public typealias ChainNode = ReplicatedNode<StateMachineRoot>

extension ReplicatedNode where Machine == StateMachineRoot {
    /// Proposes a node command and waits until it is applied here (or fails).
    public func propose(_ command: NodeCommand, timeoutMillis: Int = 5000) -> ProposeOutcome {
        propose(raw: command.encoded(), timeoutMillis: timeoutMillis)
    }
}
