/// The points between the steps of carrying out one Ready. A process can die at any of
/// them; the simulator stops the driver there to model exactly that crash.
public enum ReadyStage: String, CaseIterable, Sendable {
    /// Drawn, and a leader's appends and heartbeats sent; nothing written.
    case drawn
    /// The log write is durable; no message other than a leader's early ones has left.
    case persisted
    /// Every message has left; nothing applied.
    case sent
    /// Applied and reads answered; not yet advanced.
    case applied
}

/// Why the driver stopped carrying out a Ready. The Ready is abandoned: the core must be
/// discarded (or frozen) and later rebuilt from the durable log, as after a crash.
public enum DriverFailure: Error, CustomStringConvertible {
    /// The log write failed; nothing the Ready promised may be sent.
    case persist(any Error)
    /// Installing a snapshot or applying committed entries failed.
    case apply(any Error)

    public var description: String {
        switch self {
        case .persist(let e): return "raft log write failed: \(e)"
        case .apply(let e): return "apply failed: \(e)"
        }
    }

    public var underlying: any Error {
        switch self {
        case .persist(let e), .apply(let e): return e
        }
    }
}

/// Work counted since the driver started.
public struct DriverCounters: Sendable, Equatable {
    /// Readies carried out; each made at most one durable log write.
    public var readies: UInt64 = 0
    public var entriesPersisted: UInt64 = 0
    /// Readies that made entries durable (entries per such Ready shows how writes batch).
    public var readiesWithEntries: UInt64 = 0
    public var messagesSent: UInt64 = 0
    public var entriesApplied: UInt64 = 0
    public var snapshotsInstalled: UInt64 = 0
    public var compactions: UInt64 = 0
    /// Times the application's state was serialized for a follower that needed a snapshot.
    public var snapshotsSerialized: UInt64 = 0
    /// Time in the durable log write and in apply, for latency breakdowns.
    public var persistMicros: UInt64 = 0
    public var applyMicros: UInt64 = 0
    /// CPU time of the same two stages (durable write plus sending; apply).
    public var persistCPUMicros: UInt64 = 0
    public var applyCPUMicros: UInt64 = 0
    public init() {}
}
