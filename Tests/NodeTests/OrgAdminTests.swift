@testable import StateMachine
@testable import Edge
@testable import NodeConfig
import Chain
import ChainIndex
import Foundation
import Net
import Tenancy
import Testing

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
    }
}
