import ByteCodec
@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Chain
import Consensus
import Foundation
import Storage
import Testing
import TestSupport
@testable import Node

@Suite struct CodecTests {
    static func randomMessage(_ rng: inout SystemRandomNumberGenerator) -> Message {
        var m = Message(kind: Message.Kind(rawValue: UInt8.random(in: 0...12, using: &rng))!, from: .random(in: 1...9, using: &rng),
                        to: .random(in: 1...9, using: &rng), term: .random(in: 0...1000, using: &rng))
        m.logTerm = .random(in: 0...1000, using: &rng); m.index = .random(in: 0...UInt64.max, using: &rng)
        m.commit = .random(in: 0...1000, using: &rng); m.reject = .random(using: &rng)
        m.rejectHint = .random(in: 0...99, using: &rng); m.hintTerm = .random(in: 0...99, using: &rng); m.context = .random(in: 0...UInt64.max, using: &rng)
        m.entries = (0..<Int.random(in: 0...4, using: &rng)).map { i in
            Consensus.Entry(term: 3, index: UInt64(i + 1), kind: Bool.random(using: &rng) ? .normal : .confChange,
                            data: (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
        if Bool.random(using: &rng) {
            m.snapshot = SnapshotChunk(metadata: SnapshotMetadata(index: 9, term: 2, conf: ConfState(voters: [1, 2, 3], learners: [4])),
                                       offset: 10, totalSize: 30, data: Array(repeating: 7, count: 20))
        }
        return m
    }

    static func same(_ a: Message, _ b: Message) -> Bool {
        a.kind == b.kind && a.from == b.from && a.to == b.to && a.term == b.term && a.logTerm == b.logTerm && a.index == b.index
            && a.commit == b.commit && a.reject == b.reject && a.rejectHint == b.rejectHint && a.hintTerm == b.hintTerm
            && a.context == b.context && a.entries == b.entries && a.snapshot == b.snapshot
    }

    @Test func messagesRoundTripAndCorruptionNeverCrashes() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let m = Self.randomMessage(&rng)
            let bytes = RaftMessageCodec.encode(m)
            #expect(Self.same(try RaftMessageCodec.decode(bytes), m))
            // Truncations are always rejected; flipped bytes are rejected or decode to something — never a trap.
            let cut = Int.random(in: 0..<bytes.count, using: &rng)
            #expect(throws: DecodeError.self) { try RaftMessageCodec.decode(Array(bytes[0..<cut])) }
            var flipped = bytes
            flipped[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            _ = try? RaftMessageCodec.decode(flipped)
        }
    }

    /// Peer messages as a hostile (but authenticated) peer could shape them: every
    /// truncation, every count and length field set to all-ones, the sign bit and
    /// just-too-large, and seeded random mutations. Each decode throws `DecodeError` or
    /// yields a message; none traps or allocates what the bytes cannot hold.
    @Test func peerMessagesBuiltAroundTheEdges() throws {
        for seed in Fuzz.seeds("peerMessagesBuiltAroundTheEdges") {
            var rng = SeededRandom(seed: seed)
            var sys = SystemRandomNumberGenerator()
            var samples = (0..<20).map { _ in Self.randomMessage(&sys) }
            samples.append(Message(kind: .append, from: 1, to: 2, term: 3))
            for m in samples {
                let bytes = RaftMessageCodec.encode(m)
                for cut in 0..<bytes.count {
                    #expect(throws: DecodeError.self, "seed \(seed): cut at \(cut)") { try RaftMessageCodec.decode(Array(bytes[0..<cut])) }
                }
                // Every aligned 4-byte window (counts and lengths are u32) set to edge values.
                for at in stride(from: 0, to: bytes.count - 3, by: 1) {
                    for edge: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0], [0x7F, 0xFF, 0xFF, 0xFF], [0, 0, 0x10, 0]] {
                        var b = bytes
                        b.replaceSubrange(at..<(at + 4), with: edge)
                        _ = try? RaftMessageCodec.decode(b)
                    }
                }
            }
            for i in 0..<Fuzz.iterations(ci: 3000) {
                var b = RaftMessageCodec.encode(samples[Int.random(in: 0..<samples.count, using: &rng)])
                for _ in 0..<Int.random(in: 1...6, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                if Bool.random(using: &rng) { b += rng.bytes(Int.random(in: 0...64, using: &rng)) }
                do { _ = try RaftMessageCodec.decode(b) } catch { #expect(!error.description.isEmpty, "seed \(seed) case \(i)") }
            }
        }
    }

    @Test func logStorePersistsTruncatesAndCompacts() throws {
        let env = try Environment(path: temporaryDirectory("logstore"))
        let store = try RaftLogStore(env: env)
        #expect(try store.isEmpty())
        let entries = (1...10).map { Consensus.Entry(term: 1, index: UInt64($0), data: [UInt8($0)]) }
        try store.persist(hardState: HardState(term: 1, vote: 2, commit: 3), entries: entries, snapshot: nil)
        var loaded = try store.load()
        #expect(loaded.entries == entries && loaded.hardState == HardState(term: 1, vote: 2, commit: 3))
        // A conflicting suffix from index 6 replaces 6...10.
        let replacement = (6...7).map { Consensus.Entry(term: 2, index: UInt64($0), data: [0xff]) }
        try store.persist(hardState: nil, entries: replacement, snapshot: nil)
        loaded = try store.load()
        #expect(loaded.entries.map(\.index) == Array(1...7) && loaded.entries.last?.term == 2)
        // Compaction through 4 keeps 5...7 after the snapshot.
        let snap = Snapshot(metadata: SnapshotMetadata(index: 4, term: 1, conf: ConfState(voters: [1, 2, 3])), data: [1, 2, 3])
        try store.compact(snapshot: snap)
        loaded = try store.load()
        #expect(loaded.snapshot == snap && loaded.entries.map(\.index) == [5, 6, 7])
        // An installed snapshot beyond the log discards the whole log.
        let far = Snapshot(metadata: SnapshotMetadata(index: 20, term: 3, conf: ConfState(voters: [1, 2, 3])), data: [9])
        try store.persist(hardState: HardState(term: 3, vote: 0, commit: 20), entries: [], snapshot: far)
        loaded = try store.load()
        #expect(loaded.snapshot == far && loaded.entries.isEmpty)
    }

    @Test func logStoreKeepsALargeSnapshotInParts() throws {
        let env = try Environment(path: temporaryDirectory("logstore-parts"))
        let store = try RaftLogStore(env: env, snapshotPartBytes: 1000)
        let conf = ConfState(voters: [1, 2, 3])
        let big = Snapshot(metadata: SnapshotMetadata(index: 5, term: 1, conf: conf), data: (0..<4321).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try store.persist(hardState: HardState(term: 1, vote: 0, commit: 5), entries: [], snapshot: big)
        #expect(try store.load().snapshot == big, "five parts read back as one snapshot")
        // A smaller snapshot replaces it and leaves no stale part behind.
        let small = Snapshot(metadata: SnapshotMetadata(index: 9, term: 1, conf: conf), data: [1, 2, 3])
        try store.persist(hardState: nil, entries: [], snapshot: small)
        #expect(try store.load().snapshot == small)
        let leftovers = try env.read { txn in try txn.entries(in: try env.table("raft_meta")).filter { $0.key.starts(with: Array("snapshotPart".utf8)) } }
        #expect(leftovers.isEmpty, "no part of the large snapshot is left")
        // A lost part is damage, not a shorter snapshot.
        try store.persist(hardState: nil, entries: [], snapshot: Snapshot(metadata: SnapshotMetadata(index: 12, term: 1, conf: conf), data: big.data))
        try env.write { txn in _ = try txn.delete(try env.table("raft_meta"), RaftLogStore.snapshotPartKey(2)) }
        #expect(throws: (any Error).self) { try store.load() }
    }

    @Test func commandsRejectGarbage() {
        #expect(throws: DecodeError.self) { try StateMachineRoot.Command.decode([9]) }
        #expect(throws: DecodeError.self) { try StateMachineRoot.Command.decode([1, 0, 0]) }
        #expect(try! StateMachineRoot.Command.decode(StateMachineRoot.Command.put(key: "a", value: [1]).encoded()) == .put(key: "a", value: [1]))
    }
}
