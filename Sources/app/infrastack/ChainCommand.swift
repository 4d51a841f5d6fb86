import Chain
import ChainIndex
import Foundation
import Net

/// `infrastack chain add|change|list|pause|resume|remove`: the replicated chain registry,
/// through any node's admin API (followers forward changes to the leader).
enum ChainCommand {
    static let usage = """
    usage: infrastack chain list   --endpoint URL [--json]
           infrastack chain add    --endpoint URL --file CHAIN.json   (or --json-body '{...}')
           infrastack chain change --endpoint URL --slug SLUG --file CHAIN.json
           infrastack chain pause  --endpoint URL --slug SLUG
           infrastack chain resume --endpoint URL --slug SLUG
           infrastack chain remove --endpoint URL --slug SLUG

    A chain is a JSON object with the settings of the node config's "chain" plus its name:
      {"slug": "base-sepolia", "chainId": 84532, "adapter": "op-stack",
       "upstreams": ["https://sepolia.base.example/KEY"], "batchBlocks": 16,
       "maxReorgDepth": 64, "parent": 11155111}
    The node checks every field (errors name it) and that every upstream answers
    eth_chainId with chainId before the chain is added; the change then goes through the
    Raft log, so every node follows the same chains. pause stops indexing (reads go on);
    remove stops it and deletes the chain's data in the background, in bounded steps
    that resume after a crash. Settings, upstream URLs included, are stored on every
    node. Every command needs the cluster-admin token: --token-file FILE or
    INFRASTACK_ADMIN_TOKEN; --ca-file FILE (or INFRASTACK_CA_FILE) for https:// endpoints.
    """

    static let path = "/v1/cluster/chains"

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["endpoint", "slug", "file", "json-body", "timeout-ms", "token-file", "ca-file"], boolean: ["json"]) { o in
            let auth = try adminAuthorization(o)
            guard let verb = o.positional.first else { throw Options.Problem(description: "missing subcommand (list, add, change, pause, resume or remove)") }
            let endpoint = try o.require("endpoint")
            let c = try HTTPClient(url: endpoint, timeoutMillis: Int(o.values["timeout-ms"] ?? "30000") ?? 30000, tls: clientTLS(o))
            func body() throws -> String {
                if let inline = o.values["json-body"] { return inline }
                let file = try o.require("file")
                guard let d = FileManager.default.contents(atPath: file) else { throw Options.Problem(description: "--file \(file): cannot read it") }
                return String(decoding: d, as: UTF8.self)
            }
            func slug() throws -> String {
                let s = try o.require("slug")
                if let why = ChainSpec.slugProblem(s) { throw Options.Problem(description: "--slug \(why)") }
                return s
            }
            let r: HTTPClient.Response
            switch verb {
            case "list":
                r = try c.get(path, headers: auth)
                if r.status == 200, !o.flags.contains("json") {
                    print(table(r.body))
                    return 0
                }
            case "add": r = try c.post(path, json: try body(), headers: auth)
            case "change": r = try c.request("PUT", "\(path)/\(try slug())", headers: auth + [("Content-Type", "application/json")], body: Array(try body().utf8))
            case "pause": r = try c.request("POST", "\(path)/\(try slug())/pause", headers: auth)
            case "resume": r = try c.request("POST", "\(path)/\(try slug())/resume", headers: auth)
            case "remove": r = try c.request("DELETE", "\(path)/\(try slug())", headers: auth)
            default: throw Options.Problem(description: "unknown subcommand '\(verb)' (list, add, change, pause, resume or remove)")
            }
            print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return r.status == 200 ? 0 : 1
        }
    }

    /// The list as a table: one chain a line.
    static func table(_ body: [UInt8]) -> String {
        guard let chains = (try? JSON.parse(body))?.objectValue?["chains"]?.arrayValue else { return String(decoding: body, as: UTF8.self) }
        var rows = [["CHAIN", "SLUG", "ADAPTER", "STATE", "APPLIED", "UPSTREAM", "LAG", "TX/S", "ETA S", "ALERT / PROBLEM"]]
        func text(_ v: JSONValue?) -> String {
            switch v {
            case .string(let s)?: return s
            case .number(let n)?: return n
            case .bool(let b)?: return b ? "yes" : "no"
            default: return "-"
            }
        }
        for c in chains {
            guard let o = c.objectValue else { continue }
            var state = text(o["lifecycle"])
            if state == "removing" { state += " (\(text(o["keysDeleted"])) keys deleted)" }
            else if state == "active" { state = text(o["stateKind"]) == "-" ? "active" : text(o["stateKind"]) }
            let alert = o["problem"].flatMap { $0.stringValue } ?? o["lastAlert"].flatMap { $0.stringValue } ?? ""
            rows.append([text(o["chainId"]), text(o["slug"]), text(o["adapter"]), state, text(o["appliedHead"]), text(o["upstreamHead"]),
                         text(o["lagBlocks"]), text(o["txPerSecond"]), text(o["etaSeconds"]), alert])
        }
        if rows.count == 1 { return "no chains in the registry (add one with: infrastack chain add --endpoint URL --file CHAIN.json)" }
        return columns(rows)
    }
}
