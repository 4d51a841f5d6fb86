import Chain
import Foundation
import Net

/// `infrastack status`: asks one node for the members, then every member for its status,
/// and prints one row per node (or the raw objects with --json).
enum StatusCommand {
    static let usage = """
    usage: infrastack status --endpoint URL [--json] [--timeout-ms N] [--ca-file FILE] [--token-file FILE]

    Prints every member of the cluster that URL's node belongs to: role, term, leader,
    commit and applied index, state digest, replication lag, and reachability; then,
    when the chain registry holds chains, one row per chain as the leader runs it
    (state, applied head, upstream head, lag, rate, ETA, last alert).
      --endpoint URL   any node's HTTP endpoint, e.g. http://127.0.0.1:8001
      --json           print a JSON array of the nodes' /status objects
      --timeout-ms N   per-request timeout (default 2000)
      --ca-file FILE   CA for https:// endpoints (or INFRASTACK_CA_FILE; default: the system store)
      --token-file F   the admin token, a cluster admin's personal token or the metrics token
                       (or INFRASTACK_ADMIN_TOKEN, INFRASTACK_METRICS_TOKEN). Without one, each
                       node answers its public summary: no digest, lag, indexer or upstreams.
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "timeout-ms", "ca-file", "token-file"], boolean: ["json"]) { o in
            let endpoint = try o.require("endpoint")
            let timeout = Int(o.values["timeout-ms"] ?? "2000") ?? 2000
            let tls = clientTLS(o)
            let env = ProcessInfo.processInfo.environment
            let metricsToken = env["INFRASTACK_METRICS_TOKEN"] ?? ""
            let auth: [(String, String)]
            if o.values["token-file"] != nil || !(env["INFRASTACK_ADMIN_TOKEN"] ?? "").isEmpty { auth = try adminAuthorization(o) }
            else if !metricsToken.isEmpty { auth = [("Authorization", "Bearer " + metricsToken)] }
            else { auth = [] }
            let first = try fetch(endpoint + "/v1/cluster/members", timeout: timeout, tls: tls)
            var urls = [(UInt64, String)]()
            for m in first["members"]?.arrayValue ?? [] {
                guard case .number(let n)? = m["id"], let id = UInt64(n) else { continue }
                urls.append((id, m["http"]?.stringValue ?? ""))
            }
            if urls.isEmpty { urls = [(0, endpoint)] }
            var rows = [(UInt64, String, JSONValue?, String?)]()
            for (id, url) in urls {
                do { rows.append((id, url, try fetch(url + "/status", timeout: timeout, tls: tls, headers: auth), nil)) } catch { rows.append((id, url, nil, "\(error)")) }
            }
            if o.flags.contains("json") {
                let arr: [JSONValue] = rows.map { r in r.2 ?? .object(["nodeId": .number(String(r.0)), "httpURL": .string(r.1), "error": .string(r.3 ?? "")]) }
                print(JSON.serialize(.array(arr)))
                return rows.allSatisfy { $0.2 != nil } ? 0 : 1
            }
            print(table(rows))
            return rows.allSatisfy { $0.2 != nil } ? 0 : 1
        }
    }

    static func fetch(_ url: String, timeout: Int, tls: TLSConfiguration?, headers: [(String, String)] = []) throws -> JSONValue {
        // The URL's own path is the request's: HTTPClient sends "/" as the URL's target.
        let c = try HTTPClient(url: url, timeoutMillis: timeout, tls: tls)
        let r = try c.get("/", headers: headers)
        guard r.status == 200 else { throw NetError("\(c.url?.redacted ?? url) answered \(r.status): \(r.text.prefix(200))") }
        return try JSON.parse(r.body)
    }

    static func table(_ rows: [(UInt64, String, JSONValue?, String?)]) -> String {
        let header = ["NODE", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "DIGEST", "LAG", "BLOCK", "INDEXER", "HTTP"]
        var lines = [header]
        var lags = [UInt64: String]()
        for r in rows {
            for p in r.2?["peers"]?.arrayValue ?? [] {
                if case .number(let id)? = p["id"], case .number(let lag)? = p["lag"], let i = UInt64(id) { lags[i] = lag }
            }
        }
        for (id, url, s, err) in rows {
            guard let s else { lines.append([String(id), "UNREACHABLE", "-", "-", "-", "-", "-", "-", "-", "-", "\(url) (\(err ?? ""))"]); continue }
            func n(_ k: String) -> String { if case .number(let v)? = s[k] { return v }; return "-" }
            let digest = s["stateDigest"]?.stringValue.map { String($0.dropFirst(2).prefix(12)) } ?? "-"
            let role = s["role"]?.stringValue ?? "-"
            let ix = s["indexer"]
            var block = "-", indexer = "-"
            if let ix {
                if case .number(let h)? = ix["appliedHead"] { block = h }
                indexer = ix["state"]?.stringValue ?? "-"
                if role == "leader", case .number(let up)? = ix["upstreamHead"] {
                    var rate = ""
                    if case .number(let bps)? = ix["blocksPerSecond"] { rate = " \(bps) blk/s" }
                    var eta = ""
                    if case .number(let e)? = ix["etaSeconds"], let sec = Double(e), sec > 0 { eta = " eta \(Int(sec)) s" }
                    indexer += " (upstream \(up)\(rate)\(eta))"
                }
                if let alert = ix["lastAlert"]?.stringValue { indexer += " ALERT: \(alert.prefix(60))" }
            }
            lines.append([n("nodeId"), role, n("term"), n("leaderId"), n("commitIndex"), n("appliedIndex"), digest,
                          role == "leader" ? "-" : (lags[id] ?? "?"), block, indexer, url])
        }
        let widths = (0..<header.count).map { c in lines.map { $0[c].count }.max()! }
        let nodes = lines.map { l in zip(l, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ") }
            .joined(separator: "\n")
        // The registry's chains as the leader runs them (its indexers ingest), else as any node has them.
        let statuses = rows.compactMap(\.2)
        let source = statuses.first { $0["role"]?.stringValue == "leader" } ?? statuses.first
        guard let chains = source?["chains"], chains.arrayValue?.isEmpty == false else { return nodes }
        return nodes + "\n\n" + ChainCommand.table(Array(JSON.serialize(.object(["chains": chains])).utf8))
    }
}
