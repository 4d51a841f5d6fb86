import Chain
import Foundation
import Net

/// `infrastack user list|create|show|remove|token` (cluster admins) and `infrastack whoami`:
/// the people and automations that hold personal tokens.
enum UserCommand {
    static let usage = """
    usage: infrastack user list   --endpoint URL [--json]
           infrastack user create --endpoint URL --name NAME [--cluster-admin]
           infrastack user show   --endpoint URL --id ID
           infrastack user remove --endpoint URL --id ID
           infrastack user token  --endpoint URL [--id ID]   (a new token; without --id your own)
           infrastack whoami      --endpoint URL

    A user authenticates with a personal token (Authorization: Bearer); only its hash is
    stored, and a new token is shown once. Cluster admins manage every user; organisation
    admins add members with infrastack org invite. The token: --token-file FILE or
    INFRASTACK_ADMIN_TOKEN (a personal token or the configured cluster-admin token);
    --ca-file FILE (or INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "name", "id", "timeout-ms", "token-file", "ca-file"], boolean: ["json", "cluster-admin"]) { o in
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (list, create, show, remove or token)") }
            return try call(verb, o)
        }
    }

    static func whoami(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "timeout-ms", "token-file", "ca-file"]) { o in try call("whoami", o) }
    }

    static func call(_ verb: String, _ o: Options) throws -> Int32 {
        let auth = try adminAuthorization(o)
        let c = try HTTPClient(url: try o.require("endpoint"), timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
        func id() throws -> String {
            let s = try o.require("id")
            guard s.utf8.count == 16, UInt64(s, radix: 16) != nil else { throw Options.Problem(description: "--id must be a user id: 16 hex digits") }
            return s
        }
        let r: HTTPClient.Response
        switch verb {
        case "list":
            switch try allPages(c, "/v1/users", field: "users", headers: auth) {
            case .refused(let page): r = page
            case .items(let users) where o.flags.contains("json"):
                print(JSON.serialize(.object(["users": .array(users)])))
                return 0
            case .items(let users):
                var rows = [["ID", "NAME", "CLUSTER ADMIN", "ORGANISATIONS"]]
                for u in users {
                    let orgs = (u["memberships"]?.arrayValue ?? []).map { "\($0["org"]?.stringValue ?? "?"):\($0["role"]?.stringValue ?? "?")" }
                    rows.append([u["id"]?.stringValue ?? "-", u["name"]?.stringValue ?? "-", u["clusterAdmin"] == .bool(true) ? "yes" : "no",
                                 orgs.isEmpty ? "-" : orgs.joined(separator: " ")])
                }
                print(columns(rows))
                return 0
            }
        case "create":
            var body: JSONObject = ["name": .string(try o.require("name"))]
            if o.flags.contains("cluster-admin") { body["clusterAdmin"] = .bool(true) }
            r = try c.post("/v1/users", json: JSON.serialize(.object(body)), headers: auth)
        case "show": r = try c.get("/v1/users/\(try id())", headers: auth)
        case "remove": r = try c.request("DELETE", "/v1/users/\(try id())", headers: auth)
        case "token": r = try c.post(o.values["id"] == nil ? "/v1/me/token" : "/v1/users/\(try id())/token", json: "{}", headers: auth)
        case "whoami": r = try c.get("/v1/me", headers: auth)
        default: throw Options.Problem(description: "unknown subcommand '\(verb)' (list, create, show, remove or token)")
        }
        print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
        return (200..<300).contains(r.status) ? 0 : 1
    }
}
