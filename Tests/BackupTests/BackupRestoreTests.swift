@testable import Backup
import Consensus
import Foundation
import ReplicatedLog
import StateMachine
import Storage
import Testing

/// A node's state (an LMDB environment with the state machine and the Raft log) that
/// entries are committed to as the driver would: persisted to the log, then applied.
final class Replica {
    let dir: String
    let env: Environment
    let root: StateMachineRoot
    let log: RaftLogStore
    var next: UInt64 = 1

    init(_ name: String) throws {
        dir = NSTemporaryDirectory() + "infrastack-backup-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        env = try Environment(path: dir)
        root = try StateMachineRoot(env: env)
        log = try RaftLogStore(env: env)
        let boot = PersistedState.bootstrap(voters: [1, 2, 3])
        try log.persist(hardState: boot.hardState, entries: boot.entries, snapshot: nil)
        try root.apply(boot.entries)
        next = UInt64(boot.entries.count) + 1
    }

    /// Commits `count` debug-KV writes `key-<index>` = `value-<index>` in term `term`.
    @discardableResult
    func put(_ count: Int, term: UInt64 = 2) throws -> [Consensus.Entry] {
        let entries = (0..<UInt64(count)).map { i in
            Entry(term: term, index: next + i, data: NodeCommand.put(key: "key-\(next + i)", value: Array("value-\(next + i)".utf8)).encoded())
        }
        try log.persist(hardState: HardState(term: term, vote: 1, commit: next + UInt64(count) - 1), entries: entries, snapshot: nil)
        try root.apply(entries)
        next += UInt64(count)
        return entries
    }

    func close() { env.close() }
}

func scratch(_ name: String) -> String {
    NSTemporaryDirectory() + "infrastack-\(name)-\(UUID().uuidString.prefix(8))"
}

@Suite struct LogSegmentTests {
    func segment() -> LogSegment {
        let entries = (5...9).map { Entry(term: 3, index: UInt64($0), data: Array("entry \($0)".utf8)) }
        return LogSegment(clusterId: "c1", startDigest: [UInt8](repeating: 7, count: 32), entries: entries)
    }

    @Test func roundTripsAndNamesItsRange() throws {
        let s = segment()
        #expect(s.name == "segments/00000000000000000005-00000000000000000009.seg")
        #expect(LogSegment.range(ofName: s.name) == 5...9)
        #expect(LogSegment.range(ofName: "segments/9-5.seg") == nil)
        let back = try LogSegment.decode(s.encoded(), name: s.name)
        #expect(back == s)
        #expect(back.endDigest == s.entries.reduce(s.startDigest) { StateMachineRoot.extend($0, with: $1) })
    }

