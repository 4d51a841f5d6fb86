import Consensus

/// Checks the durability contract itself at every send, instead of waiting for a crash in
/// the right window to expose its consequences: whatever a message promises must already be
/// on the sender's disk.
public enum PromiseOracle {
    /// Why `message` promises more than `disk` holds, or nil when it is backed.
    public static func violation(_ message: Message, disk: PersistedState) -> String? {
        let hs = disk.hardState
        let lastIndex = disk.snapshot.metadata.index + UInt64(disk.entries.count)
        switch message.kind {
        case .requestPreVote, .preVoteResponse:
            // Pre-votes speak of a term nobody adopted yet; they promise nothing.
            return nil
        default:
            break
        }
        if message.term > hs.term {
            return "node \(message.from) sent \(message.kind) in term \(message.term) with term \(hs.term) on disk"
        }
        switch message.kind {
        // A later term on disk keeps a promise of an earlier one: the node never acts in
        // that term again (one Ready may grant a vote and then move on to a new term).
        case .voteResponse where !message.reject && hs.term == message.term:
            if hs.vote != message.to {
                return "node \(message.from) granted its vote in term \(message.term) to \(message.to) with (term \(hs.term), vote \(hs.vote)) on disk"
            }
        // A candidate's request says it voted for itself: were that vote lost in a crash,
        // it could vote for a rival in the same term and two leaders could win it.
        case .requestVote where hs.term == message.term:
            if hs.vote != message.from {
                return "node \(message.from) asked for votes in term \(message.term) with (term \(hs.term), vote \(hs.vote)) on disk"
            }
        case .appendResponse where !message.reject && hs.term == message.term:
            if message.index > lastIndex {
                return "node \(message.from) acknowledged entries through \(message.index) with its log ending at \(lastIndex) on disk"
            }
        default:
            break
        }
        return nil
    }
}
