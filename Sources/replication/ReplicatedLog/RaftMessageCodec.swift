import ByteCodec
import Consensus

/// Wire form of Raft messages between peers (carried as transport frames of type 1).
/// Decoding validates everything: a peer's bytes are untrusted until they decode.
public enum RaftMessageCodec {
    public static let frameType: UInt8 = 1
    static let version: UInt8 = 1

    public static func encode(_ m: Message) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + m.entries.reduce(0) { $0 + $1.data.count + 24 } + (m.snapshot?.data.count ?? 0))
        w.u8(version)
        w.u8(m.kind.rawValue)
        w.u64(m.from); w.u64(m.to); w.u64(m.term); w.u64(m.logTerm); w.u64(m.index)
        w.u64(m.commit); w.bool(m.reject); w.u64(m.rejectHint); w.u64(m.hintTerm); w.u64(m.context)
        w.u32(UInt32(m.entries.count))
        for e in m.entries { encode(e, into: &w) }
        if let s = m.snapshot {
            w.bool(true)
            encode(s.metadata, into: &w)
            w.u64(UInt64(s.offset)); w.u64(UInt64(s.totalSize)); w.data(s.data)
        } else {
            w.bool(false)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Message {
        var r = ByteReader(bytes, what: "raft message")
        let v = try r.u8()
        guard v == version else { throw DecodeError("raft message: unsupported version \(v)") }
        let k = try r.u8()
        guard let kind = Message.Kind(rawValue: k) else { throw DecodeError("raft message: unknown kind \(k)") }
        var m = Message(kind: kind, from: try r.u64(), to: try r.u64(), term: try r.u64())
        m.logTerm = try r.u64(); m.index = try r.u64(); m.commit = try r.u64()
        m.reject = try r.bool(); m.rejectHint = try r.u64(); m.hintTerm = try r.u64(); m.context = try r.u64()
        let n = Int(try r.u32())
        guard n <= r.remaining / 21 else { throw DecodeError("raft message: \(n) entries cannot fit in \(r.remaining) bytes") }
        m.entries.reserveCapacity(n)
        for _ in 0..<n { m.entries.append(try decodeEntry(&r)) }
        if try r.bool() {
            let meta = try decodeMetadata(&r)
            let offset = try r.u64(), total = try r.u64()
            let data = try r.data()
            guard offset <= UInt64(Int.max), total <= UInt64(Int.max), offset + UInt64(data.count) <= total else {
                throw DecodeError("raft message: snapshot chunk offset \(offset) + \(data.count) exceeds total \(total)")
            }
            m.snapshot = SnapshotChunk(metadata: meta, offset: Int(offset), totalSize: Int(total), data: data)
        }
        try r.expectEnd()
        return m
    }

    public static func encode(_ e: Entry, into w: inout ByteWriter) {
        w.u64(e.term); w.u64(e.index); w.u8(e.kind.rawValue); w.data(e.data)
    }

    public static func decodeEntry(_ r: inout ByteReader) throws(DecodeError) -> Entry {
        let term = try r.u64(), index = try r.u64(), k = try r.u8()
        guard let kind = Entry.Kind(rawValue: k) else { throw DecodeError("entry \(index): unknown kind \(k)") }
        return Entry(term: term, index: index, kind: kind, data: try r.data())
    }

    public static func encode(_ meta: SnapshotMetadata, into w: inout ByteWriter) {
        w.u64(meta.index); w.u64(meta.term)
        w.u32(UInt32(meta.conf.voters.count)); meta.conf.voters.forEach { w.u64($0) }
        w.u32(UInt32(meta.conf.learners.count)); meta.conf.learners.forEach { w.u64($0) }
    }

    public static func decodeMetadata(_ r: inout ByteReader) throws(DecodeError) -> SnapshotMetadata {
        let index = try r.u64(), term = try r.u64()
        func ids(_ r: inout ByteReader) throws(DecodeError) -> [NodeID] {
            let n = Int(try r.u32())
            guard n <= 10_000 else { throw DecodeError("snapshot metadata: \(n) members is implausible") }
            var out = [NodeID]()
            for _ in 0..<n { out.append(try r.u64()) }
            return out
        }
        let voters = try ids(&r), learners = try ids(&r)
        return SnapshotMetadata(index: index, term: term, conf: ConfState(voters: voters, learners: learners))
    }
}
