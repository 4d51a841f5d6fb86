import Consensus

// The four things a Raft driver needs from the world. Production implements them over
// LMDB, TCP and the wall clock; the simulator over a simulated disk, network and clock.
// The driver itself does no I/O, so both run the same ordering of persist, send, apply.

/// The durable Raft log: hard state, entries and the latest snapshot.
public protocol RaftLogStorage: AnyObject {
    /// Makes a Ready's log outputs durable before returning, as one atomic write: the
    /// snapshot replaces the log through its index, `entries` replace any persisted entry
    /// at or after the first one's index, and `hardState` replaces the stored one.
    func persist(hardState: HardState?, entries: [Entry], snapshot: Snapshot?) throws
    /// The log was compacted through `snapshot` (its metadata; the application's durable
    /// state is the body, so `data` is empty): keep it and drop the entries it covers.
    func compact(snapshot: Snapshot) throws
}

/// Where outgoing Raft messages go. Sending never blocks and may lose the message;
/// Raft retries.
public protocol RaftMessageSink: AnyObject {
    func send(_ message: Message)
}

/// The replicated state machine the log drives.
public protocol RaftApplication: AnyObject {
    /// Replaces the whole state with a snapshot the leader sent (already persisted).
    func install(_ snapshot: Snapshot) throws
    /// Applies committed entries, in order, each exactly once per incarnation.
    func apply(_ entries: [Entry]) throws
    /// The applied index and a snapshot of the state at it: the bytes a far-behind follower
    /// is sent. Asked for only when one needs them.
    func snapshot() throws -> (index: UInt64, data: [UInt8])
    /// The applied index, whose durable state stands for the log through it when the log is
    /// compacted (a snapshot by reference: nothing is copied).
    func appliedIndex() throws -> UInt64
}

/// Time for the driver's latency counters only; Raft's own time is `RawNode.tick`.
public protocol DriverClock: AnyObject {
    func nowMicros() -> UInt64
    /// CPU time of the calling thread, so a bench can tell work from waiting (0 where
    /// there is no such clock, as in the simulator).
    func threadCPUMicros() -> UInt64
}

extension DriverClock {
    public func threadCPUMicros() -> UInt64 { 0 }
}
