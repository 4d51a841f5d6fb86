import Chain
import Foundation
import Net

/// `infrastack key list|create|show|usage|revoke|rotate`: organisations' API keys, through any
/// node's admin API (followers forward changes to the leader).
enum KeyCommand {
    static let usage = """
    usage: infrastack key list   --endpoint URL --org ORG_ID [--json]
           infrastack key create --endpoint URL --org ORG_ID --name NAME [--permissions read|read+write]
                                 [--origin URL]... [--cidr CIDR]... [--rate-limit N]
           infrastack key show   --endpoint URL --id KEY_ID
           infrastack key usage  --endpoint URL --id KEY_ID [--since MS] [--until MS]   (default: the last hour)
           infrastack key rotate --endpoint URL --id KEY_ID [--grace-seconds S]   (default 86400)
           infrastack key revoke --endpoint URL --id KEY_ID

    A key reads the chains its organisation owns (X-API-Key, Authorization: Bearer, or the
    /k/<key>/ path prefix). create and rotate print the secret once: only its SHA-256 is
    stored. After rotate the old secret keeps working for the grace period; revoke stops
    both on every node as soon as the revocation is applied there. --rate-limit is requests
    per minute across the cluster (default: the organisation's rateLimitPerMinute, else the
    node's rateLimit.perMinute, 1000). usage shows calls and errors per minute and method,
    replicated every 10 s. The token: --token-file FILE or INFRASTACK_ADMIN_TOKEN (a
    personal token: admins manage their organisation's keys, everyone their own; or the
    cluster-admin token); --ca-file FILE (or INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static let path = "/v1/api-keys"

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "org", "id", "name", "permissions", "origin", "cidr", "rate-limit", "grace-seconds",
                                                "timeout-ms", "token-file", "ca-file", "since", "until"], boolean: ["json"]) { o in
            let auth = try adminAuthorization(o)
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (list, create, show, usage, rotate or revoke)") }
            let endpoint = try o.require("endpoint")
            let c = try HTTPClient(url: endpoint, timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
            let r: HTTPClient.Response
            switch verb {
            case "list":
                switch try allPages(c, "\(path)?org=\(try o.hexId("org"))", field: "keys", headers: auth) {
                case .refused(let page): r = page
                case .items(let keys):
                    print(o.flags.contains("json") ? JSON.serialize(.object(["keys": .array(keys)])) : table(keys))
                    return 0
                }
            case "create":
                var body: JSONObject = ["org": .string(try o.hexId("org")), "name": .string(try o.require("name"))]
                if let p = o.values["permissions"] { body["permissions"] = .string(p) }
                if let origins = o.all["origin"] { body["origins"] = .array(origins.map { .string($0) }) }
                if let cidrs = o.all["cidr"] { body["cidrs"] = .array(cidrs.map { .string($0) }) }
                if let rate = o.values["rate-limit"] {
                    guard let n = UInt32(rate) else { throw Options.Problem(description: "--rate-limit must be a number of requests per minute") }
                    body["rateLimitPerMinute"] = .number(String(n))
                }
                r = try c.post(path, json: JSON.serialize(.object(body)), headers: auth)
            case "show": r = try c.get("\(path)/\(try o.hexId("id"))", headers: auth)
            case "usage":
                let q = ["since", "until"].compactMap { k in o.values[k].map { "\(k)=\($0)" } }.joined(separator: "&")
                r = try c.get("\(path)/\(try o.hexId("id"))/usage" + (q.isEmpty ? "" : "?" + q), headers: auth)
                if r.status == 200, !o.flags.contains("json"), let v = try? JSON.parse(r.body) {
                    print("last used: \(v["lastUsedAt"]?.stringValue ?? "never")")
                    let rows = (v["minutes"]?.arrayValue ?? []).map { m in ["minute", "method", "calls", "errors"].map { k -> String in
                        switch m[k] { case .string(let s)?: return s; case .number(let n)?: return n; default: return "-" } } }
                    print(rows.isEmpty ? "no calls in that time" : columns([["MINUTE", "METHOD", "CALLS", "ERRORS"]] + rows))
                    return 0
                }
            case "rotate":
                var body = "{}"
                if let g = o.values["grace-seconds"] {
                    guard let n = Int(g), n >= 0 else { throw Options.Problem(description: "--grace-seconds must be a number of seconds") }
                    body = "{\"graceSeconds\":\(n)}"
                }
                r = try c.post("\(path)/\(try o.hexId("id"))/rotate", json: body, headers: auth)
            case "revoke": r = try c.request("DELETE", "\(path)/\(try o.hexId("id"))", headers: auth)
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (list, create, show, usage, rotate or revoke)")
            }
            print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return (200..<300).contains(r.status) ? 0 : 1
        }
    }

    static func table(_ keys: [JSONValue]) -> String {
        if keys.isEmpty { return "no API keys (create one with: infrastack key create --endpoint URL --org ORG_ID --name NAME)" }
        var rows = [["ID", "NAME", "PERMISSIONS", "RATE/MIN", "CREATED", "STATE"]]
        for k in keys {
            let state = k["revokedAt"]?.stringValue.map { "revoked " + $0 } ?? (k["previousSecretValidUntil"]?.stringValue.map { "rotated, old secret until " + $0 } ?? "active")
            rows.append([k["id"]?.stringValue ?? "-", k["name"]?.stringValue ?? "-", k["permissions"]?.stringValue ?? "-",
                         k["rateLimitPerMinute"].flatMap { if case .number(let n) = $0 { return n } else { return nil } } ?? "default",
                         k["createdAt"]?.stringValue ?? "-", state])
        }
        return columns(rows)
    }
}
