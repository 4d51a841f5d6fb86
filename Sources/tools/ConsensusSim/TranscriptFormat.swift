import Consensus

/// One-line renderings of messages and entries for transcripts: compact, deterministic,
/// and showing only the fields a message kind uses, so a behaviour change reads as a
/// one-line diff.
public enum TranscriptFormat {
    public static func entry(_ e: Entry) -> String {
        switch e.kind {
        case .confChange:
            guard let change = ConfChange(decoding: e.data) else { return "\(e.term)/\(e.index) conf(undecodable)" }
            return "\(e.term)/\(e.index) conf \(change.kind) \(change.node)"
        case .normal:
            if e.data.isEmpty { return "\(e.term)/\(e.index) empty" }
            if e.data.allSatisfy({ $0 >= 0x21 && $0 < 0x7F && $0 != 0x22 }) { return "\(e.term)/\(e.index) \"\(String(decoding: e.data, as: UTF8.self))\"" }
            return "\(e.term)/\(e.index) \(e.data.count) bytes"
        }
    }

    public static func entries(_ list: [Entry]) -> String {
        "[" + list.map(entry).joined(separator: ", ") + "]"
    }

    public static func message(_ m: Message) -> String {
        var parts = ["\(m.from)->\(m.to) \(m.kind) term \(m.term)"]
        switch m.kind {
        case .append:
            parts.append("prev \(m.logTerm)/\(m.index) commit \(m.commit)")
            if !m.entries.isEmpty { parts.append("entries \(entries(m.entries))") }
        case .appendResponse:
            if m.reject { parts.append("reject hint \(m.rejectHint) hint term \(m.hintTerm)") } else { parts.append("match \(m.index)") }
        case .heartbeat:
            parts.append("commit \(m.commit) round \(m.context)")
        case .heartbeatResponse:
            parts.append("round \(m.context)")
        case .requestVote, .requestPreVote:
            parts.append("last \(m.logTerm)/\(m.index)")
            if m.context == Message.transferContext { parts.append("(transfer)") }
        case .voteResponse, .preVoteResponse:
            parts.append(m.reject ? "rejected" : "granted")
        case .snapshotChunk:
            if let chunk = m.snapshot {
                parts.append("snapshot \(chunk.metadata.index)/\(chunk.metadata.term) bytes \(chunk.offset)..<\(chunk.offset + chunk.data.count) of \(chunk.totalSize)")
            }
        case .snapshotChunkResponse:
            parts.append(m.reject ? "snapshot \(m.index) restart" : "snapshot \(m.index) next \(m.rejectHint)")
        case .timeoutNow:
            break
        case .readIndex:
            parts.append("context \(m.context)")
        case .readIndexResponse:
            parts.append(m.reject ? "context \(m.context) rejected" : "context \(m.context) index \(m.index)")
        }
        return parts.joined(separator: " ")
    }

    public static func status(_ s: NodeStatus) -> String {
        "\(s.id): \(s.role) term \(s.term) vote \(s.vote) leader \(s.leader) commit \(s.committed) applied \(s.applied) last \(s.lastIndex) snapshot \(s.snapshotIndex) voters \(s.conf.voters) learners \(s.conf.learners)"
    }
}
