import ByteCodec
import Synchronization
import Tenancy

/// Per-key, per-method data-access counts, gathered in memory on the hot path and
/// replicated a batch at a time: every `flushMillis` each node seals what it counted into a
/// `UsageBatch`; the leader proposes its own and those its followers sent it (peer frame
/// type 3) as one `TenantCommand.usage`; a node keeps a batch until the log shows it applied,
/// resending it meanwhile (to a new leader, say), and apply skips one seen before. So a count
/// is lost only with the process that held it.
///
/// A batch's `seq` is the sealing time in milliseconds (at least one above the previous), so
/// a restarted node never reuses one.
public final class UsageRecorder: Sendable {
    public static let frameType: UInt8 = 3
    public static let flushMillis: UInt64 = 10_000
    /// About an hour of batches at most, per node: beyond that the oldest are dropped.
    static let maxPending = 360
    static let maxBatchesPerMessage = 64

    struct Slot: Hashable { var key: UInt64; var minute: UInt64; var method: String }

    struct State {
        var current: [Slot: (calls: UInt64, errors: UInt64)] = [:]
        var lastUsed: [UInt64: UInt64] = [:]
        var lastSeq: UInt64 = 0
        var pending: [UsageBatch] = []
        /// The leader's: batches its followers sent, by node and seq.
        var inbox: [UInt64: [UInt64: UsageBatch]] = [:]
        var dropped = 0
    }

    public let nodeId: UInt64
    private let state = Mutex(State())

    public init(nodeId: UInt64) {
        precondition(nodeId != 0, "node ids are positive")
        self.nodeId = nodeId
    }

    /// One call of `key` to `method`; the hot path: one dictionary update under a lock.
    public func record(key: UInt64, method: String, error: Bool, nowMillis: UInt64) {
        // Method names are short; only an outlandish one is cut (and then copied).
        let name = method.utf8.count <= 64 ? method : String(decoding: method.utf8.prefix(64), as: UTF8.self)
        let slot = Slot(key: key, minute: nowMillis / 60_000, method: name)
        state.withLock { s in
            let c = s.current[slot] ?? (0, 0)
            s.current[slot] = (c.calls + 1, c.errors + (error ? 1 : 0))
            if nowMillis > s.lastUsed[key] ?? 0 { s.lastUsed[key] = nowMillis }
        }
    }

    /// Seals the counts since the last seal into a batch, kept until applied.
    public func seal(nowMillis: UInt64) {
        state.withLock { s in
            guard !s.current.isEmpty else { return }
            let seq = max(s.lastSeq + 1, nowMillis)
            let rows = s.current.map { UsageRow(key: $0.key.key, minute: $0.key.minute, method: $0.key.method, calls: $0.value.calls, errors: $0.value.errors) }
            s.pending.append(UsageBatch(node: nodeId, seq: seq, rows: rows, lastUsed: s.lastUsed))
            s.lastSeq = seq
            s.current.removeAll(keepingCapacity: true)
            s.lastUsed.removeAll(keepingCapacity: true)
            if s.pending.count > Self.maxPending { s.dropped += s.pending.count - Self.maxPending; s.pending.removeFirst(s.pending.count - Self.maxPending) }
            assert(s.pending.last?.seq == seq, "the newest batch is last")
        }
    }

    /// Forgets this node's batches up to `appliedSeq` (the log has them) and the inbox's
    /// batches each node has applied.
    public func acknowledge(applied: (UInt64) -> UInt64) {
        state.withLock { s in
            let mine = applied(nodeId)
            s.pending.removeAll { $0.seq <= mine }
            for node in Array(s.inbox.keys) {
                let done = applied(node)
                s.inbox[node] = s.inbox[node]!.filter { $0.key > done }
                if s.inbox[node]!.isEmpty { s.inbox[node] = nil }
            }
        }
    }

    /// What this node still has to get into the log, and (on the leader) what its followers
    /// sent: at most `maxBatchesPerMessage`, oldest first.
    public func unapplied() -> [UsageBatch] {
        state.withLock { s in
            let theirs = s.inbox.values.flatMap(\.values)
            return Array((s.pending + theirs).sorted { ($0.seq, $0.node) < ($1.seq, $1.node) }.prefix(Self.maxBatchesPerMessage))
        }
    }

    /// This node's unapplied batches as a message for the leader.
    public func message() -> [UInt8]? {
        let mine = state.withLock { Array($0.pending.prefix(Self.maxBatchesPerMessage)) }
        guard !mine.isEmpty else { return nil }
        var w = ByteWriter()
        w.u8(1); w.u32(UInt32(mine.count))
        for b in mine { b.write(&w) }
        return w.bytes
    }

    /// A follower's batches, on the leader. Refused with why when malformed or not the
    /// sender's own.
    public func receive(from peer: UInt64, _ payload: [UInt8]) throws(DecodeError) {
        var r = ByteReader(payload, what: "usage message")
        let v = try r.u8()
        guard v == 1 else { throw DecodeError("usage message: version \(v) (this node reads 1)") }
        let n = try r.u32()
        guard n <= UInt32(Self.maxBatchesPerMessage) else { throw DecodeError("usage message: \(n) batches (at most \(Self.maxBatchesPerMessage))") }
        let batches = try (0..<n).map { _ throws(DecodeError) in try UsageBatch.read(&r) }
        try r.expectEnd()
        guard batches.allSatisfy({ $0.node == peer }) else { throw DecodeError("usage message: node \(peer) sent another node's batch") }
        state.withLock { s in
            for b in batches { s.inbox[peer, default: [:]][b.seq] = b }
            if let box = s.inbox[peer], box.count > Self.maxPending {
                for seq in box.keys.sorted().prefix(box.count - Self.maxPending) { s.inbox[peer]![seq] = nil; s.dropped += 1 }
            }
        }
    }

    /// Batches dropped because the log could not take them for an hour (never otherwise).
    public var dropped: Int { state.withLock { $0.dropped } }
}
