import ByteCodec
import Synchronization

/// Per-key request limits enforced by the cluster as a whole, without a shared store and
/// without the Raft log: each node counts the requests it admits per key in fixed windows
/// (aligned to the wall clock, so every node agrees which window it is), and every
/// `shareIntervalMillis` sends its counts of the current window to its peers over the peer
/// transport. A request is admitted while this node's count plus the latest counts heard
/// from its peers stays under the limit.
///
/// Peers that have not been heard from within `staleMillis` are unknown, not zero: the node
/// then admits only its share and the fresh peers' shares, `limit × (1 + fresh) / members`,
/// so a partitioned cluster never admits more than the limit in total. The documented burst
/// (README): counts travel every 100 ms, so on top of the limit the cluster admits at most
/// what the other nodes admit for the key in one share interval plus the link's latency.
///
/// Pure apart from the lock: time comes in as `nowMillis`, reports in and out as bytes.
public final class ClusterRateLimiter: Sendable {
    /// Peer-transport frame type of a usage report (1 is Raft, 0 the handshake).
    public static let frameType: UInt8 = 2
    public static let shareIntervalMillis: UInt64 = 100
    static let staleMillis: UInt64 = 1000
    static let maxKeysPerReport = 100_000
    static let version: UInt8 = 1

    public let windowMillis: UInt64
    let selfId: UInt64

    struct PeerReport {
        var window: UInt64
        var counts: [UInt64: UInt32]
        var receivedMillis: UInt64
    }

    struct State {
        var window: UInt64 = 0
        var local: [UInt64: UInt32] = [:]
        var peers: [UInt64: PeerReport] = [:]
    }

    private let state = Mutex(State())

    public init(selfId: UInt64, windowMillis: UInt64) {
        precondition(windowMillis >= 1000, "a window of at least a second")
        precondition(selfId != 0, "node ids are positive")
        self.selfId = selfId
        self.windowMillis = windowMillis
    }

    public struct Decision: Equatable, Sendable {
        public var allowed: Bool
        public var limit: UInt32
        public var remaining: UInt32
        /// Until the window ends.
        public var resetMillis: UInt64
    }

    /// The requests per window a limit of `perMinute` gives (at least one).
    public func perWindow(_ perMinute: UInt32) -> UInt32 {
        UInt32(clamping: max(1, (UInt64(perMinute) * windowMillis + 59_999) / 60_000))
    }

    /// Admits one request of `key` against `limit` per window, counting it when admitted.
    /// `members` is the cluster's node set, this node included.
    public func admit(key: UInt64, limit: UInt32, members: Set<UInt64>, nowMillis: UInt64) -> Decision {
        precondition(limit > 0, "a limit admits something")
        let window = nowMillis / windowMillis
        let reset = (window + 1) * windowMillis - nowMillis
        return state.withLock { s in
            Self.roll(&s, to: window)
            var heard: UInt64 = 0
            var fresh = 0
            for (peer, r) in s.peers where peer != selfId && members.contains(peer) && nowMillis &- r.receivedMillis <= Self.staleMillis {
                fresh += 1
                if r.window == window { heard += UInt64(r.counts[key] ?? 0) }
            }
            let nodes = UInt64(max(members.union([selfId]).count, 1))
            let budget = UInt64(fresh) + 1 >= nodes ? UInt64(limit) : UInt64(limit) * (UInt64(fresh) + 1) / nodes
            let used = UInt64(s.local[key] ?? 0) + heard
            guard used < budget else { return Decision(allowed: false, limit: limit, remaining: 0, resetMillis: reset) }
            s.local[key, default: 0] += 1
            assert(s.local[key]! > 0, "an admitted request is counted")
            return Decision(allowed: true, limit: limit, remaining: UInt32(clamping: budget - used - 1), resetMillis: reset)
        }
    }

    /// Takes back one admitted request of `key` (an inline attempt that is run again on a
    /// worker, where it is counted anew).
    public func refund(key: UInt64, nowMillis: UInt64) {
        let window = nowMillis / windowMillis
        state.withLock { s in
            guard s.window == window, let n = s.local[key], n > 0 else { return }
            s.local[key] = n - 1
        }
    }

    /// This node's counts in the current window, to send to every peer (also when empty:
    /// the report says this node is alive and counting).
    public func report(nowMillis: UInt64) -> [UInt8] {
        let window = nowMillis / windowMillis
        return state.withLock { s in
            Self.roll(&s, to: window)
            var w = ByteWriter()
            w.u8(Self.version); w.u64(selfId); w.u64(windowMillis); w.u64(window)
            let entries = s.local.prefix(Self.maxKeysPerReport)
            w.u32(UInt32(entries.count))
            for (key, n) in entries { w.u64(key); w.u32(n) }
            return w.bytes
        }
    }

    /// A peer's report. A malformed one, or one counting other windows (a peer configured
    /// with another `rateLimit.windowSeconds`), is refused with why and changes nothing.
    public func receive(from peer: UInt64, _ payload: [UInt8], nowMillis: UInt64) throws(DecodeError) {
        var r = ByteReader(payload, what: "rate-limit report")
        let v = try r.u8()
        guard v == Self.version else { throw DecodeError("rate-limit report: version \(v) (this node reads \(Self.version))") }
        let from = try r.u64(), window = try r.u64(), index = try r.u64()
        guard from == peer else { throw DecodeError("rate-limit report: says it is from node \(from), arrived from node \(peer)") }
        guard window == windowMillis else {
            throw DecodeError("rate-limit report: node \(peer) counts \(window) ms windows, this node \(windowMillis) ms (rateLimit.windowSeconds must match)")
        }
        let n = try r.u32()
        guard n <= Self.maxKeysPerReport else { throw DecodeError("rate-limit report: \(n) keys (at most \(Self.maxKeysPerReport))") }
        var counts = [UInt64: UInt32](minimumCapacity: Int(n))
        for _ in 0..<n { counts[try r.u64()] = try r.u32() }
        try r.expectEnd()
        state.withLock { s in s.peers[peer] = PeerReport(window: index, counts: counts, receivedMillis: nowMillis) }
    }

    /// A new window starts every count at zero.
    private static func roll(_ s: inout State, to window: UInt64) {
        guard window != s.window else { return }
        s.window = window
        s.local.removeAll(keepingCapacity: true)
    }
}
