/// The role a node currently plays.
public enum RaftRole: Sendable, Equatable {
    case follower
    /// Running a pre-vote round: asks whether it could win, without changing term.
    case preCandidate
    case candidate
    case leader
}

/// The Raft state machine proper. Driven only by `tick`, `step` and the proposal calls of
/// `RawNode`; it appends outgoing messages to `outbox` and never performs I/O.
///
/// Safety invariants are asserted where the state changes (`precondition`, kept in release
/// builds): the term never decreases, a node votes at most once per term, the commit index
/// never moves back, a leader never truncates its own log, and applied ≤ committed ≤ last.
struct Raft {
    let config: RaftConfig
    var id: NodeID { config.id }

    private(set) var term: UInt64 = 0
    private(set) var vote: NodeID = .none
    var leader: NodeID = .none
    var role: RaftRole = .follower

    var log: RaftLog
    var confs: ConfigurationHistory

    /// Leader only: one entry per member of the configuration, plus this node.
    var progress: [Progress] = []
    /// Candidate / pre-candidate: responses received in this round.
    var votes: [(voter: NodeID, granted: Bool)] = []

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var rng: SplitMix64

    /// Leader only: the voter leadership is being handed to, or `.none`.
    var transferTarget: NodeID = .none

    var outbox: [Message] = []
    /// Leader: new entries or a higher commit index still to be sent to every follower. Set
    /// by proposals and commit advances, flushed once per Ready (`flushAppends`), so the
    /// proposals and acknowledgements stepped between two Readies share one append per
    /// follower instead of sending one each.
    var appendsPending = false
    var readStates: [ReadState] = []
    /// Leader only: ReadIndex rounds waiting for a quorum of heartbeat acknowledgements.
    var pendingReads: [PendingRead] = []
    /// Leader only: reads that arrived before an entry of this term committed.
    var readsAwaitingTermCommit: [(requester: NodeID, context: UInt64)] = []
    var readRound: UInt64 = 0

    /// The newest snapshot this node has (created locally or received); what a leader sends.
    /// Empty data past index 0 means a snapshot by reference: the application's own state is
    /// its body, and the bytes are asked for (`snapshotDataWanted`) only when a follower needs them.
    var latestSnapshot: Snapshot
    /// A follower needs the snapshot but only its reference is held: the application should
    /// hand the bytes of its current state to `compact`.
    var snapshotDataWanted = false
    var snapshotByReference: Bool { latestSnapshot.metadata.index > 0 && latestSnapshot.data.isEmpty }
    /// A snapshot received from the leader that the application has not yet installed.
    var snapshotToInstall: Snapshot?
    /// Follower: chunks of a snapshot being received.
    var incomingSnapshot: (metadata: SnapshotMetadata, data: [UInt8], total: Int)?

    init(config: RaftConfig, hardState: HardState, snapshot: Snapshot, entries: [Entry]) {
        precondition(config.id != .none, "node id 0 is reserved")
        precondition(config.heartbeatTicks < config.electionTicks, "heartbeat must be shorter than election timeout")
        self.config = config
        self.rng = SplitMix64(seed: config.randomSeed)
        self.latestSnapshot = snapshot
        self.log = RaftLog(
            snapshotIndex: snapshot.metadata.index, snapshotTerm: snapshot.metadata.term,
            entries: entries, committed: hardState.commit, applied: config.applied)
        self.confs = ConfigurationHistory(base: snapshot.metadata.conf)
        for entry in entries { confs.record(entry) }
        self.term = hardState.term
        self.vote = hardState.vote
        resetRandomizedElectionTimeout()
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }

    /// May this node start an election? Voters of its latest configuration may; so may a
    /// voter whose removal is appended but not yet committed (thesis 4.2.2): until the
    /// removal commits it may still be needed — e.g. when it alone holds the newest log, its
    /// peers cannot win without its vote, and it never grants one to a less complete log.
    var isPromotable: Bool {
        let conf = confs.current
        if conf.isVoter(id) { return true }
        let change = confs.lastChangeIndex
        return change > log.committed && confs.conf(at: change - 1).isVoter(id)
    }

    // MARK: - Guarded state changes (the invariants live here)

    mutating func setTerm(_ newTerm: UInt64) {
        precondition(newTerm >= term, "term moved back from \(term) to \(newTerm)")
        if newTerm > term {
            term = newTerm
            vote = .none
        }
    }

    mutating func setVote(_ candidate: NodeID) {
        precondition(vote == .none || vote == candidate, "node \(id) voting twice in term \(term)")
        vote = candidate
    }

