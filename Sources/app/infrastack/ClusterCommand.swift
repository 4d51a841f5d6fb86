import Chain
import Foundation
import Net

/// `infrastack cluster add|promote|remove`: membership changes through any node's HTTP API
/// (followers forward to the leader).
enum ClusterCommand {
    static let usage = """
    usage: infrastack cluster add     --endpoint URL --id N --raft HOST:PORT --http URL
           infrastack cluster promote --endpoint URL --id N
           infrastack cluster remove  --endpoint URL --id N

      add      registers a node's addresses and adds it as a learner (it receives the log
               but does not vote); start the new node first with "bootstrap": false
      promote  makes a caught-up learner a voter
      remove   removes a voter or learner (the current leader may be removed)

    Every change needs the cluster-admin token: --token-file FILE, or the environment
    variable INFRASTACK_ADMIN_TOKEN. For https:// endpoints, --ca-file FILE (or
    INFRASTACK_CA_FILE) names the CA when it is not in the system store. The leader refuses changes it would regret: promoting
    a node that is not a caught-up learner, or a change that leaves fewer reachable voters
    than a quorum; the refusal says why. While no leader is reachable (just after one was
    lost) the change is retried for --wait-ms (default 20000; 0 = once).
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "id", "raft", "http", "timeout-ms", "wait-ms", "token-file", "ca-file"]) { o in
            let auth = try adminAuthorization(o)
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (add, promote or remove)") }
            let endpoint = try o.require("endpoint")
            guard let id = UInt64(try o.require("id")), id > 0 else { throw Options.Problem(description: "--id must be a positive integer") }
            let c = try HTTPClient(url: endpoint, timeoutMillis: Int(o.values["timeout-ms"] ?? "15000") ?? 15000, tls: clientTLS(o))
            let (method, path, body): (String, String, [UInt8])
            switch verb {
            case "add":
                let json = JSON.serialize(.object(["id": .number(String(id)), "raft": .string(try o.require("raft")), "http": .string(try o.require("http"))]))
                (method, path, body) = ("POST", "/v1/cluster/members", Array(json.utf8))
            case "promote": (method, path, body) = ("POST", "/v1/cluster/members/\(id)/promote", [])
            case "remove": (method, path, body) = ("DELETE", "/v1/cluster/members/\(id)", [])
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (add, promote or remove)")
            }
            guard let waitMillis = Int(o.values["wait-ms"] ?? "20000"), waitMillis >= 0 else { throw Options.Problem(description: "--wait-ms must be a whole number of milliseconds") }
            // Right after a leader is lost (the usual moment to remove it) there is no leader
            // to forward to until the election ends: retry what the node calls retryable.
            let deadline = Date().addingTimeInterval(Double(waitMillis) / 1000)
            var r: HTTPClient.Response
            while true {
                r = try c.request(method, path, headers: auth + (body.isEmpty ? [] : [("Content-Type", "application/json")]), body: body)
                guard r.status == 503, (try? JSON.parse(r.text))?.objectValue?["retryable"]?.boolValue == true, Date() < deadline else { break }
                FileHandle.standardError.write(Data("no leader reachable yet (\(r.text.trimmingCharacters(in: .whitespacesAndNewlines))); retrying…\n".utf8))
                usleep(500_000)
            }
            print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return r.status == 200 ? 0 : 1
        }
    }
}

/// `infrastack kv put|get`: the debug replicated key-value store.
enum KVCommand {
    static let usage = """
    usage: infrastack kv put --endpoint URL KEY VALUE
           infrastack kv get --endpoint URL [--linearizable] KEY

    A put is acknowledged only after it is committed and applied (followers forward it
    to the leader). A get reads the node's own copy; --linearizable first confirms a
    read point with the leader (ReadIndex). The nodes must run with "debugKV": true, and
    both need the cluster-admin token (--token-file FILE or INFRASTACK_ADMIN_TOKEN).
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "token-file", "ca-file"], boolean: ["linearizable"]) { o in
            let auth = try adminAuthorization(o)
            let endpoint = try o.require("endpoint")
            let c = try HTTPClient(url: endpoint, tls: clientTLS(o))
            switch (o.positional.first, o.positional.count) {
            case ("put", 3):
                let r = try c.request("PUT", "/v1/debug/kv/\(o.positional[1])", headers: auth, body: Array(o.positional[2].utf8))
                print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
                return r.status == 200 ? 0 : 1
            case ("get", 2):
                let r = try c.get("/v1/debug/kv/\(o.positional[1])" + (o.flags.contains("linearizable") ? "?consistency=linearizable" : ""), headers: auth)
                print(r.text)
                return r.status == 200 ? 0 : 1
            default:
                throw Options.Problem(description: "expected 'put KEY VALUE' or 'get KEY'")
            }
        }
    }
}

/// The admin credential header from --token-file or INFRASTACK_ADMIN_TOKEN (never a flag
/// value, which would show in `ps` and shell history).
func adminAuthorization(_ o: Options) throws -> [(String, String)] {
    var token = ProcessInfo.processInfo.environment["INFRASTACK_ADMIN_TOKEN"] ?? ""
    if let f = o.values["token-file"] {
        guard let d = FileManager.default.contents(atPath: f) else { throw Options.Problem(description: "--token-file: cannot read \(f)") }
        token = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    guard !token.isEmpty else { throw Options.Problem(description: "a token is required (a personal token or the cluster-admin token): --token-file FILE or INFRASTACK_ADMIN_TOKEN") }
    return [("Authorization", "Bearer " + token)]
}

/// Every item of a paged admin list (`?limit=&cursor=`, `nextCursor`), or the first answer
/// that was not a page (printed by the caller as the error it is).
enum Pages { case items([JSONValue]), refused(HTTPClient.Response) }

func allPages(_ c: HTTPClient, _ path: String, field: String, headers: [(String, String)]) throws -> Pages {
    var all = [JSONValue](), cursor: String? = nil
    let joiner = path.contains("?") ? "&" : "?"
    repeat {
        let page = try c.get(path + joiner + "limit=500" + (cursor.map { "&cursor=\($0)" } ?? ""), headers: headers)
        guard page.status == 200, let v = try? JSON.parse(page.body) else { return .refused(page) }
        all += v[field]?.arrayValue ?? []
        cursor = v["nextCursor"]?.stringValue
    } while cursor != nil
    return .items(all)
}
