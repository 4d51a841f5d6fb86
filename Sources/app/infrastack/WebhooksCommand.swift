import Chain
import Foundation
import Net

/// `infrastack webhook …`: organisations' webhooks, through any node's admin API (followers
/// forward changes to the leader).
enum WebhooksCommand {
    static let usage = """
    usage: infrastack webhook list       --endpoint URL --org ORG_ID [--json]
           infrastack webhook create     --endpoint URL --org ORG_ID --chain ID --name NAME --url URL
                                         --event new_block|new_tx|contract_event|state_change [--filter JSON]
                                         [--confirmations latest|safe|finalized|N] [--batch-events N] [--batch-ms MS]
                                         [--format json|slack|pagerduty]
           infrastack webhook show       --endpoint URL --id WEBHOOK_ID
           infrastack webhook change     --endpoint URL --id WEBHOOK_ID [--name NAME] [--url URL] [--filter JSON]
                                         [--confirmations …] [--batch-events N] [--batch-ms MS] [--format …]
           infrastack webhook pause|resume --endpoint URL --id WEBHOOK_ID
           infrastack webhook test       --endpoint URL --id WEBHOOK_ID
           infrastack webhook deliveries --endpoint URL --id WEBHOOK_ID [--json]
           infrastack webhook replay     --endpoint URL --id WEBHOOK_ID --from-block N
           infrastack webhook rotate-secret --endpoint URL --id WEBHOOK_ID [--grace-seconds S]   (default 86400)
           infrastack webhook delete     --endpoint URL --id WEBHOOK_ID

    A webhook POSTs the events of one of the organisation's chains to URL, signed per
    Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) with the secret
    create prints once (whsec_…). It starts after the chain's current head; replay sends
    everything again from a block. Filters (JSON), by event:
      new_tx          {"from", "to", "selector": "0xa9059cbb", "minValue": wei}
      contract_event  {"addresses": [...], "topics": [...as eth_getLogs], "abi": "Transfer(address indexed from, ...)"}
      state_change    {"addresses": [...], "fields": ["balance","nonce","code","storage"], "slots": [...]}
    The token: --token-file FILE or INFRASTACK_ADMIN_TOKEN (a personal token, or the
    cluster-admin token); --ca-file FILE (or INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static let path = "/v1/webhooks"

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "org", "id", "chain", "name", "url", "event", "filter", "confirmations", "batch-events",
                                                "batch-ms", "format", "from-block", "grace-seconds", "timeout-ms", "token-file", "ca-file"], boolean: ["json"]) { o in
            let auth = try adminAuthorization(o)
            let verbs = "list, create, show, change, pause, resume, test, deliveries, replay, rotate-secret or delete"
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (\(verbs))") }
            let endpoint = try o.require("endpoint")
            let c = try HTTPClient(url: endpoint, timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
            func settings(_ body: inout JSONObject) throws {
                if let n = o.values["name"] { body["name"] = .string(n) }
                if let u = o.values["url"] { body["url"] = .string(u) }
                if let f = o.values["filter"] {
                    guard let v = try? JSON.parse(Array(f.utf8)), v.objectValue != nil else { throw Options.Problem(description: "--filter must be a JSON object") }
                    body["filter"] = v
                }
                if let cf = o.values["confirmations"] { body["confirmations"] = .string(cf) }
                var batch = JSONObject()
                for (flag, key) in [("batch-events", "maxEvents"), ("batch-ms", "maxMillis")] {
                    guard let v = o.values[flag] else { continue }
                    guard let n = UInt32(v) else { throw Options.Problem(description: "--\(flag) must be a number") }
                    batch[key] = .number(String(n))
                }
                if batch.count > 0 { body["batch"] = .object(batch) }
                if let f = o.values["format"] { body["format"] = .string(f) }
            }
            let r: HTTPClient.Response
            switch verb {
            case "list":
                switch try allPages(c, "\(path)?org=\(try o.hexId("org"))", field: "webhooks", headers: auth) {
                case .refused(let page): r = page
                case .items(let hooks):
                    print(o.flags.contains("json") ? JSON.serialize(.object(["webhooks": .array(hooks)])) : table(hooks))
                    return 0
                }
            case "create":
                guard let chain = UInt64(try o.require("chain")) else { throw Options.Problem(description: "--chain must be a chain id") }
                var body: JSONObject = ["org": .string(try o.hexId("org")), "chain": .number(String(chain)), "event": .string(try o.require("event"))]
                _ = try o.require("name"); _ = try o.require("url")
                try settings(&body)
                r = try c.post(path, json: JSON.serialize(.object(body)), headers: auth)
            case "show": r = try c.get("\(path)/\(try o.hexId("id"))", headers: auth)
            case "change":
                var body = JSONObject()
                try settings(&body)
                guard body.count > 0 else { throw Options.Problem(description: "change needs something to change (--name, --url, --filter, …)") }
                r = try c.request("PATCH", "\(path)/\(try o.hexId("id"))", headers: auth + [("Content-Type", "application/json")], body: Array(JSON.serialize(.object(body)).utf8))
            case "pause", "resume":
                r = try c.request("PATCH", "\(path)/\(try o.hexId("id"))", headers: auth + [("Content-Type", "application/json")],
                                  body: Array("{\"paused\":\(verb == "pause")}".utf8))
            case "test": r = try c.post("\(path)/\(try o.hexId("id"))/test", json: "{}", headers: auth)
            case "deliveries":
                r = try c.get("\(path)/\(try o.hexId("id"))/deliveries", headers: auth)
                if r.status == 200, !o.flags.contains("json"), let v = try? JSON.parse(r.body) {
                    let rows = (v["deliveries"]?.arrayValue ?? []).map { d in ["at", "firstEvent", "events", "status", "latencyMillis", "error"].map { k -> String in
                        switch d[k] { case .string(let s)?: return s; case .number(let n)?: return n; default: return "-" } } }
                    print(rows.isEmpty ? "no deliveries yet" : columns([["AT", "FIRST EVENT", "EVENTS", "STATUS", "MS", "ERROR"]] + rows))
                    return 0
                }
            case "replay":
                guard let from = UInt64(try o.require("from-block")) else { throw Options.Problem(description: "--from-block must be a block number") }
                r = try c.post("\(path)/\(try o.hexId("id"))/replay?fromBlock=\(from)", json: "{}", headers: auth)
            case "rotate-secret":
                var body = "{}"
                if let g = o.values["grace-seconds"] {
                    guard let n = Int(g), n >= 0 else { throw Options.Problem(description: "--grace-seconds must be a number of seconds") }
                    body = "{\"graceSeconds\":\(n)}"
                }
                r = try c.post("\(path)/\(try o.hexId("id"))/rotate-secret", json: body, headers: auth)
            case "delete": r = try c.request("DELETE", "\(path)/\(try o.hexId("id"))", headers: auth)
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (\(verbs))")
            }
            print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return (200..<300).contains(r.status) ? 0 : 1
        }
    }

    static func table(_ hooks: [JSONValue]) -> String {
        if hooks.isEmpty { return "no webhooks (create one with: infrastack webhook create --endpoint URL --org ORG_ID --chain ID --name NAME --url URL --event new_block)" }
        var rows = [["ID", "NAME", "CHAIN", "EVENT", "URL", "DELIVERED THROUGH", "STATE"]]
        for h in hooks {
            let through = h["cursor"]?["acknowledged"]?["block"].flatMap { if case .number(let n) = $0 { return "block " + n } else { return nil } } ?? "-"
            let state = h["paused"] == .bool(true) ? "paused: " + (h["pausedReason"]?.stringValue ?? "") : "running"
            rows.append([h["id"]?.stringValue ?? "-", h["name"]?.stringValue ?? "-", h["chain"].flatMap { if case .number(let n) = $0 { return n } else { return nil } } ?? "-",
                         h["event"]?.stringValue ?? "-", h["url"]?.stringValue ?? "-", through, state])
        }
        return columns(rows)
    }
}
