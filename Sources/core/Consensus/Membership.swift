/// A cluster configuration: who votes and who only receives the log.
public struct ConfState: Equatable, Sendable {
    public var voters: [NodeID]
    public var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = voters.sorted()
        self.learners = learners.sorted()
    }

    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }
    public func isMember(_ id: NodeID) -> Bool { isVoter(id) || isLearner(id) }
    public var members: [NodeID] { voters + learners }

    /// Smallest number of voters that forms a majority.
    public var quorum: Int { voters.count / 2 + 1 }

    /// The configuration after `change`. Single-server changes only, so the old and new
    /// voter sets always differ by at most one member and their majorities overlap.
    public func applying(_ change: ConfChange) -> ConfState {
        var next = self
        switch change.kind {
        case .addVoter:
            next.learners.removeAll { $0 == change.node }
            if !next.voters.contains(change.node) { next.voters.append(change.node) }
        case .addLearner:
            // Demoting a voter to learner is a removal of a voter, still one server.
            next.voters.removeAll { $0 == change.node }
            if !next.learners.contains(change.node) { next.learners.append(change.node) }
        case .removeNode:
            next.voters.removeAll { $0 == change.node }
            next.learners.removeAll { $0 == change.node }
        }
        next.voters.sort()
        next.learners.sort()
        return next
    }
}

/// A single-server membership change.
///
/// Why single-server changes rather than joint consensus: with one voter added or removed at
/// a time, every majority of the old configuration intersects every majority of the new one,
/// so no intermediate joint configuration is needed (Ongaro's thesis, section 4.1). Safety
/// rests on two rules enforced by the leader in `Raft.proposeConfChange`:
///  1. at most one change is uncommitted at any time (a new one waits until the previous
///     configuration entry is committed), and
///  2. the leader has committed an entry of its own term first (the fix for the bug Ongaro
///     described on raft-dev in 2015, where two concurrent leaders of adjacent terms could
///     each commit a different single-server change and produce disjoint majorities).
/// Each server uses the latest configuration present in its log, committed or not; when a
/// conflicting suffix is truncated the configuration reverts with it.
public struct ConfChange: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case addVoter = 1
        case addLearner = 2
        case removeNode = 3
    }

    public var kind: Kind
    public var node: NodeID

    public init(_ kind: Kind, node: NodeID) {
        self.kind = kind
        self.node = node
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [kind.rawValue]
        bytes.reserveCapacity(9)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: node >> UInt64(shift))) }
        return bytes
    }

    public init?(decoding bytes: [UInt8]) {
        guard bytes.count == 9, let kind = Kind(rawValue: bytes[0]) else { return nil }
        var node: UInt64 = 0
        for i in 1..<9 { node = node << 8 | UInt64(bytes[i]) }
        self.init(kind, node: node)
    }
}
