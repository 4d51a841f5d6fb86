import Consensus

/// What the production transport tells a node when a peer's connection resets and a redial
/// fails (`RawNode.reportUnreachable`): a crashed node's peers hear of it a tick or three
/// later, unless a cut keeps them from noticing; and, now and then, a node is told its
/// leader is unreachable when it is not (a reset that a redial would have healed). The
/// reports may speed elections up; they must never break safety or inflate terms while the
/// leader is heard by a quorum.
extension Simulation {
    /// `position` just crashed: the peers it was connected to see their links reset.
    func peersSeeConnectionLoss(_ position: Int) {
        let gone = NodeID(position + 1)
        for peer in drivers.indices where peer != position && drivers[peer] != nil {
            // A cut link carries no reset; and a redial may race the restart.
            guard !network.isBlocked(from: gone, to: NodeID(peer + 1)), resetRNG.chance(3, in: 4) else { continue }
            unreachableReports.append((at: tick + 1 + resetRNG.below(3), node: peer, peer: gone))
        }
    }

    /// Hands due reports to the live nodes, plus the occasional spurious one about a node's
    /// current leader.
    func deliverUnreachableReports() {
        if resetRNG.chance(1, in: 150) {
            let position = resetRNG.below(drivers.count)
            if let core = drivers[position]?.core, core.status.leader != 0, core.status.leader != NodeID(position + 1) {
                unreachableReports.append((at: tick, node: position, peer: core.status.leader))
                stats.spuriousUnreachableReports += 1
            }
        }
        guard !unreachableReports.isEmpty else { return }
        var later: [(at: Int, node: Int, peer: NodeID)] = []
        for report in unreachableReports {
            guard report.at <= tick else { later.append(report); continue }
            guard drivers[report.node] != nil else { continue }
            precondition(report.peer != NodeID(report.node + 1), "a node never loses its connection to itself")
            drivers[report.node]!.core.reportUnreachable(report.peer)
            stats.unreachableReports += 1
            note("node \(report.node + 1) told node \(report.peer) is unreachable")
        }
        unreachableReports = later
    }
}
