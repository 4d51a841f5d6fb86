import ByteCodec
import Chain
import Consensus
import Hashing
import ReplicatedLog
import StateMachine

/// A run of committed Raft entries shipped to backup storage: entries `first...last`, the
/// state digest before the first and after the last (so a restore that replays them can
/// check it reached the state the cluster had), and a SHA-256 of everything before it.
///
/// Layout: "INFRASEG", version (1), cluster id, first, last, start digest, end digest,
/// entry count, each entry length-prefixed in the Raft wire encoding, SHA-256 trailer.
public struct LogSegment: Equatable, Sendable {
    public static let magic = Array("INFRASEG".utf8)
    public static let version: UInt8 = 1
    public var clusterId: String
    public var entries: [Consensus.Entry]
    public var startDigest: [UInt8]
    public var endDigest: [UInt8]
    public var first: UInt64 { entries.first!.index }
    public var last: UInt64 { entries.last!.index }

    /// Segments after `start` (the state digest at `entries[0].index - 1`): the end digest
    /// is what applying them yields.
    public init(clusterId: String, startDigest: [UInt8], entries: [Consensus.Entry]) {
        precondition(!entries.isEmpty, "a segment holds at least one entry")
        precondition(zip(entries, entries.dropFirst()).allSatisfy { $0.index + 1 == $1.index }, "a segment's entries are contiguous")
        self.clusterId = clusterId
        self.entries = entries
        self.startDigest = startDigest
        endDigest = entries.reduce(startDigest) { StateMachineRoot.extend($0, with: $1) }
    }

    /// `segments/<first>-<last>.seg`, zero-padded so names sort by index.
    public var name: String { Self.name(first: first, last: last) }
    public static let prefix = "segments/"
    public static func name(first: UInt64, last: UInt64) -> String { prefix + pad(first) + "-" + pad(last) + ".seg" }
    static func pad(_ v: UInt64) -> String { let s = String(v); return String(repeating: "0", count: max(0, 20 - s.count)) + s }

    /// The index range a segment's name claims, or nil for a name that is not a segment's.
    public static func range(ofName name: String) -> ClosedRange<UInt64>? {
        guard name.hasPrefix(prefix), name.hasSuffix(".seg") else { return nil }
        let parts = name.dropFirst(prefix.count).dropLast(4).split(separator: "-")
        guard parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a >= 1, a <= b else { return nil }
        return a...b
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: entries.reduce(256) { $0 + $1.data.count + 32 })
        w.raw(Self.magic); w.u8(Self.version)
        w.string(clusterId)
        w.u64(first); w.u64(last)
        w.data(startDigest); w.data(endDigest)
        w.u32(UInt32(entries.count))
        for e in entries {
            var one = ByteWriter(capacity: e.data.count + 24)
            RaftMessageCodec.encode(e, into: &one)
            w.data(one.bytes)
        }
        w.raw(SHA256.hash(w.bytes))
        return w.bytes
    }

    /// Decodes and checks a segment: its checksum, its range against `name`, contiguity,
    /// and that its entries lead from its start digest to its end digest. Any mismatch is
    /// an error naming the segment.
    public static func decode(_ bytes: [UInt8], name: String) throws -> LogSegment {
        func bad(_ why: String) -> BackupTargetProblem { BackupTargetProblem("\(name): \(why)") }
        guard bytes.count > magic.count + 33, Array(bytes.prefix(magic.count)) == magic else { throw bad("not a log segment (no INFRASEG header)") }
        let body = Array(bytes.dropLast(32))
        guard SHA256.hash(body) == Array(bytes.suffix(32)) else { throw bad("checksum mismatch: the segment is damaged or truncated") }
        var r = ByteReader(body, what: name)
        do {
            _ = try r.raw(magic.count)
            let v = try r.u8()
            guard v <= version else { throw bad("segment version \(v) is newer than this binary reads (\(version))") }
            let cluster = try r.string()
            let first = try r.u64(), last = try r.u64()
            let start = try r.data(max: 32), end = try r.data(max: 32)
            let count = try r.u32()
            guard start.count == 32, end.count == 32, count > 0, UInt64(count) == last - first + 1 else { throw bad("inconsistent header (\(first)...\(last), \(count) entries)") }
            var entries = [Consensus.Entry]()
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                var er = ByteReader(try r.data(), what: "\(name) entry")
                entries.append(try RaftMessageCodec.decodeEntry(&er))
                try er.expectEnd()
            }
            try r.expectEnd()
            guard entries.enumerated().allSatisfy({ $0.element.index == first + UInt64($0.offset) }) else { throw bad("entries are not \(first)...\(last) in order") }
            if let claimed = range(ofName: name), claimed != first...last { throw bad("holds \(first)...\(last), its name says \(claimed)") }
            let s = LogSegment(clusterId: cluster, startDigest: start, entries: entries)
            guard s.endDigest == end else { throw bad("its entries do not lead from its start digest to its end digest") }
            return s
        } catch let e as DecodeError {
            throw bad("malformed: \(e)")
        }
    }
}