    @Test func everyFlippedByteIsCaught() throws {
        let bytes = segment().encoded()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var damaged = bytes
            damaged[Int.random(in: 0..<damaged.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            #expect(throws: BackupTargetProblem.self) { try LogSegment.decode(damaged, name: "x.seg") }
        }
        #expect(throws: BackupTargetProblem.self) { try LogSegment.decode(Array(bytes.dropLast(1)), name: "x.seg") }
        // A segment stored under another range's name is refused.
        let wrongName = "segments/00000000000000000006-00000000000000000009.seg"
        let e = #expect(throws: BackupTargetProblem.self) { try LogSegment.decode(bytes, name: wrongName) }
        #expect(e?.description.contains("its name says") == true)
    }
}

@Suite struct BackupRestoreTests {
    /// Backup, shipped segments, restore: the restored state equals the source's, and the
    /// restored Raft log starts at its applied index with the cluster's voters.
    @Test func restoresABackupPlusShippedSegmentsToTheSameDigest() throws {
        let a = try Replica("source")
        defer { a.close() }
        try a.put(40)
        let target = DirectoryTarget(root: scratch("store"))
        let m = try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 2, staging: a.dir + "/staging", target: target)
        #expect(m.appliedIndex == 43)
        #expect(m.appliedTerm == 2)
        #expect(m.voters == [1, 2, 3])
        #expect(m.stateDigest == hex(try a.root.applied().digest))
        #expect(try HotBackup.list(target).map(\.name) == [m.name])
        // Ship what follows in two segments, as the leader would.
        var digest = try a.root.applied().digest
        for _ in 0..<2 {
            let seg = LogSegment(clusterId: "c1", startDigest: digest, entries: try a.put(25, term: 3))
            try target.put(bytes: seg.encoded(), as: seg.name)
            digest = seg.endDigest
        }
        let dest = scratch("restored")
        let out = try Restore.run(Restore.Request(target: target, dataDir: dest, membership: .newCluster(voters: nil), clusterId: "c1"))
        #expect(out.appliedIndex == 93 && out.segmentsApplied == 2 && out.entriesReplayed == 50)
        #expect(out.appliedTerm == 3)
        #expect(out.digest == hex(try a.root.applied().digest))
        let env = try Environment(path: dest)
        defer { env.close() }
        let root = try StateMachineRoot(env: env)
        #expect(try root.get("key-93") == Array("value-93".utf8))
        let restored = try RaftLogStore(env: env).load()
        #expect(restored.snapshot.metadata == SnapshotMetadata(index: 93, term: 3, conf: ConfState(voters: [1, 2, 3])))
        #expect(restored.entries.isEmpty)
        #expect(restored.hardState == HardState(term: 3, vote: 0, commit: 93))
    }

