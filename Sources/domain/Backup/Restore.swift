import Chain
import Consensus
import Foundation
import ObjectStore
import ReplicatedLog
import StateMachine
import Storage

/// Builds a node's data directory from a backup and the log segments shipped after it,
/// checking every checksum and every digest on the way; anything that does not match
/// stops the restore with an error naming the file.
public enum Restore {
    /// How the restored node takes part in a cluster afterwards.
    public enum Membership: Sendable, Equatable {
        /// Every node was lost: the restored nodes found a new cluster (same cluster id) of
        /// these voters, or of the voters the restored state names when nil.
        case newCluster(voters: [UInt64]?)
        /// One node was lost: the restored node joins the running cluster under a new node
        /// id (added as a learner) and takes what follows from the leader.
        case join
    }

    public struct Request: Sendable {
        public var target: any BackupTarget
        /// A backup's name (`backups/<name>/`); nil picks the newest usable one.
        public var backup: String?
        public var dataDir: String
        public var membership: Membership
        /// Replay shipped entries through this index, no further (nil: all there are).
        public var toIndex: UInt64?
        /// When set, a backup of another cluster is refused.
        public var clusterId: String?
        public init(target: any BackupTarget, backup: String? = nil, dataDir: String, membership: Membership, toIndex: UInt64? = nil, clusterId: String? = nil) {
            self.target = target; self.backup = backup; self.dataDir = dataDir; self.membership = membership; self.toIndex = toIndex; self.clusterId = clusterId
        }
    }

    public struct Outcome: Sendable {
        public var manifest: BackupManifest
        public var appliedIndex: UInt64
        public var appliedTerm: UInt64
        public var digest: String
        public var segmentsApplied: Int
        public var entriesReplayed: Int
        public var voters: [UInt64]
        public var learners: [UInt64]
        /// Why replay stopped where it did (the last segment, a gap, `toIndex`).
        public var stoppedBecause: String
    }

    public static func run(_ q: Request, progress: HotBackup.Progress = { _, _, _ in }) throws -> Outcome {
        let fm = FileManager.default
        if fm.fileExists(atPath: q.dataDir + "/data.mdb") {
            throw BackupTargetProblem("\(q.dataDir) already holds a data.mdb: restore into an empty data directory (move the old one aside)")
        }
        try fm.createDirectory(atPath: q.dataDir, withIntermediateDirectories: true)
        let (name, manifest) = try choose(q)
        if let want = q.clusterId, want != manifest.clusterId {
            throw BackupTargetProblem("backups/\(name): a backup of cluster '\(manifest.clusterId)', not '\(want)'")
        }
        guard let file = manifest.files.first(where: { $0.name == "data.mdb" }) else { throw BackupTargetProblem("backups/\(name)/manifest.json names no data.mdb") }
        let partial = q.dataDir + "/data.mdb.restoring"
        progress("download", 0, file.bytes)
        guard try q.target.download("backups/\(name)/data.mdb", to: partial, progress: { done, _ in progress("download", done, file.bytes) }) else {
            throw BackupTargetProblem("\(q.target)/backups/\(name)/data.mdb is missing")
        }
        let sum = try fileSHA256(partial) { progress("checksum", $0, file.bytes) }
        guard sum.bytes == file.bytes, sum.sha256 == file.sha256 else {
            try? fm.removeItem(atPath: partial)
            throw BackupTargetProblem("\(q.target)/backups/\(name)/data.mdb: \(sum.bytes) bytes with SHA-256 \(sum.sha256), the manifest says \(file.bytes) bytes with \(file.sha256)")
        }
        guard Foundation.rename(partial, q.dataDir + "/data.mdb") == 0 else { throw BackupTargetProblem("cannot move the restored file into \(q.dataDir)") }

        var o = Environment.Options()
        o.mapSize = max(64 << 20, file.bytes * 2)
        let env = try Environment(path: q.dataDir, options: o)
        let root = try StateMachineRoot(env: env)
        var state = try root.applied()
        guard state.index == manifest.appliedIndex, Hex.encodeBare(state.digest) == manifest.stateDigest else {
            throw BackupTargetProblem("backups/\(name)/data.mdb holds applied index \(state.index) digest \(Hex.encodeBare(state.digest)); the manifest says \(manifest.appliedIndex) \(manifest.stateDigest)")
        }
        var conf = ConfState(voters: manifest.voters, learners: manifest.learners)
        var term = manifest.appliedTerm
        let replay = try replaySegments(q, clusterId: manifest.clusterId, root: root, from: state, conf: &conf, term: &term, progress: progress)
        state = try root.applied()
        assert(state.index >= manifest.appliedIndex, "replay only moves forward")

        var voters = conf.voters, learners = conf.learners
        if case .newCluster(let given?) = q.membership {
            voters = given.sorted(); learners = []
        }
        guard !voters.isEmpty else { throw BackupTargetProblem("the restored state names no voters: pass the new cluster's voters") }
        try RaftLogStore(env: env).resetForRestore(index: state.index, term: term, conf: ConfState(voters: voters, learners: learners))
        return Outcome(manifest: manifest, appliedIndex: state.index, appliedTerm: term, digest: Hex.encodeBare(state.digest),
                       segmentsApplied: replay.segments, entriesReplayed: replay.entries, voters: voters, learners: learners, stoppedBecause: replay.why)
    }

