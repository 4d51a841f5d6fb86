import Backup
import Chain
import Foundation
import Net
import Synchronization
import Telemetry

/// `infrastack backup create|list|status` and `infrastack restore`.
enum BackupCommand {
    static let usage = """
    usage: infrastack backup create --endpoint URL [--to DIR|s3://bucket/prefix]
           infrastack backup list   --from DIR|s3://bucket/prefix
           infrastack backup status --endpoint URL

      create   the node at URL copies its LMDB environment while it serves and ingests
               (a consistent, compacted copy), and stores it with a manifest (cluster,
               node, applied index, term, state digest, chains' heads, SHA-256 of every
               file) under backups/<time>-<index>/ in the destination; without --to, the
               node's configured backup.to. DIR is a path on that node's machine. Ask a
               follower: the leader is the busiest node.
      list     the complete backups in a destination (read here, not through a node)
      status   the node's last backup, its schedule and the leader's log shipping

    create and status need the cluster-admin token: --token-file FILE or the environment
    variable INFRASTACK_ADMIN_TOKEN. S3 destinations read here (list) take the AWS CLI's
    settings: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or
    ~/.aws/credentials (AWS_PROFILE). --timeout-ms bounds a create (default 3600000).
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "to", "from", "token-file", "ca-file", "timeout-ms"], boolean: ["json"]) { o in
            switch o.positional.first {
            case "create":
                let auth = try adminAuthorization(o)
                let timeout = Int(o.values["timeout-ms"] ?? "3600000") ?? 3_600_000
                let c = try HTTPClient(url: try o.require("endpoint"), timeoutMillis: timeout, tls: clientTLS(o))
                let body = o.values["to"].map { JSON.serialize(.object(["to": .string($0)])) } ?? "{}"
                FileHandle.standardError.write(Data("taking a backup on \(o.values["endpoint"]!)…\n".utf8))
                let r = try c.post("/v1/admin/backups", json: body, headers: auth)
                print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
                return r.status == 201 ? 0 : 1
            case "status":
                let auth = try adminAuthorization(o)
                let c = try HTTPClient(url: try o.require("endpoint"), tls: clientTLS(o))
                let r = try c.get("/v1/admin/backups/status", headers: auth)
                print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
                return r.status == 200 ? 0 : 1
            case "list":
                let target = try BackupTargets.open(try o.require("from"))
                let all = try HotBackup.list(target)
                let segments = try target.list(prefix: LogSegment.prefix).compactMap(LogSegment.range(ofName:))
                var rows = [["NAME", "NODE", "APPLIED", "MIB", "CHAINS"]]
                for b in all {
                    rows.append([b.name, String(b.manifest.nodeId), String(b.manifest.appliedIndex),
                                 String(format: "%.1f", Double(b.manifest.files.reduce(0) { $0 + $1.bytes }) / 1_048_576),
                                 b.manifest.chains.map { "\($0.chainId)@\($0.head)" }.joined(separator: " ")])
                }
                print(columns(rows), terminator: columns(rows).hasSuffix("\n") ? "" : "\n")
                if let first = segments.map(\.lowerBound).min(), let last = segments.map(\.upperBound).max() {
                    print("log segments: \(segments.count), entries \(first)…\(last)")
                } else {
                    print("log segments: none")
                }
                return 0
            default:
                throw Options.Problem(description: "missing or unknown subcommand (create, list or status)")
            }
        }
    }
}

enum RestoreCommand {
    static let usage = """
    usage: infrastack restore --from DIR|s3://bucket/prefix --data-dir DIR
                              (--new-cluster [--voters 1,2,3] | --join)
                              [--backup NAME] [--to-index N] [--cluster-id ID]

    Builds a node's data directory (which must hold no data.mdb) from the newest backup
    (or --backup NAME, as `infrastack backup list` shows it) and the log segments shipped
    after it, through the last one or --to-index N. Every file's SHA-256, the restored
    state's digest against the manifest and each segment's digest are checked; anything
    that does not match stops the restore with an error naming the file.

      --new-cluster  every node was lost: restore each node from the same storage, then
                     start them (same cluster id and secret) as a new cluster of the
                     voters the restored state names, or --voters. Indexing resumes from
                     the restored head.
      --join         one node's disk was lost: the restored node joins the running
                     cluster under a NEW node id (remove the lost id, add the new one as a
                     learner, start it, promote it): see cluster/runbooks/restore-node.md.
      --cluster-id   refuse a backup of another cluster

    S3 takes the AWS CLI's settings (AWS_ENDPOINT_URL, AWS_REGION, credentials).
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["from", "data-dir", "voters", "backup", "to-index", "cluster-id"], boolean: ["new-cluster", "join"]) { o in
            let target = try BackupTargets.open(try o.require("from"))
            let dataDir = try o.require("data-dir")
            let membership: Restore.Membership
            switch (o.flags.contains("new-cluster"), o.flags.contains("join")) {
            case (true, false):
                var voters: [UInt64]?
                if let v = o.values["voters"] {
                    let ids = v.split(separator: ",").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
                    guard !ids.isEmpty, ids.allSatisfy({ ($0 ?? 0) > 0 }) else { throw Options.Problem(description: "--voters must be positive node ids separated by commas, got '\(v)'") }
                    voters = ids.map { $0! }
                }
                membership = .newCluster(voters: voters)
            case (false, true):
                guard o.values["voters"] == nil else { throw Options.Problem(description: "--voters goes with --new-cluster, not --join") }
                membership = .join
            default: throw Options.Problem(description: "say how the node comes back: --new-cluster (every node lost) or --join (one node lost)")
            }
            var toIndex: UInt64?
            if let t = o.values["to-index"] {
                guard let n = UInt64(t), n > 0 else { throw Options.Problem(description: "--to-index must be a positive integer, got '\(t)'") }
                toIndex = n
            }
            let started = Date()
            // One meter per step (download, checksum, replay), so each shows its own rate and ETA.
            let meter = Mutex<(step: String, meter: ProgressMeter?)>(("", nil))
            let out = try Restore.run(Restore.Request(target: target, backup: o.values["backup"], dataDir: dataDir, membership: membership,
                                                      toIndex: toIndex, clusterId: o.values["cluster-id"])) { step, done, total in
                guard total > 0 else { return }
                meter.withLock { m in
                    if m.step != step {
                        m.meter?.finish()
                        m = (step, ProgressMeter(what: "restore \(step)", unit: step == "replay" ? "entries" : "bytes", total: UInt64(total)) {
                            FileHandle.standardError.write(Data(($0 + "\n").utf8))
                        })
                    }
                    m.meter!.reached(UInt64(done))
                }
            }
            meter.withLock { $0.meter?.finish() }
            print("""
            restored backups/\(out.manifest.name) (node \(out.manifest.nodeId), applied \(out.manifest.appliedIndex)) into \(dataDir)
            replayed \(out.entriesReplayed) shipped entries from \(out.segmentsApplied) segments: applied index \(out.appliedIndex), term \(out.appliedTerm), digest \(out.digest)
            stopped: \(out.stoppedBecause)
            voters \(out.voters.map(String.init).joined(separator: ",")); learners \(out.learners.map(String.init).joined(separator: ",")); \(String(format: "%.1f", Date().timeIntervalSince(started))) s
            """)
            return 0
        }
    }
}
