import Chain
import Foundation
import Net

/// `infrastack alert …`: organisations' built-in alerts and their incidents, through any
/// node's admin API (followers forward changes to the leader).
enum AlertsCommand {
    static let usage = """
    usage: infrastack alert list      --endpoint URL --org ORG_ID [--json]
           infrastack alert create    --endpoint URL --org ORG_ID --name NAME --condition 'lag_seconds > 30'
                                      --channel TYPE=URL [--channel TYPE=URL …] [--chain ID] [--for SECONDS]
                                      [--severity info|warning|critical]
           infrastack alert show      --endpoint URL --id ALERT_ID
           infrastack alert delete    --endpoint URL --id ALERT_ID
           infrastack alert incidents --endpoint URL --org ORG_ID [--state open|resolved] [--json]

    An alert fires when its condition has held for --for seconds, and resolves when it stops;
    each channel is told both, once per incident, signed per Standard Webhooks with the
    secret create prints once (whsec_…). Conditions: lag_seconds, lag_blocks, error_rate,
    p99_latency_ms, refused_blocks (per chain: --chain, or every chain of the organisation),
    follower_lag_entries and no_leader (the cluster); compared with >, >=, < or <=.
    Channels: slack=URL (an incoming webhook), pagerduty=URL (Events API v2 with
    ?routing_key=…), webhook=URL (the JSON envelope; an email gateway, anything).
    The token: --token-file FILE or INFRASTACK_ADMIN_TOKEN; --ca-file FILE (or
    INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static let path = "/v1/alerts"

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "org", "id", "name", "condition", "chain", "for", "severity", "state", "channel",
                                                "timeout-ms", "token-file", "ca-file"], boolean: ["json"]) { o in
            let auth = try adminAuthorization(o)
            let verbs = "list, create, show, delete or incidents"
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (\(verbs))") }
            let endpoint = try o.require("endpoint")
            let c = try HTTPClient(url: endpoint, timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
            let r: HTTPClient.Response
            switch verb {
            case "list":
                switch try allPages(c, "\(path)?org=\(try o.hexId("org"))", field: "alerts", headers: auth) {
                case .refused(let page): r = page
                case .items(let alerts):
                    print(o.flags.contains("json") ? JSON.serialize(.object(["alerts": .array(alerts)])) : table(alerts))
                    return 0
                }
            case "create":
                var body: JSONObject = ["org": .string(try o.hexId("org")), "name": .string(try o.require("name")), "condition": .string(try o.require("condition"))]
                let channels = o.all["channel"] ?? []
                guard !channels.isEmpty else { throw Options.Problem(description: "--channel TYPE=URL is required (slack, pagerduty or webhook), once or more") }
                body["channels"] = .array(try channels.map { spec in
                    guard let eq = spec.firstIndex(of: "=") else { throw Options.Problem(description: "--channel \(spec): write it as TYPE=URL") }
                    return .object(["type": .string(String(spec[..<eq])), "url": .string(String(spec[spec.index(after: eq)...]))])
                })
                if let ch = o.values["chain"] {
                    guard let id = UInt64(ch) else { throw Options.Problem(description: "--chain must be a chain id") }
                    body["chain"] = .number(String(id))
                }
                if let f = o.values["for"] {
                    guard let s = UInt32(f) else { throw Options.Problem(description: "--for must be a number of seconds") }
                    body["for"] = .number(String(s))
                }
                if let s = o.values["severity"] { body["severity"] = .string(s) }
                r = try c.post(path, json: JSON.serialize(.object(body)), headers: auth)
            case "show": r = try c.get("\(path)/\(try o.hexId("id"))", headers: auth)
            case "delete": r = try c.request("DELETE", "\(path)/\(try o.hexId("id"))", headers: auth)
            case "incidents":
                var target = "\(path)/incidents?org=\(try o.hexId("org"))"
                if let s = o.values["state"] { target += "&state=\(s)" }
                r = try c.get(target, headers: auth)
                if r.status == 200, !o.flags.contains("json"), let v = try? JSON.parse(r.body) {
                    let rows = (v["incidents"]?.arrayValue ?? []).map { i in ["id", "state", "severity", "summary", "openedAt", "resolvedAt"].map { k -> String in
                        switch i[k] { case .string(let s)?: return s; case .number(let n)?: return n; default: return "-" } } }
                    print(rows.isEmpty ? "no incidents" : columns([["ID", "STATE", "SEVERITY", "SUMMARY", "OPENED", "RESOLVED"]] + rows))
                    return 0
                }
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (\(verbs))")
            }
            print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return (200..<300).contains(r.status) ? 0 : 1
        }
    }

    static func table(_ alerts: [JSONValue]) -> String {
        if alerts.isEmpty { return "no alerts (create one with: infrastack alert create --endpoint URL --org ORG_ID --name NAME --condition 'lag_seconds > 30' --channel slack=URL)" }
        var rows = [["ID", "NAME", "CONDITION", "CHAIN", "FOR", "SEVERITY", "CHANNELS"]]
        for a in alerts {
            func s(_ k: String) -> String { switch a[k] { case .string(let v)?: return v; case .number(let n)?: return n; default: return "-" } }
            rows.append([s("id"), s("name"), s("condition"), s("chain"), s("for") + " s", s("severity"),
                         (a["channels"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }.joined(separator: ",")])
        }
        return columns(rows)
    }
}
