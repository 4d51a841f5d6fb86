/// A message between two Raft nodes. One flat struct for every kind, as in etcd: the
/// transport serialises it once, and fields a kind does not use stay at their defaults.
public struct Message: Sendable {
    public enum Kind: UInt8, Sendable {
        /// Leader → follower: `entries` follow (`index`, `logTerm`); `commit` is the leader's.
        case append
        /// Follower → leader: success with `index` = last matching index, or `reject` with
        /// hints `rejectHint` (first index to retry) and `hintTerm` (conflicting term, 0 if
        /// the follower's log is simply too short).
        case appendResponse
        /// Leader → follower: liveness and commit; `context` carries the newest ReadIndex
        /// round so acknowledgements confirm leadership for reads.
        case heartbeat
        case heartbeatResponse
        /// Candidate → voter. `index`/`logTerm` describe the candidate's last entry;
        /// `context` is `transferContext` when the election was requested by the leader.
        case requestVote
        case voteResponse
        /// Like `requestVote` but for term + 1 without anyone changing term (thesis 9.6).
        case requestPreVote
        case preVoteResponse
        /// Leader → follower: one chunk of a snapshot.
        case snapshotChunk
        /// Follower → leader: `index` = snapshot index, `rejectHint` = next offset wanted.
        case snapshotChunkResponse
        /// Leader → transfer target: campaign now, ignoring the election timer.
        case timeoutNow
        /// Follower → leader: a ReadIndex request on behalf of a local client (`context`).
        case readIndex
        /// Leader → follower: the read index (`index`) for request `context`, or `reject`.
        case readIndexResponse
    }

    /// Marks a vote request caused by leadership transfer, which voters must not ignore
    /// because of a leader lease (CheckQuorum) — the leader itself asked for it.
    public static let transferContext: UInt64 = 1

    public var kind: Kind
    public var from: NodeID
    public var to: NodeID
    public var term: UInt64
    public var logTerm: UInt64 = 0
    public var index: UInt64 = 0
    public var entries: [Entry] = []
    public var commit: UInt64 = 0
    public var reject: Bool = false
    public var rejectHint: UInt64 = 0
    public var hintTerm: UInt64 = 0
    public var context: UInt64 = 0
    public var snapshot: SnapshotChunk? = nil

    public init(kind: Kind, from: NodeID, to: NodeID, term: UInt64) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
    }

    /// Approximate size on the wire, for byte-based flow control.
    var byteSize: Int {
        var size = 64
        for entry in entries { size += entry.byteSize }
        if let snapshot { size += snapshot.data.count }
        return size
    }
}