    @Test func toIndexStopsReplayMidSegment() throws {
        let a = try Replica("partial")
        defer { a.close() }
        try a.put(5)
        let target = DirectoryTarget(root: scratch("store"))
        _ = try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 1, staging: a.dir + "/staging", target: target)
        let seg = LogSegment(clusterId: "c1", startDigest: try a.root.applied().digest, entries: try a.put(10))
        try target.put(bytes: seg.encoded(), as: seg.name)
        let out = try Restore.run(Restore.Request(target: target, dataDir: scratch("restored"), membership: .join, toIndex: 12))
        #expect(out.appliedIndex == 12)
        #expect(out.stoppedBecause.contains("to-index"))
    }

    @Test func aDamagedDataFileIsRefusedByName() throws {
        let a = try Replica("damaged")
        defer { a.close() }
        try a.put(10)
        let target = DirectoryTarget(root: scratch("store"))
        let m = try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 1, staging: a.dir + "/staging", target: target)
        let file = target.root + "/backups/\(m.name)/data.mdb"
        var bytes = Array(FileManager.default.contents(atPath: file)!)
        bytes[bytes.count / 2] ^= 0x40
        FileManager.default.createFile(atPath: file, contents: Data(bytes))
        let dest = scratch("restored")
        let e = #expect(throws: BackupTargetProblem.self) { try Restore.run(Restore.Request(target: target, dataDir: dest, membership: .newCluster(voters: nil))) }
        #expect(e?.description.contains("data.mdb") == true && e?.description.contains("SHA-256") == true)
        #expect(!FileManager.default.fileExists(atPath: dest + "/data.mdb"), "nothing is left to start from")
        // Another cluster's backup is refused too.
        let other = #expect(throws: BackupTargetProblem.self) { try Restore.run(Restore.Request(target: target, dataDir: scratch("r2"), membership: .join, clusterId: "c2")) }
        #expect(other?.description.contains("cluster 'c1'") == true)
    }

    @Test func aSegmentOfAnotherHistoryIsNotApplied() throws {
        let a = try Replica("history")
        defer { a.close() }
        try a.put(5)
        let target = DirectoryTarget(root: scratch("store"))
        _ = try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 1, staging: a.dir + "/staging", target: target)
        // A segment that continues at the right index from a different state.
        let forged = LogSegment(clusterId: "c1", startDigest: [UInt8](repeating: 1, count: 32), entries: try a.put(3))
        try target.put(bytes: forged.encoded(), as: forged.name)
        let out = try Restore.run(Restore.Request(target: target, dataDir: scratch("restored"), membership: .join))
        #expect(out.appliedIndex == 8 && out.entriesReplayed == 0, "nothing of another history is applied")
        #expect(out.stoppedBecause.contains(forged.name) && out.stoppedBecause.contains("another history"))
    }

    /// A point-in-time restore leaves the old history's later segments beside the new
    /// history's: replay follows the one that continues the restored state.
    @Test func replayFollowsTheSegmentsOfItsOwnHistory() throws {
        let a = try Replica("old")
        defer { a.close() }
        try a.put(5)
        let target = DirectoryTarget(root: scratch("store"))
        _ = try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 1, staging: a.dir + "/staging", target: target)
        let base = try a.root.applied().digest
        let mine = LogSegment(clusterId: "c1", startDigest: base, entries: try a.put(6))
        try target.put(bytes: mine.encoded(), as: mine.name)
        // Another history from the same backup: different entries at the same indexes,
        // reaching further (it would win on length alone).
        let otherEntries = (UInt64(9)...UInt64(20)).map { Entry(term: 7, index: $0, data: NodeCommand.put(key: "other-\($0)", value: [1]).encoded()) }
        let other = LogSegment(clusterId: "c1", startDigest: base, entries: otherEntries)
        try target.put(bytes: other.encoded(), as: other.name)
        let out = try Restore.run(Restore.Request(target: target, dataDir: scratch("restored"), membership: .join, toIndex: 14))
        #expect(out.appliedIndex == 14 && out.appliedTerm == 7, "the longer history is followed when its start matches")
        // Now make the restored state at 8 differ from the other history's start: only `mine` continues it.
        let forged = LogSegment(clusterId: "c1", startDigest: [UInt8](repeating: 9, count: 32), entries: otherEntries)
        try target.delete(other.name)
        try target.put(bytes: forged.encoded(), as: forged.name)
        let again = try Restore.run(Restore.Request(target: target, dataDir: scratch("restored2"), membership: .join))
        #expect(again.appliedIndex == mine.last && again.appliedTerm == 2)
    }

    @Test func aGapInTheShippedLogIsReportedNotSkipped() throws {
        let a = try Replica("gap")
        defer { a.close() }
        try a.put(5)
        let target = DirectoryTarget(root: scratch("store"))
        _ = try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 1, staging: a.dir + "/staging", target: target)
        var digest = try a.root.applied().digest
        let first = LogSegment(clusterId: "c1", startDigest: digest, entries: try a.put(4))
        digest = first.endDigest
        let lost = LogSegment(clusterId: "c1", startDigest: digest, entries: try a.put(4))
        let later = LogSegment(clusterId: "c1", startDigest: lost.endDigest, entries: try a.put(4))
        try target.put(bytes: first.encoded(), as: first.name)
        try target.put(bytes: later.encoded(), as: later.name)
        let out = try Restore.run(Restore.Request(target: target, dataDir: scratch("restored"), membership: .join))
        #expect(out.appliedIndex == first.last)
        #expect(out.stoppedBecause.contains("gap"))
    }

    @Test func pruningKeepsTheNewestBackups() throws {
        let a = try Replica("prune")
        defer { a.close() }
        let target = DirectoryTarget(root: scratch("store"))
        var names = [String]()
        for i in 0..<4 {
            try a.put(2)
            names.append(try HotBackup.create(env: a.env, clusterId: "c1", nodeId: 1, staging: a.dir + "/staging", target: target,
                                              nowMillis: 1_800_000_000_000 + UInt64(i) * 1000).name)
        }
        #expect(try HotBackup.prune(target, keep: 2) == Array(names.prefix(2)))
        #expect(try HotBackup.list(target).map(\.name) == Array(names.suffix(2)))
    }

    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
}
