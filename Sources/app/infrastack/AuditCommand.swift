import Chain
import Foundation
import Net

/// `infrastack audit list|export|verify`: the replicated, hash-chained audit log of admin actions.
enum AuditCommand {
    static let usage = """
    usage: infrastack audit list   --endpoint URL [--after SEQ] [--limit N] [--actor A] [--action PREFIX]
                                   [--org ORG_ID] [--since MS] [--until MS] [--json]
           infrastack audit export --endpoint URL [--out FILE] [same filters as list]
           infrastack audit verify --endpoint URL

    Every admin change (organisations, keys, chains, membership; refusals too) is an entry
    written through the Raft log with who (a non-secret name), role, organisation, action,
    outcome, source address, request id and time, each carrying the hash of the one
    before. list pages through it oldest first (JSON lines with --json); export writes
    every matching entry as JSON lines (100,000 an answer, all of them), to --out or
    standard output, with progress on standard error; verify walks the whole chain on
    that node, names the first broken entry and prints the latest hash (keep it
    elsewhere: it also exposes a rewritten last entry). Exit status 1 when the chain is
    broken. Entries older than the cluster's auditRetentionDays (default 365) are
    deleted; verify then starts after the last deleted one (compactedThrough). Cluster
    admins read everything, organisations' admins and operators their organisation's.
    The token: --token-file FILE or INFRASTACK_ADMIN_TOKEN; --ca-file FILE (or
    INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static func run(_ args: [String]) -> Int32 {
        let filters = ["actor", "action", "org", "since", "until"]
        return runCommand(usage: usage, args, valued: Set(["endpoint", "after", "limit", "timeout-ms", "token-file", "ca-file", "out"] + filters), boolean: ["json"]) { o in
            let auth = try adminAuthorization(o)
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (list, export or verify)") }
            let c = try HTTPClient(url: try o.require("endpoint"), timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
            switch verb {
            case "verify":
                let r = try c.get("/v1/audit/verify", headers: auth)
                print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
                return r.status == 200 ? 0 : 1
            case "list":
                let query = filters.compactMap { k in o.values[k].map { "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } }
                let limit = Int(o.values["limit"] ?? "") ?? Int.max
                var cursor = o.values["after"]
                var printed = 0
                repeat {
                    var q = query
                    q.append("limit=\(min(1000, limit - printed))")
                    if let cursor { q.append("after=\(cursor)") }
                    let r = try c.get("/v1/audit?" + q.joined(separator: "&"), headers: auth)
                    guard r.status == 200, let v = try? JSON.parse(r.body) else {
                        print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
                        return 1
                    }
                    for e in v["entries"]?.arrayValue ?? [] {
                        if o.flags.contains("json") { print(JSON.serialize(e)) } else {
                            print([e["seq"], e["at"], e["actor"], e["action"], e["outcome"], e["source"]].map { v -> String in
                                switch v { case .string(let s)?: return s; case .number(let n)?: return n; default: return "-" }
                            }.joined(separator: "  "))
                        }
                        printed += 1
                    }
                    cursor = v["nextCursor"]?.stringValue
                } while cursor != nil && printed < limit
                return 0
            case "export":
                let query = filters.compactMap { k in o.values[k].map { "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } }
                var out: FileHandle = .standardOutput
                if let path = o.values["out"] {
                    guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                        throw Options.Problem(description: "--out \(path): cannot create it")
                    }
                    out = h
                }
                var cursor = o.values["after"], written = 0
                let started = Date()
                repeat {
                    let r = try c.get("/v1/audit/export?" + (query + (cursor.map { ["after=\($0)"] } ?? [])).joined(separator: "&"), headers: auth)
                    guard r.status == 200 else {
                        FileHandle.standardError.write(Data((r.text.trimmingCharacters(in: .whitespacesAndNewlines) + "\n").utf8))
                        return 1
                    }
                    out.write(Data(r.body))
                    written += r.body.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
                    cursor = r.headers.first { $0.name.lowercased() == "x-infrastack-next-cursor" }?.value
                    let rate = Double(written) / max(Date().timeIntervalSince(started), 0.001)
                    FileHandle.standardError.write(Data("audit export: \(written) entries, \(Int(rate))/s\(cursor.map { ", continuing after \($0)" } ?? ", done")\n".utf8))
                } while cursor != nil
                return 0
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (list, export or verify)")
            }
        }
    }
}
