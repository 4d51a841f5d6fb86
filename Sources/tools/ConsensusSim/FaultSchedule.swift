import Consensus
import RaftDriver

/// A fault or operator action planned for a tick range. Events that name "the leader" are
/// resolved when they start, so they stay meaningful after others are removed by shrinking.
public struct FaultEvent: Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Two sides that cannot talk; `sideA` is a bit set of node positions.
        case symmetricPartition(sideA: UInt32)
        /// Messages from `from` to `to` are lost; the reverse direction works.
        case oneWay(from: Int, to: Int)
        /// Whoever leads when the event starts is cut off from everyone.
        case isolateLeader
        /// Two sides joined only through one bridge node.
        case bridge(sideA: UInt32, bridge: Int)
        /// Node crashes (losing unpersisted writes) at `stage` of carrying out a Ready, and
        /// restarts when the event ends.
        case crash(node: Int, at: ReadyStage)
        /// Whoever leads when the event starts crashes, at `stage`.
        case crashLeader(at: ReadyStage)
        /// The leader hands leadership to another voter.
        case transferLeadership
        /// A membership change: add a learner, promote one, or remove a node.
        case membershipChange
        /// The leader removes itself from the cluster.
        case removeLeader
        /// Leadership churn: throughout the event, new leaders are briefly isolated soon
        /// after winning, leaving stranded entries of many terms (the raw material of
        /// the paper's figure 8).
        case leaderChurn
        /// Nobody hears `node`, but it hears everyone (an asymmetric partition).
        case mute(node: Int)
        /// `node` hears nobody, but everyone hears it.
        case deaf(node: Int)
        /// Messages from `from` (to `to`, or to everyone when nil) are held for the whole
        /// event and delivered late when it ends, after rounds and often terms moved on.
        case hold(from: Int, to: Int?)
        /// Whoever leads when the event starts is no longer heard (its sends are refused),
        /// everything sent to it is held, and its clock stalls, so CheckQuorum cannot
        /// depose it: it still believes it leads when the others have elected a new
        /// leader. When the event ends its inbox is released — acknowledgements of its
        /// earlier heartbeat rounds mixed with the new term — while clients keep reading
        /// from it. Safety must not rest on its clock.
        case staleLeader
        /// Messages sampled from all earlier traffic are delivered again, `count` of them.
        case replayStale(count: Int)
    }

    public var start: Int
    public var duration: Int
    public var kind: Kind
    /// For cuts: applied when a message is sent rather than when it arrives, so what was
    /// already in flight still lands on the far side of the cut.
    public var atSend = false

    public var description: String { "tick \(start)+\(duration): \(kind)\(atSend ? " (cut at send)" : "")" }
}

/// Network conditions for a whole schedule.
public struct NetworkProfile: Sendable, CustomStringConvertible {
    public var dropPercent: Int
    public var duplicatePercent: Int
    /// Largest append message (bytes); 1 means one entry per message.
    public var maxMessageBytes: Int
    public var maxDelay: Int
    /// Chance (percent) of an occasional long delay, which reorders messages badly.
    public var spikePercent: Int

    public var description: String {
        "drop \(dropPercent)%, duplicate \(duplicatePercent)%, delay 1...\(maxDelay), spikes \(spikePercent)%, append ≤ \(maxMessageBytes) bytes"
    }
}

enum ScheduleGenerator {
    static func network(_ rng: inout SplitMix64) -> NetworkProfile {
        NetworkProfile(
            dropPercent: [0, 1, 5, 10, 20][rng.below(5)],
            duplicatePercent: [0, 2, 5][rng.below(3)],
            maxMessageBytes: [1, 100, 256][rng.below(3)],
            maxDelay: 1 + rng.below(3),
            spikePercent: [0, 1, 3][rng.below(3)])
    }

    static func events(_ rng: inout SplitMix64, nodes: Int, idCount: Int, ticks: Int) -> [FaultEvent] {
        var events: [FaultEvent] = []
        let count = max(1, ticks / 40 + rng.below(max(1, ticks / 40)))
        for _ in 0..<count {
            let start = 10 + rng.below(max(1, ticks - 20))
            let duration = 5 + rng.below(120)
            let kind: FaultEvent.Kind
            switch rng.below(100) {
            case 0..<12: kind = .symmetricPartition(sideA: randomSide(&rng, idCount: idCount))
            case 12..<20: kind = .oneWay(from: rng.below(idCount), to: rng.below(idCount))
            case 20..<30: kind = .isolateLeader
            case 30..<36:
                let bridge = rng.below(idCount)
                kind = .bridge(sideA: randomSide(&rng, idCount: idCount) & ~(1 << UInt32(bridge)), bridge: bridge)
            case 36..<38: kind = .mute(node: rng.below(idCount))
            case 38..<40: kind = .deaf(node: rng.below(idCount))
            case 40..<54: kind = .crash(node: rng.below(idCount), at: ReadyStage.allCases[rng.below(ReadyStage.allCases.count)])
            case 54..<63: kind = .crashLeader(at: ReadyStage.allCases[rng.below(ReadyStage.allCases.count)])
            case 63..<69: kind = .transferLeadership
            case 69..<77: kind = .membershipChange
            case 77..<80: kind = .removeLeader
            case 80..<86: kind = .leaderChurn
            case 86..<90: kind = .hold(from: rng.below(idCount), to: rng.chance(1, in: 2) ? nil : rng.below(idCount))
            case 90..<95: kind = .staleLeader
            default: kind = .replayStale(count: 5 + rng.below(40))
            }
            var event = FaultEvent(start: start, duration: duration, kind: kind)
            // Long enough for the others to elect a leader and commit writes.
            if case .staleLeader = kind { event.duration = 20 + rng.below(50) }
            switch kind {
            case .symmetricPartition, .oneWay, .isolateLeader, .bridge, .mute, .deaf: event.atSend = rng.chance(1, in: 2)
            default: break
            }
            events.append(event)
        }
        return events.sorted { $0.start < $1.start }
    }

    private static func randomSide(_ rng: inout SplitMix64, idCount: Int) -> UInt32 {
        var side: UInt32 = 0
        for position in 0..<idCount where rng.chance(1, in: 2) { side |= 1 << UInt32(position) }
        return side
    }
}
