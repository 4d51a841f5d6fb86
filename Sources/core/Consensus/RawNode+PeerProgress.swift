extension RawNode {
    /// Leader only: each other member's match index (how far its log is known to agree
    /// with ours), for monitoring replication lag. Empty on followers and candidates.
    public var peerMatch: [NodeID: UInt64] {
        guard raft.role == .leader else { return [:] }
        var out = [NodeID: UInt64]()
        for p in raft.progress where p.id != raft.id { out[p.id] = p.match }
        return out
    }
}
