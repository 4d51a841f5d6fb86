import Chain
import ChainIndex
import Foundation
import ObjectStore
import ReplicatedLog
import StateMachine
import Storage

/// A consistent copy of a running node's LMDB environment, with its manifest, stored in a
/// backup target. Serving and ingest go on: LMDB copies from one read transaction, which
/// never blocks the writer.
public enum HotBackup {
    /// Progress of a long step: what, bytes done, bytes in all.
    public typealias Progress = @Sendable (_ step: String, _ done: Int, _ total: Int) -> Void

    /// Copies `env` (compacted) into `staging` (emptied first, removed after), reads what
    /// the copy holds from the copy itself (so the manifest describes exactly the bytes
    /// stored, whatever was applied meanwhile), uploads the data file and then the
    /// manifest, the marker of a complete backup.
    public static func create(env: Environment, clusterId: String, nodeId: UInt64, staging: String, target: any BackupTarget,
                              nowMillis: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000), progress: Progress = { _, _, _ in }) throws -> BackupManifest {
        precondition(!clusterId.isEmpty && nodeId > 0, "a backup names its cluster and node")
        try? FileManager.default.removeItem(atPath: staging)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        progress("copy", 0, 0)
        try env.backup(to: staging, compact: true)
        let dataFile = staging + "/data.mdb"
        var manifest = try describe(copyAt: staging, clusterId: clusterId, nodeId: nodeId, nowMillis: nowMillis)
        let size = (try? FileManager.default.attributesOfItem(atPath: dataFile)[.size] as? NSNumber)?.intValue ?? 0
        let sum = try fileSHA256(dataFile) { progress("checksum", $0, size) }
        manifest.files = [BackupManifest.File(name: "data.mdb", bytes: sum.bytes, sha256: sum.sha256)]
        let dir = "backups/" + manifest.name + "/"
        try target.put(file: dataFile, as: dir + "data.mdb") { progress("upload", $0, $1) }
        try target.put(bytes: manifest.encoded(), as: dir + "manifest.json")
        assert(manifest.files.count == 1 && manifest.stateDigest.count == 64, "a manifest names its file and digest")
        return manifest
    }

    /// The manifest fields a copied environment answers for itself.
    static func describe(copyAt dir: String, clusterId: String, nodeId: UInt64, nowMillis: UInt64) throws -> BackupManifest {
        var o = Environment.Options()
        o.readOnly = true
        o.mapSize = max(o.mapSize, ((try? FileManager.default.attributesOfItem(atPath: dir + "/data.mdb")[.size] as? NSNumber)?.intValue ?? 0) + (1 << 20))
        let copy = try Environment(path: dir, options: o)
        let root = try StateMachineRoot(env: copy)
        let log = try RaftLogStore(env: copy)
        let applied = try root.applied()
        guard let (term, conf) = try log.termAndConf(at: applied.index) else {
            throw BackupTargetProblem("the copy's log holds neither entry \(applied.index) nor a snapshot at it: cannot say which term the backup's state is from")
        }
        let chains = try root.chain.view { v in try v.latestHeads() }.map {
            BackupManifest.Chain(chainId: $0.chainId, head: $0.head.number, hash: Hex.encode($0.head.hash.bytes))
        }
        return BackupManifest(format: BackupManifest.currentFormat, clusterId: clusterId, nodeId: nodeId, createdAtMillis: nowMillis,
                              appliedIndex: applied.index, appliedTerm: term, raftTerm: try log.hardState().term,
                              stateDigest: Hex.encodeBare(applied.digest), voters: conf.voters, learners: conf.learners,
                              chains: chains, files: [])
    }

    /// The complete backups in a target (those with a manifest), oldest first.
    public static func list(_ target: any BackupTarget) throws -> [(name: String, manifest: BackupManifest)] {
        try target.list(prefix: "backups/").filter { $0.hasSuffix("/manifest.json") }.compactMap { path in
            guard let bytes = try target.get(path) else { return nil }
            let name = String(path.dropFirst("backups/".count).dropLast("/manifest.json".count))
            return (name, try BackupManifest.decode(bytes, what: "\(target)/\(path)"))
        }.sorted { $0.name < $1.name }
    }

    /// Deletes all but the newest `keep` backups; returns the names deleted.
    @discardableResult
    public static func prune(_ target: any BackupTarget, keep: Int) throws -> [String] {
        precondition(keep >= 1, "pruning keeps at least one backup")
        let all = try list(target)
        let doomed = all.dropLast(keep).map(\.name)
        for name in doomed {
            // The manifest first: a half-deleted backup is then an incomplete one, never listed.
            try target.delete("backups/\(name)/manifest.json")
            for f in try target.list(prefix: "backups/\(name)/") { try target.delete(f) }
        }
        return doomed
    }
}