    /// The named backup, or the newest one at or below `toIndex`.
    static func choose(_ q: Request) throws -> (String, BackupManifest) {
        let all = try HotBackup.list(q.target)
        if let want = q.backup {
            guard let b = all.first(where: { $0.name == want }) else {
                throw BackupTargetProblem("\(q.target) has no complete backup '\(want)' (there are: \(all.map(\.name).joined(separator: ", ")))")
            }
            return (b.name, b.manifest)
        }
        guard let b = all.last(where: { q.toIndex == nil || $0.manifest.appliedIndex <= q.toIndex! }) else {
            throw BackupTargetProblem(all.isEmpty ? "\(q.target) holds no complete backup (backups/<name>/manifest.json)"
                                                  : "\(q.target) has no backup at or below index \(q.toIndex!)")
        }
        return (b.name, b.manifest)
    }

    /// Applies shipped entries after the backup in order, each segment checked whole
    /// before any of it applies, and the state's digest compared with every segment's.
    static func replaySegments(_ q: Request, clusterId: String, root: StateMachineRoot, from start: ReplicatedLog.AppliedState, conf: inout ConfState, term: inout UInt64,
                               progress: HotBackup.Progress) throws -> (segments: Int, entries: Int, why: String) {
        let limit = q.toIndex ?? .max
        let names = try q.target.list(prefix: LogSegment.prefix).compactMap { n in LogSegment.range(ofName: n).map { (n, $0) } }
        var state = start, segments = 0, entries = 0
        let lastShipped = names.map(\.1.upperBound).max() ?? 0
        while state.index < limit {
            let next = state.index + 1
            // Several segments can hold `next`: shipping restarted by a new leader overlaps
            // an earlier one, and a point-in-time restore leaves the old history's later
            // segments beside the new history's. The one that continues the restored state
            // (same digest before `next`) and reaches furthest wins; damage is never skipped.
            let candidates = names.filter { $0.1.contains(next) }.sorted { $0.1.upperBound > $1.1.upperBound }
            guard !candidates.isEmpty else {
                let why = lastShipped < next ? "no shipped entries after \(state.index)" : "a gap in the shipped log: nothing holds entry \(next) (segments resume later; take a new backup)"
                return (segments, entries, why)
            }
            var chosen: (String, LogSegment)?
            for (name, _) in candidates {
                guard let bytes = try q.target.get(name) else { throw BackupTargetProblem("\(q.target)/\(name) disappeared while restoring") }
                let seg = try LogSegment.decode(bytes, name: "\(q.target)/\(name)")
                guard seg.clusterId == clusterId else {
                    throw BackupTargetProblem("\(q.target)/\(name): a segment of cluster '\(seg.clusterId)', not '\(clusterId)'")
                }
                var before = seg.startDigest
                for e in seg.entries where e.index < next { before = StateMachineRoot.extend(before, with: e) }
                if before == state.digest { chosen = (name, seg); break }
            }
            // Intact segments (their checksums held) that do not continue this state are
            // another history's: an earlier point-in-time restore left them. This history
            // ends here; the caller prints why.
            guard let (name, seg) = chosen else {
                return (segments, entries, "the segments holding entry \(next) (\(candidates.map(\.0).joined(separator: ", "))) do not continue the restored state at index \(state.index): they belong to another history, ignored")
            }
            let todo = seg.entries.filter { $0.index >= next && $0.index <= limit }
            var i = 0
            while i < todo.count {
                let batch = Array(todo[i..<min(todo.count, i + 512)])
                state = try root.apply(batch).state
                for e in batch where e.kind == .confChange {
                    if let change = ConfChange(decoding: e.data) { conf = conf.applying(change) }
                }
                term = batch.last!.term
                i += batch.count
                entries += batch.count
                progress("replay", Int(state.index - start.index), Int(min(limit, lastShipped) - start.index))
            }
            if state.index == seg.last, state.digest != seg.endDigest {
                throw BackupTargetProblem("\(q.target)/\(name): replaying it gave digest \(Hex.encodeBare(state.digest)), the segment says \(Hex.encodeBare(seg.endDigest))")
            }
            segments += 1
        }
        return (segments, entries, "reached --to-index \(limit)")
    }
}