    func checkInvariants() {
        precondition(log.applied <= log.committed, "applied \(log.applied) > committed \(log.committed)")
        precondition(log.committed <= log.lastIndex, "committed \(log.committed) > last \(log.lastIndex)")
    }

    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = config.electionTicks + rng.below(config.electionTicks)
    }

    mutating func send(_ message: Message) {
        outbox.append(message)
    }

    func message(_ kind: Message.Kind, to: NodeID) -> Message {
        Message(kind: kind, from: id, to: to, term: term)
    }

    // MARK: - Role transitions

    mutating func becomeFollower(term newTerm: UInt64, leader newLeader: NodeID) {
        setTerm(newTerm)
        role = .follower
        leader = newLeader
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        transferTarget = .none
        appendsPending = false
        snapshotDataWanted = false
        // Reads waiting on a leadership we no longer hold can never be confirmed: the clients
        // retry elsewhere.
        pendingReads.removeAll()
        readsAwaitingTermCommit.removeAll()
        progress.removeAll()
    }

    mutating func becomeLeader() {
        precondition(role == .candidate, "only a candidate can become leader")
        role = .leader
        leader = id
        electionElapsed = 0
        heartbeatElapsed = 0
        transferTarget = .none
        readRound = 0
        progress.removeAll()
        syncProgress()
        // The no-op commits every earlier-term entry in our log once it commits (paper 5.4.2).
        appendAsLeader(Entry(term: term, index: log.lastIndex + 1))
        broadcastAppend()
    }

    // MARK: - Tick

    mutating func tick() {
        if role == .leader { tickLeader() } else { tickElection() }
    }

    private mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(config.preVote ? .preVote : .election)
        }
    }

    private mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTicks {
            electionElapsed = 0
            if config.checkQuorum && !quorumRecentlyActive() {
                becomeFollower(term: term, leader: .none)
                return
            }
            for k in progress.indices where progress[k].id != id { progress[k].recentActive = false }
            // A transfer that has not finished within an election timeout is abandoned.
            transferTarget = .none
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat()
        }
    }

    // MARK: - Step

    mutating func step(_ m: Message) {
        if m.term > term {
            if m.kind == .requestVote || m.kind == .requestPreVote {
                // Leader stickiness (thesis 4.2.3): while we hear from a live leader, vote
                // requests are ignored — unless the leader itself asked for the election.
                let inLease = config.checkQuorum && leader != .none && electionElapsed < config.electionTicks
                if inLease && m.context != Message.transferContext { return }
            }
            switch m.kind {
            case .requestPreVote:
                break  // a pre-vote never changes anyone's term
            case .preVoteResponse where !m.reject:
                break  // granted for the term we would campaign in
            case .append, .heartbeat, .snapshotChunk:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: .none)
            }
        } else if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.kind == .append || m.kind == .heartbeat) {
                // A deposed leader that cannot learn the new term would keep its followers'
                // pre-votes failing; answering tells it to step down.
                send(message(.appendResponse, to: m.from))
            } else if m.kind == .requestPreVote {
                var reply = message(.preVoteResponse, to: m.from)
                reply.reject = true
                send(reply)
            }
            return
        }

        switch m.kind {
        case .requestVote, .requestPreVote:
            handleVoteRequest(m)
            return
        default:
            break
        }
        switch role {
        case .leader: stepLeader(m)
        case .candidate, .preCandidate: stepCandidate(m)
        case .follower: stepFollower(m)
        }
    }

    private mutating func stepFollower(_ m: Message) {
        switch m.kind {
        case .append:
            electionElapsed = 0
            leader = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            leader = m.from
            handleHeartbeat(m)
        case .snapshotChunk:
            electionElapsed = 0
            leader = m.from
            handleSnapshotChunk(m)
        case .timeoutNow:
            if isPromotable { campaign(.transfer) }
        case .readIndexResponse:
            if !m.reject { readStates.append(ReadState(context: m.context, index: m.index)) }
        case .readIndex:
            // Not the leader (any more): the requester's client will retry.
            break
        default:
            break
        }
    }

    private mutating func stepCandidate(_ m: Message) {
        switch m.kind {
        case .append, .heartbeat, .snapshotChunk:
            // Someone already won this term.
            becomeFollower(term: m.term, leader: m.from)
            stepFollower(m)
        case .voteResponse where role == .candidate:
            recordVote(m)
        case .preVoteResponse where role == .preCandidate:
            recordVote(m)
        default:
            break
        }
    }

    private mutating func stepLeader(_ m: Message) {
        guard let k = progressIndex(of: m.from) else { return }
        progress[k].recentActive = true
        switch m.kind {
        case .appendResponse:
            handleAppendResponse(m, progressAt: k)
        case .heartbeatResponse:
            handleHeartbeatResponse(m, progressAt: k)
        case .snapshotChunkResponse:
            handleSnapshotChunkResponse(m, progressAt: k)
        case .readIndex:
            handleReadRequest(from: m.from, context: m.context)
        default:
            break
        }
    }

    func progressIndex(of node: NodeID) -> Int? {
        for k in progress.indices where progress[k].id == node { return k }
        return nil
    }
}
