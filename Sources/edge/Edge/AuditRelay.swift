import ByteCodec
import StateMachine
import Telemetry
import Tenancy

/// Puts audit entries into the replicated log from whichever node executed the change.
///
/// Most changes run on the leader (a follower forwards them), but some run where they were
/// asked: a backup on a follower, that node's own settings. Raft forwards no proposals, so a
/// follower refused with `notLeader` hands the entry to the leader over the peer link and
/// the leader proposes it; before this, such entries were dropped with a warning.
public struct AuditRelay: Sendable {
    public static let frameType: UInt8 = 6
    let node: ChainNode
    let selfId: UInt64
    let logger: Logger
    /// Sends a frame to a peer; nil (tests, tools) keeps entries local.
    let send: (@Sendable (UInt64, UInt8, [UInt8]) -> Void)?

    public init(node: ChainNode, selfId: UInt64, logger: Logger, send: (@Sendable (UInt64, UInt8, [UInt8]) -> Void)?) {
        self.node = node; self.selfId = selfId; self.logger = logger; self.send = send
    }

    func record(_ entry: AuditEntry) {
        let command = TenantCommand.audit(entry).encoded()
        node.propose(raw: command) { [self] outcome in
            if case .applied = outcome { return }
            if case .notLeader(let leader) = outcome, leader != 0, leader != selfId, let send {
                send(leader, Self.frameType, command)
                return
            }
            logger.warn("audit_entry_not_recorded", [("action", entry.action), ("outcome", "\(outcome)")])
        }
    }

    /// An entry a follower executed: proposed here when this node leads. Anything but an
    /// audit entry is refused, so the frame cannot carry other tenant changes.
    public func receive(from peer: UInt64, _ payload: [UInt8]) throws(DecodeError) {
        guard case .audit(let entry) = try TenantCommand.decode(payload) else { throw DecodeError("audit relay: the frame holds no audit entry") }
        guard node.report.status.role == .leader else {
            logger.warn("audit_entry_not_recorded", [("action", entry.action), ("from", peer), ("outcome", "this node no longer leads")])
            return
        }
        node.propose(raw: payload) { [logger] outcome in
            if case .applied = outcome { return }
            logger.warn("audit_entry_not_recorded", [("action", entry.action), ("from", peer), ("outcome", "\(outcome)")])
        }
    }
}
