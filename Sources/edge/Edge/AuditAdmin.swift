import ByteCodec
import Chain
import Foundation
import Net
import StateMachine
import Tenancy

/// The replicated audit log (`infrastack audit`): cluster admins read all of it; an
/// organisation's admins and operators read its entries only:
///
///   GET /v1/audit?after=SEQ&limit=N&actor=A&action=PREFIX&org=ID&since=MS&until=MS
///       entries oldest first, filtered; `nextCursor` continues after the last one scanned
///   GET /v1/audit/verify   walks the whole hash chain and names the first broken entry
///
/// Any node answers from its own copy.
struct AuditAdmin: Sendable {
    let node: ChainNode

    static let prefix = "/v1/audit"
    static let maxPage = 1000
    /// Entries scanned per page at most, so a selective filter cannot make one request walk
    /// the whole log.
    static let maxScan = 10_000

    /// `export`: entries per answer at most, and entries scanned for them.
    static let maxExport = 100_000
    static let maxExportScan = 1_000_000

    static func owns(_ path: String) -> Bool { path == prefix || path == prefix + "/verify" || path == prefix + "/export" }

    func handle(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        guard req.method == "GET" else { return jsonError(405, "the audit log is read-only: use GET") }
        if req.path == Self.prefix + "/verify" {
            return access.requireClusterAdmin("verify the whole audit log") ?? verify()
        }
        // The organisations whose entries this principal reads; nil: all of them.
        let readable: Set<UInt64>? = access.isClusterAdmin ? nil : Set(access.roles.filter { AdminAccess.admins.contains($0.value) }.keys)

        let q = req.query
        func number(_ k: String) -> UInt64?? {
            guard let v = q[k] else { return .some(nil) }
            return UInt64(v).map { .some($0) } ?? nil
        }
        guard let after = number("after"), let since = number("since"), let until = number("until") else {
            return jsonError(400, "after, since and until must be non-negative integers (a sequence number; Unix milliseconds)")
        }
        let export = req.path == Self.prefix + "/export"
        var limit = export ? Self.maxExport : 100
        if let l = q["limit"] {
            let most = export ? Self.maxExport : Self.maxPage
            guard let n = Int(l), (1...most).contains(n) else { return jsonError(400, "limit must be 1 to \(most)") }
            limit = n
        }
        var org: UInt64? = nil
        if let o = q["org"] {
            guard let id = OrgAdmin.parseId(o) else { return jsonError(400, "org must be an organisation id (16 hex digits)") }
            if !access.sees(id) { return jsonError(404, "no organisation \(o)") }
            if let refusal = access.require(AdminAccess.admins, in: id, "reading the audit log", hidden: jsonError(404, "no organisation \(o)")) { return refusal }
            org = id
        }
        if let readable, readable.isEmpty {
            return jsonError(403, "the audit log is for cluster admins and organisations' admins and operators")
        }
        let actor = q["actor"], action = q["action"]
        let keep: (AuditRecord) -> Bool = { r in
            let e = r.entry
            if let actor, e.actor != actor { return false }
            if let action, !e.action.hasPrefix(action) { return false }
            if let org, e.org != org { return false }
            if let readable, !readable.contains(e.org) { return false }
            if let since, e.atMillis < since { return false }
            if let until, e.atMillis >= until { return false }
            return true
        }
        do {
            let (out, cursor) = try select(after: after ?? 0, limit: limit, scan: export ? Self.maxExportScan : Self.maxScan, keep)
            if export {
                var body = [UInt8]()
                for r in out { body += Array(JSON.serialize(Self.json(r)).utf8); body.append(UInt8(ascii: "\n")) }
                var headers = [("Content-Type", "application/x-ndjson")]
                if let cursor { headers.append(("X-Infrastack-Next-Cursor", String(cursor))) }
                return HTTPResponse(status: 200, headers: headers, body: body)
            }
            var o: JSONObject = ["entries": .array(out.map(Self.json))]
            o["nextCursor"] = cursor.map { .string(String($0)) } ?? .null
            return .json(JSON.serialize(.object(o)) + "\n")
        } catch {
            return jsonError(500, "cannot read the audit log: \(error)")
        }
    }

    /// Up to `limit` entries after `after` that `keep` takes, scanning at most `scan` entries
    /// in steps; the cursor to continue from when there may be more.
    func select(after: UInt64, limit: Int, scan: Int, _ keep: (AuditRecord) -> Bool) throws -> ([AuditRecord], UInt64?) {
        var out = [AuditRecord]()
        var position = after
        var scanned = 0
        while scanned < scan {
            let step = min(Self.maxScan, scan - scanned)
            let chunk = try node.stateMachine.tenantView { d, txn in try d.audit.records(after: position, limit: step, txn) }
            for r in chunk {
                position = r.seq
                if keep(r) { out.append(r); if out.count == limit { return (out, position) } }
            }
            scanned += chunk.count
            if chunk.count < step { return (out, nil) }
        }
        return (out, position)
    }

    func verify() -> HTTPResponse {
        do {
            let (v, last) = try node.stateMachine.tenantView { d, txn in (try d.audit.verify(txn), try d.audit.last(txn)) }
            // The latest hash, to keep elsewhere: an edit of the last entry that also re-hashes
            // it is visible only against a copy of that hash.
            var o: JSONObject = ["entries": .number(String(v.entries)), "ok": .bool(v.firstBroken == nil), "compactedThrough": .number(String(v.compactedThrough)),
                                 "lastSeq": last.map { .number(String($0.seq)) } ?? .null, "lastHash": last.map { .string(Hex.encodeBare($0.hash)) } ?? .null]
            o["firstBroken"] = v.firstBroken.map { .object(["seq": .number(String($0.seq)), "problem": .string($0.problem)]) } ?? .null
            return .json(JSON.serialize(.object(o)) + "\n", status: v.firstBroken == nil ? 200 : 409)
        } catch {
            return jsonError(500, "cannot read the audit log: \(error)")
        }
    }

    static func json(_ r: AuditRecord) -> JSONValue {
        let e = r.entry
        return .object(["seq": .number(String(r.seq)), "at": .string(OrgAdmin.iso8601(e.atMillis)), "actor": .string(e.actor), "role": .string(e.role),
                        "org": e.org == 0 ? .null : .string(OrgAdmin.idText(e.org)), "action": .string(e.action), "outcome": .number(String(e.outcome)),
                        "source": .string(e.source), "requestId": .string(e.requestId), "hash": .string(Hex.encodeBare(r.hash))])
    }
}
