import Consensus

/// Raft's safety properties, checked incrementally as the simulation runs so each check
/// costs O(1) per event (leader completeness costs O(log) once per new leader).
struct SafetyChecker {
    /// The applied history, identical on every node: entry i at `history[i - 1]`.
    private(set) var history: [(term: UInt64, key: UInt64)] = []
    /// State digest after applying index i, at `digests[i]`.
    private(set) var digests: [UInt64] = [0]
    /// Election Safety: the one leader seen for each term.
    private var leaders: [UInt64: NodeID] = [:]
    /// Log Matching, by induction: an (index, term) pair must always name the same entry
    /// and follow the same previous term. If that holds for every persisted entry, any two
    /// logs agreeing on (index, term) agree on everything before it.
    private var identities: [IndexTerm: (key: UInt64, previousTerm: UInt64)] = [:]
    /// Highest commit index any node has persisted: everything at or below it may have
    /// been acknowledged to a client.
    private(set) var knownCommitted: UInt64 = 0
    /// Each rise of `knownCommitted`, with the term of the node that persisted it. A node
    /// learns a commit index only from the leader of its own term, so entries up to `index`
    /// were committed in `term` or earlier — an upper bound, which keeps the check sound.
    private var commitRises: [(index: UInt64, term: UInt64)] = []

    struct IndexTerm: Hashable {
        var index: UInt64
        var term: UInt64
    }

    var appliedCount: UInt64 { UInt64(history.count) }

    mutating func observeCommit(_ commit: UInt64, term: UInt64) {
        guard commit > knownCommitted else { return }
        knownCommitted = commit
        commitRises.append((commit, term))
    }

    /// The entries a leader of `term` must hold: everything committed in an earlier term.
    /// Not everything applied: a candidate whose votes were held back can win an old term
    /// after a later term committed more, and Raft promises those entries only to leaders
    /// of later terms.
    func committedBefore(term: UInt64) -> UInt64 {
        var required: UInt64 = 0
        for rise in commitRises where rise.term < term { required = max(required, rise.index) }
        return min(required, UInt64(history.count))
    }

    /// Returns true if this is the first sighting of this leader in this term.
    mutating func observeLeader(_ node: NodeID, term: UInt64) throws(SimulationFailure) -> Bool {
        if let existing = leaders[term] {
            if existing != node { throw SimulationFailure("election safety: nodes \(existing) and \(node) both lead term \(term)") }
            return false
        }
        leaders[term] = node
        return true
    }

    /// Leader Completeness: a new leader holds every entry committed in an earlier term.
    func checkLeaderCompleteness(_ node: RawNode) throws(SimulationFailure) {
        let id = node.status.id
        let required = committedBefore(term: node.currentTerm)
        guard node.lastIndex >= required else {
            throw SimulationFailure("leader completeness: leader \(id) of term \(node.currentTerm) has last index \(node.lastIndex) but \(required) entries were committed before its term")
        }
        var index = node.snapshotIndex + 1
        while index <= required {
            let expected = history[Int(index - 1)].term
            if node.term(at: index) != expected {
                throw SimulationFailure("leader completeness: leader \(id) of term \(node.currentTerm) has term \(node.term(at: index).map(String.init) ?? "none") at \(index), committed history has \(expected)")
            }
            index += 1
        }
    }

    mutating func observePersisted(_ entry: Entry, previousTerm: UInt64, node: NodeID) throws(SimulationFailure) {
        let key = SimStateMachine.key(of: entry)
        let slot = IndexTerm(index: entry.index, term: entry.term)
        if let known = identities[slot] {
            if known.key != key || known.previousTerm != previousTerm {
                throw SimulationFailure("log matching: node \(node) persisted a different entry at index \(entry.index) term \(entry.term)")
            }
        } else {
            identities[slot] = (key, previousTerm)
        }
    }

    /// State Machine Safety: every node applies the same entry at each index. Returns true
    /// when this is the first application of the entry anywhere.
    @discardableResult
    mutating func observeApplied(_ entry: Entry, node: NodeID, digestAfter: UInt64) throws(SimulationFailure) -> Bool {
        let key = SimStateMachine.key(of: entry)
        let position = Int(entry.index)
        if position <= history.count {
            let known = history[position - 1]
            if known.term != entry.term || known.key != key {
                throw SimulationFailure("state machine safety: node \(node) applied term \(entry.term) at \(entry.index), others applied term \(known.term)")
            }
            if digests[position] != digestAfter {
                throw SimulationFailure("state machine safety: node \(node) state digest differs at \(entry.index)")
            }
            return false
        } else if position == history.count + 1 {
            history.append((entry.term, key))
            digests.append(digestAfter)
            return true
        } else {
            throw SimulationFailure("node \(node) applied \(entry.index) but history ends at \(history.count)")
        }
    }

    /// A node's state machine was restored from a snapshot at `index`.
    func checkRestoredState(index: UInt64, digest: UInt64, node: NodeID) throws(SimulationFailure) {
        guard index <= UInt64(history.count) else {
            throw SimulationFailure("snapshot on node \(node) covers \(index) but only \(history.count) entries were ever applied")
        }
        if digests[Int(index)] != digest {
            throw SimulationFailure("snapshot on node \(node) at \(index) holds a different state")
        }
    }

    func entryKey(at index: UInt64) -> UInt64? {
        index >= 1 && index <= UInt64(history.count) ? history[Int(index - 1)].key : nil
    }
}

/// A violated property, with the tick it was detected at.
public struct SimulationFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var tick: Int = -1

    init(_ message: String) { self.message = message }

    public var description: String { "tick \(tick): \(message)" }
}
