import Chain
import Foundation
import Net

/// `infrastack org list|create|show|config|delete`: organisations (tenants), through any
/// node's admin API (followers forward changes to the leader).
enum OrgCommand {
    static let usage = """
    usage: infrastack org list   --endpoint URL [--json]
           infrastack org create --endpoint URL --name NAME [--config-file FILE]
           infrastack org show   --endpoint URL --id ID
           infrastack org config --endpoint URL --id ID [--config-file FILE]   (shows it without --config-file)
           infrastack org chains --endpoint URL --id ID [--assign CHAIN_ID | --release CHAIN_ID]
           infrastack org delete --endpoint URL --id ID
           infrastack org members --endpoint URL --id ID
           infrastack org invite  --endpoint URL --id ID (--name NAME | --user USER_ID) --role admin|operator|developer
           infrastack org role    --endpoint URL --id ID --user USER_ID --role admin|operator|developer
           infrastack org remove-member --endpoint URL --id ID --user USER_ID

    An organisation is one tenant of the cluster: its members, API keys and chains
    belong to it. Names are unique without regard to case; ids are 16 hex digits chosen
    by the cluster. config is the organisation's settings, a JSON object. chains lists
    the chains it owns (its API keys read only those); --assign gives it a chain of the
    registry, --release takes one back to the cluster. delete is
    refused while the organisation owns chains. invite with --name creates a user and
    prints their personal token once. Changes go through the Raft log. Every command
    needs a token: --token-file FILE or INFRASTACK_ADMIN_TOKEN (a personal token, whose
    role in the organisation decides what it may do, or the cluster-admin token);
    --ca-file FILE (or INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static let path = "/v1/orgs"

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "name", "id", "config-file", "assign", "release", "timeout-ms", "token-file", "ca-file", "user", "role"], boolean: ["json"]) { o in
            let auth = try adminAuthorization(o)
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (list, create, show, config, chains or delete)") }
            let endpoint = try o.require("endpoint")
            let c = try HTTPClient(url: endpoint, timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
            func id() throws -> String {
                let s = try o.require("id")
                guard s.utf8.count == 16, UInt64(s, radix: 16) != nil else { throw Options.Problem(description: "--id must be an organisation id: 16 hex digits") }
                return s
            }
            func config() throws -> JSONValue? {
                guard let file = o.values["config-file"] else { return nil }
                guard let d = FileManager.default.contents(atPath: file) else { throw Options.Problem(description: "--config-file \(file): cannot read it") }
                guard let v = try? JSON.parse(Array(d)), v.objectValue != nil else { throw Options.Problem(description: "--config-file \(file): not a JSON object") }
                return v
            }
            let r: HTTPClient.Response
            switch verb {
            case "list":
                let all: [JSONValue]
                switch try allPages(c, path, field: "orgs", headers: auth) {
                case .refused(let page): print(page.text.trimmingCharacters(in: .whitespacesAndNewlines)); return 1
                case .items(let items): all = items
                }
                if o.flags.contains("json") { print(JSON.serialize(.object(["orgs": .array(all)]))) } else { print(table(all)) }
                return 0
            case "create":
                var body: JSONObject = ["name": .string(try o.require("name"))]
                if let cfg = try config() { body["config"] = cfg }
                r = try c.post(path, json: JSON.serialize(.object(body)), headers: auth)
            case "show": r = try c.get("\(path)/\(try id())", headers: auth)
            case "config":
                if let cfg = try config() {
                    r = try c.request("PUT", "\(path)/\(try id())/config", headers: auth + [("Content-Type", "application/json")], body: Array(JSON.serialize(cfg).utf8))
                } else {
                    r = try c.get("\(path)/\(try id())/config", headers: auth)
                }
            case "chains":
                func chain(_ flag: String) throws -> String? {
                    guard let v = o.values[flag] else { return nil }
                    guard let n = UInt64(v), n > 0 else { throw Options.Problem(description: "--\(flag) must be a chain id (a positive integer)") }
                    return String(n)
                }
                if let a = try chain("assign") { r = try c.request("PUT", "\(path)/\(try id())/chains/\(a)", headers: auth) }
                else if let rel = try chain("release") { r = try c.request("DELETE", "\(path)/\(try id())/chains/\(rel)", headers: auth) }
                else { r = try c.get("\(path)/\(try id())/chains", headers: auth) }
            case "delete": r = try c.request("DELETE", "\(path)/\(try id())", headers: auth)
            case "members":
                switch try allPages(c, "\(path)/\(try id())/members", field: "members", headers: auth) {
                case .refused(let page): r = page
                case .items(let ms):
                    print(columns([["USER", "NAME", "ROLE"]] + ms.map { m in ["user", "name", "role"].map { m[$0]?.stringValue ?? "-" } }))
                    return 0
                }
            case "invite", "role", "remove-member":
                func user() throws -> String {
                    let s = try o.require("user")
                    guard s.utf8.count == 16, UInt64(s, radix: 16) != nil else { throw Options.Problem(description: "--user must be a user id: 16 hex digits") }
                    return s
                }
                let members = "\(path)/\(try id())/members"
                if verb == "remove-member" { r = try c.request("DELETE", "\(members)/\(try user())", headers: auth); break }
                let role = JSONValue.string(try o.require("role"))
                if verb == "role" {
                    r = try c.request("PUT", "\(members)/\(try user())", headers: auth + [("Content-Type", "application/json")],
                                      body: Array(JSON.serialize(.object(["role": role])).utf8))
                } else {
                    var body: JSONObject = ["role": role]
                    if let name = o.values["name"] { body["name"] = .string(name) } else { body["user"] = .string(try user()) }
                    r = try c.post(members, json: JSON.serialize(.object(body)), headers: auth)
                }
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (list, create, show, config, chains, members, invite, role, remove-member or delete)")
            }
            print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return (200..<300).contains(r.status) ? 0 : 1
        }
    }

    static func table(_ orgs: [JSONValue]) -> String {
        if orgs.isEmpty { return "no organisations (create one with: infrastack org create --endpoint URL --name NAME)" }
        var rows = [["ID", "NAME", "CREATED"]]
        for org in orgs { rows.append([org["id"]?.stringValue ?? "-", org["name"]?.stringValue ?? "-", org["createdAt"]?.stringValue ?? "-"]) }
        return columns(rows)
    }
}
