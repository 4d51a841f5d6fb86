import Backup
import ByteCodec
import Chain
import Foundation
import Net

/// Backups of this node's copy, for cluster admins. Not forwarded: a backup is taken by
/// the node asked (any node holds the whole state), so operators choose a follower.
///
///   POST /v1/admin/backups            {"to"?: DIR | s3://bucket/prefix}: take one now; answers its manifest
///   GET  /v1/admin/backups[?from=…]   the complete backups in a destination (default: backup.to)
///   GET  /v1/admin/backups/status     this node's last backup, schedule and log shipping
struct BackupAdmin: Sendable {
    let agent: BackupAgent?

    static func owns(_ path: String) -> Bool { path == "/v1/admin/backups" || path.hasPrefix("/v1/admin/backups/") }

    func handle(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        if let refusal = access.requireClusterAdmin("take or list backups") { return refusal }
        guard let agent else { return jsonError(503, "backups are not available on this node") }
        switch (req.method, req.path) {
        case ("POST", "/v1/admin/backups"):
            var to: String?
            if !req.body.isEmpty {
                guard let o = (try? JSON.parse(req.body))?.objectValue else { return jsonError(400, "body must be a JSON object {\"to\"?: destination}") }
                for k in o.keys where k != "to" { return jsonError(400, "unknown field \(boundedQuote(k)) (known: to)") }
                if let t = o["to"] {
                    guard let s = t.stringValue, !s.isEmpty else { return jsonError(400, "to must be a directory path or s3://bucket/prefix") }
                    to = s
                }
            }
            do {
                let m = try agent.backup(to: to)
                return .json(String(decoding: m.encoded(), as: UTF8.self), status: 201)
            } catch let e as BackupAgent.Busy {
                return jsonError(409, e.description)
            } catch let e as BackupTargetProblem {
                return jsonError(400, e.description)
            } catch {
                return jsonError(500, "backup failed: \(error)")
            }
        case ("GET", "/v1/admin/backups"):
            let from = req.query["from"] ?? agent.settings?.to
            guard let from else { return jsonError(400, "no destination: pass ?from=DIR|s3://… or configure backup.to") }
            do {
                let target = try BackupTargets.open(from)
                let all = try HotBackup.list(target)
                let items = all.map { b -> JSONValue in
                    .object(["name": .string(b.name), "appliedIndex": jsonNumber(b.manifest.appliedIndex), "nodeId": jsonNumber(b.manifest.nodeId),
                             "createdAtMillis": jsonNumber(b.manifest.createdAtMillis), "bytes": jsonNumber(b.manifest.files.reduce(0) { $0 + $1.bytes }),
                             "chains": .array(b.manifest.chains.map { .object(["chainId": jsonNumber($0.chainId), "head": jsonNumber($0.head)]) })])
                }
                return .json(JSON.serialize(.object(["from": .string(target.description), "backups": .array(items)])) + "\n")
            } catch {
                return jsonError(400, "\(error)")
            }
        case ("GET", "/v1/admin/backups/status"):
            return .json(JSON.serialize(Self.json(agent.status, agent.settings)) + "\n")
        default:
            return jsonError(404, "use POST or GET /v1/admin/backups, or GET /v1/admin/backups/status")
        }
    }

    /// The agent's state as /status and the status endpoint show it (no credentials: the
    /// destination is a path or bucket, never a key).
    static func json(_ s: BackupAgent.Status, _ settings: BackupAgent.Settings?) -> JSONValue {
        var o: JSONObject = ["running": .bool(s.running)]
        if let settings {
            o["to"] = .string(settings.to)
            o["everyMinutes"] = settings.everyMinutes.map(jsonNumber) ?? .null
            o["keep"] = jsonNumber(settings.keep)
            o["takenBy"] = .string(settings.takenBy.rawValue)
            o["shipLogs"] = .bool(settings.shipLogs)
        }
        if let m = s.lastBackup {
            o["lastBackup"] = .object(["name": .string(m.name), "appliedIndex": jsonNumber(m.appliedIndex), "createdAtMillis": jsonNumber(m.createdAtMillis),
                                       "bytes": jsonNumber(m.files.reduce(0) { $0 + $1.bytes }),
                                       "seconds": s.lastBackupSeconds.map { .number(String(format: "%.3f", $0)) } ?? .null])
        }
        o["lastBackupError"] = s.lastBackupError.map { .string($0) } ?? .null
        o["shipping"] = .object(["shippedThrough": s.shippedThrough.map(jsonNumber) ?? .null, "lastShipMillis": s.lastShipMillis.map(jsonNumber) ?? .null,
                                 "segmentsShipped": jsonNumber(s.segmentsShipped), "error": s.shipError.map { .string($0) } ?? .null])
        return .object(o)
    }
}
