@testable import StateMachine
@testable import Edge
@testable import NodeConfig
import Chain
import ChainIndex
import Foundation
import Net
import Tenancy
import Testing
import TestSupport

/// `/v1/orgs`: organisations created, listed a page at a time, configured and deleted
/// through the Raft log, readable on every node; bad bodies and races answered with why,
/// changing nothing.
@Suite(.serialized) struct OrgAdminTests {
    typealias T = AdminAPITests

    @Test func organisationsThroughTheLog() throws {
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("org\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { nodes.contains { $0.node.report.status.role == .leader } })
        let leader = try #require(nodes.first { $0.node.report.status.role == .leader })
        let api = NodeAPI(node: leader.node, config: T.config(leader.id), peerStatus: { [:] })
        func call(_ method: String, _ path: String, _ body: String = "", token: String? = T.token) -> (Int, JSONValue) {
            let r = api.handle(T.request(method, path, token: token, body: body))
            return (r.status, (try? JSON.parse(r.body)) ?? .null)
        }

        #expect(call("GET", "/v1/orgs", token: nil).0 == 401, "cluster admins only, for now")
        #expect(call("POST", "/v1/orgs", #"{"name":"acme"}"#, token: nil).0 == 401)

        let (status, acme) = call("POST", "/v1/orgs", #"{"name":"Acme","config":{"rpc":{"maxBatch":10}}}"#)
        #expect(status == 201, "\(acme)")
        let acmeId = try #require(acme["id"]?.stringValue)
        #expect(acmeId.count == 16 && acme["name"] == .string("Acme"))

        // Refused before anything is proposed, each saying why.
        let organisations = { (try? leader.node.stateMachine.tenantView { d, txn in try d.organisations(txn) }) ?? [] }
        let before = organisations()
        for (body, why) in [(#"{"name":"acme"}"#, "named acme already"), (#"{"name":""}"#, "name must be 1 to 100"),
                            (#"{"name":"x","color":1}"#, "unknown field \"color\""), (#"{"name":7}"#, "name is required"),
                            ("not json", "JSON object"), (#"{"name":"x","config":[1]}"#, "config must be a JSON object")] {
            let (s, e) = call("POST", "/v1/orgs", body)
            #expect((s == 400 || s == 409) && e["error"]?.stringValue?.contains(why) == true, "\(body): \(s) \(e)")
        }
        #expect(organisations() == before && before.count == 1, "refused requests change nothing")

        // Every node has it once applied.
        let id = try #require(OrgAdmin.parseId(acmeId))
        #expect(waitUntil { nodes.allSatisfy { n in ((try? n.node.stateMachine.tenantView { d, txn in try d.organisation(id, txn) }) ?? nil)?.name == "Acme" } })
        #expect(call("GET", "/v1/orgs/\(acmeId)").1["name"] == .string("Acme"))
        #expect(call("GET", "/v1/orgs/\(acmeId)/config").1 == .object(["rpc": .object(["maxBatch": .number("10")])]))
        #expect(call("PUT", "/v1/orgs/\(acmeId)/config", #"{"rpc":{"maxBatch":20}}"#).0 == 200)
        #expect(call("GET", "/v1/orgs/\(acmeId)/config").1["rpc"]?["maxBatch"] == .number("20"))
        #expect(call("PUT", "/v1/orgs/\(acmeId)/config", "[]").0 == 400)
        #expect(call("GET", "/v1/orgs/00000000000000ff").0 == 404)
        #expect(call("GET", "/v1/orgs/nope").0 == 404)

        // Pages: every organisation once, in id order.
        for i in 0..<6 { #expect(call("POST", "/v1/orgs", "{\"name\":\"org-\(i)\"}").0 == 201) }
        var seen = [String](), cursor: String? = nil, pages = 0
        repeat {
            let (s, page) = call("GET", "/v1/orgs?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(s == 200)
            seen += (page["orgs"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            cursor = page["nextCursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen.count == 7 && Set(seen).count == 7 && seen == seen.sorted(), "\(seen)")
        #expect(pages == 3)
        #expect(call("GET", "/v1/orgs?limit=0").0 == 400 && call("GET", "/v1/orgs?cursor=zz").0 == 400)

        // An organisation that owns a chain is not deleted; once the chain is handed back it is.
        #expect(call("PUT", "/v1/orgs/\(acmeId)/chains/5").0 == 404, "only chains of the registry can be owned")
        _ = leader.node.propose(raw: ChainRegistryCommand.put(ChainSpec(chainId: 5, slug: "five", settings: Array("{}".utf8))).encoded(), timeoutMillis: 5000)
        #expect(call("PUT", "/v1/orgs/\(acmeId)/chains/5").0 == 200)
        #expect(call("GET", "/v1/orgs/\(acmeId)/chains").1 == .object(["chains": .array([.number("5")])]))
        #expect(call("PUT", "/v1/orgs/\(acmeId)/chains/zero").0 == 400 && call("GET", "/v1/orgs/\(acmeId)/config/x").0 == 404)
        let (refused, why) = call("DELETE", "/v1/orgs/\(acmeId)")
        #expect(refused == 409 && why["error"]?.stringValue?.contains("still owns chains 5") == true, "\(why)")
        #expect(call("DELETE", "/v1/orgs/\(acmeId)/chains/6").0 == 404)
        #expect(call("DELETE", "/v1/orgs/\(acmeId)/chains/5").0 == 200)
        #expect(call("GET", "/v1/orgs/\(acmeId)/chains").1 == .object(["chains": .array([])]))
        #expect(call("DELETE", "/v1/orgs/\(acmeId)").0 == 200)
        #expect(call("GET", "/v1/orgs/\(acmeId)").0 == 404)
        #expect(waitUntil { nodes.allSatisfy { n in (try? n.node.stateMachine.tenantView { d, txn in try d.organisations(txn).count }) == 6 } })

        // Every change above (refusals included, reads not) is in the audit log, on every node, chained.
        func audit(_ q: String = "") -> [JSONValue] { call("GET", "/v1/audit" + q).1["entries"]?.arrayValue ?? [] }
        #expect(waitUntil { audit("?limit=1000").contains { $0["action"]?.stringValue == "DELETE /v1/orgs/\(acmeId)" && $0["outcome"] == .number("200") } })
        let entries = audit("?limit=1000")
        #expect(entries.allSatisfy { $0["actor"] == .string("admin") } && !entries.contains { $0["action"]?.stringValue?.hasPrefix("GET") == true })
        #expect(entries.filter { $0["action"] == .string("POST /v1/orgs") && $0["outcome"] == .number("201") }.count == 7)
        #expect(entries.contains { $0["action"] == .string("POST /v1/orgs") && $0["outcome"] == .number("409") }, "refusals are recorded too")
        #expect(audit("?action=PUT%20/v1/orgs/\(acmeId)/config").count == 2, "filtered by action prefix")
        #expect(audit("?org=\(acmeId)&limit=1000").allSatisfy { $0["action"]?.stringValue?.contains(acmeId) == true })
        #expect(call("GET", "/v1/audit?limit=0").0 == 400 && call("POST", "/v1/audit").0 == 405)
        // The refused POST to /v1/audit is itself an entry: wait for it before comparing.
        #expect(waitUntil { audit("?limit=1000").count == entries.count + 1 })
        let verdict = call("GET", "/v1/audit/verify")
        #expect(verdict.0 == 200 && verdict.1["ok"] == .bool(true) && verdict.1["entries"] == .number(String(entries.count + 1)), "\(verdict)")
        #expect(waitUntil { nodes.allSatisfy { n in (try? n.node.stateMachine.tenantView { d, txn in try d.audit.verify(txn) })?.entries == UInt64(entries.count + 1) } })
    }

    /// Seeded random bodies against every tenant endpoint that takes one: each answer is a
    /// 2xx, or a 4xx with `{"error": …}` after which the tenant tables are exactly as before.
    @Test func randomBodiesNeverCrashAndRefusalsChangeNothing() throws {
        let seed = SeededRandom.seed("OrgAdminTests.randomBodiesNeverCrashAndRefusalsChangeNothing")
        var rng = SeededRandom(seed: seed)
        let hub = LocalHub()
        let nodes = (1...3).map { TestNode(id: UInt64($0), dir: temporaryDirectory("orgfz\($0)"), hub: hub) }
        for n in nodes { try n.start(voters: [1, 2, 3]) }
        defer { nodes.forEach { if $0.node != nil { $0.stop() } } }
        #expect(waitUntil { nodes.contains { $0.node.report.status.role == .leader } })
        let leader = try #require(nodes.first { $0.node.report.status.role == .leader })
        let api = NodeAPI(node: leader.node, config: T.config(leader.id), peerStatus: { [:] })
        func call(_ method: String, _ path: String, _ body: [UInt8]) -> HTTPResponse {
            var r = T.request(method, path, token: T.token)
            r.body = body
            return api.handle(r)
        }
        let org = try #require((try? JSON.parse(call("POST", "/v1/orgs", Array(#"{"name":"seed-org"}"#.utf8)).body))?["id"]?.stringValue)
        let key = try #require((try? JSON.parse(call("POST", "/v1/api-keys", Array("{\"org\":\"\(org)\",\"name\":\"k\"}".utf8)).body))?["id"]?.stringValue)
        let member = try #require((try? JSON.parse(call("POST", "/v1/orgs/\(org)/members", Array(#"{"name":"m","role":"developer"}"#.utf8)).body))?["user"]?.stringValue)
        func snapshot() -> String {
            (try? leader.node.stateMachine.tenantView { d, txn in
                let id = OrgAdmin.parseId(org)!
                return "\(try d.organisations(txn))|\(try d.keys(of: id, txn))|\(try d.chains(of: id, txn))|\(try d.users(txn))|\(try d.members(of: id, txn))"
            }) ?? "unreadable"
        }
        let fields = ["name", "config", "org", "permissions", "origins", "cidrs", "rateLimitPerMinute", "graceSeconds", "secret", "id", "role", "user",
                      "clusterAdmin", ""]
        let values = ["\"acme\"", "\"\"", "\"\(org)\"", "\"read+write\"", "\"all\"", "[\"10.0.0.0/8\"]", "[\"x\"]", "[\"https://a.example\"]",
                      "{}", "{\"a\":[1,2]}", "[]", "0", "-1", "99999999999999999999", "3600", "1e3", "null", "true", "\"\\u0000\"",
                      "\"" + String(repeating: "x", count: 300) + "\"", "\"admin\"", "\"developer\"", "\"owner\"", "\"\(member)\""]
        let targets: [(String, String)] = [("POST", "/v1/orgs"), ("PUT", "/v1/orgs/\(org)/config"), ("POST", "/v1/api-keys"),
                                           ("POST", "/v1/api-keys/\(key)/rotate"), ("PUT", "/v1/orgs/\(org)/chains/7"),
                                           ("POST", "/v1/orgs/\(org)/members"), ("PUT", "/v1/orgs/\(org)/members/\(member)"), ("POST", "/v1/users")]
        var refused = 0, accepted = 0
        for i in 0..<300 {
            var text = "{" + (0..<Int.random(in: 0..<5, using: &rng)).map { _ in
                "\"\(fields.randomElement(using: &rng)!)\":\(values.randomElement(using: &rng)!)"
            }.joined(separator: ",") + "}"
            if Int.random(in: 0..<6, using: &rng) == 0, !text.isEmpty {
                var b = Array(text.utf8)
                b[Int.random(in: 0..<b.count, using: &rng)] = Array("{}[]\",:x\\".utf8).randomElement(using: &rng)!
                text = String(decoding: b, as: UTF8.self)
            }
            let (method, path) = targets.randomElement(using: &rng)!
            let before = snapshot()
            let r = call(method, path, Array(text.utf8))
            if (200..<300).contains(r.status) { accepted += 1; continue }
            refused += 1
            guard (400..<500).contains(r.status), (try? JSON.parse(r.body))?["error"]?.stringValue != nil else {
                Issue.record("seed \(seed), body \(i): \(method) \(path) \(text) answered \(r.status) \(String(decoding: r.body, as: UTF8.self))")
                return
            }
            guard snapshot() == before else {
                Issue.record("seed \(seed), body \(i): \(method) \(path) \(text) was refused (\(r.status)) but changed the tenant tables")
                return
            }
        }
        #expect(refused > 100, "seed \(seed): \(refused) refused, \(accepted) accepted")
        #expect(nodes.allSatisfy { $0.node.report.corruption == nil }, "no replica stopped")
    }
}
