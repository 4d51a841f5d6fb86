import Consensus
import RaftDriver

/// Counts describing what a schedule exercised, so tests can prove it was not vacuous.
public struct SimulationStats: Sendable, Equatable {
    public var proposalsAccepted = 0
    public var proposalsAcknowledged = 0
    /// Reads served to a client (index confirmed and applied on the replica asked).
    public var readsCompleted = 0
    /// Reads served by a node within 40 ticks of it receiving a held or replayed message.
    public var readsAfterLateDelivery = 0
    /// Messages delivered late by a hold or a replay of old traffic.
    public var lateDeliveries = 0
    public var elections = 0
    public var crashes = 0
    /// Crashes by the stage of carrying out a Ready they struck at.
    public var crashesAt: [ReadyStage: Int] = [:]
    public var snapshotsInstalled = 0
    public var membershipChangesApplied = 0
    public var messagesSent = 0
    public var appliedEntries: UInt64 = 0
    public var healTicks = 0
    public var finalDigest: UInt64 = 0
    /// Connection-loss reports handed to a node's core: after a peer crashed, or spurious.
    public var unreachableReports = 0
    public var spuriousUnreachableReports = 0
    /// Times a leader serialized its state for a follower (local snapshots are by reference).
    public var snapshotsSerialized = 0

    public init() {}

    public mutating func add(_ other: SimulationStats) {
        proposalsAccepted += other.proposalsAccepted
        proposalsAcknowledged += other.proposalsAcknowledged
        readsCompleted += other.readsCompleted
        readsAfterLateDelivery += other.readsAfterLateDelivery
        lateDeliveries += other.lateDeliveries
        elections += other.elections
        crashes += other.crashes
        crashesAt.merge(other.crashesAt, uniquingKeysWith: +)
        snapshotsInstalled += other.snapshotsInstalled
        membershipChangesApplied += other.membershipChangesApplied
        messagesSent += other.messagesSent
        appliedEntries += other.appliedEntries
        healTicks = max(healTicks, other.healTicks)
        unreachableReports += other.unreachableReports
        spuriousUnreachableReports += other.spuriousUnreachableReports
        snapshotsSerialized += other.snapshotsSerialized
    }
}
