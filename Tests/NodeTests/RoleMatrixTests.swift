@testable import StateMachine
@testable import Edge
@testable import NodeConfig
import Chain
import ChainIndex
import Foundation
import Hashing
import Net
import Telemetry
import Tenancy
import Webhooks
import Alerts
import Testing
import TestSupport

/// The README's role table, cell by cell, against a node: every endpoint × role, each for
/// an object of the caller's own organisation and of another one. The table is read from
/// the README itself, so the documentation cannot drift from what the node enforces.
@Suite(.serialized) struct RoleMatrixTests {
    struct Row: CustomStringConvertible {
        let method: String
        let target: String
        /// cluster admin, admin, operator, developer.
        let cells: [String]
        var description: String { "\(method) \(target)" }
        /// Whether the row acts on an organisation's object (another organisation's is hidden).
        var scoped: Bool {
            ["{org}", "{key}", "{member}", "{chain}", "{slug}", "{webhook}", "{alert}"].contains { target.contains($0) }
                || (method == "POST" && ["/v1/api-keys", "/v1/webhooks", "/v1/alerts"].contains(target))
        }
    }

    static let columns = ["cluster admin", "admin", "operator", "developer"]

    static func table() throws -> [Row] {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let header = lines.firstIndex(where: { $0.hasPrefix("| Endpoint | cluster admin |") }) else { return [] }
        #expect(lines[header] == "| Endpoint | " + columns.joined(separator: " | ") + " |")
        var rows = [Row]()
        for line in lines[(header + 2)...] {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let endpoint = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")).split(separator: " ", maxSplits: 1).map(String.init)
            rows.append(Row(method: endpoint[0], target: endpoint[1], cells: Array(cells.dropFirst())))
        }
        return rows
    }

    /// A fresh cast for one cell: two organisations, a user per role in the first, an admin
    /// of the second, a key per member, a chain each, an audit entry each.
    struct World {
        var own: UInt64 = 0, other: UInt64 = 0
        var tokens: [String: String] = [:]
        var users: [String: UInt64] = [:]
        /// Keys by creator: "admin", "operator", "developer" (own organisation), "other".
        var keys: [String: UInt64] = [:]
        /// Webhooks by creator, like keys.
        var webhooks: [String: UInt64] = [:]
        /// An alert of each organisation ("own", "other").
        var alerts: [String: UInt64] = [:]
        var chains: [String: (id: UInt64, slug: String)] = [:]
        var auditBefore: UInt64 = 0
    }

    static func id(_ v: UInt64) -> String { OrgAdmin.idText(v) }

    final class Counter: @unchecked Sendable { var next: UInt64 = 1000 }

    static func world(_ node: ChainNode, _ counter: Counter) throws -> World {
        func apply(_ c: TenantCommand) throws {
            guard case .applied = node.propose(raw: c.encoded(), timeoutMillis: 5000) else { throw Failure("not applied: \(c)") }
        }
        var w = World()
        w.auditBefore = try node.stateMachine.tenantView { d, txn in try d.audit.last(txn)?.seq ?? 0 }
        w.own = UInt64.random(in: 2...UInt64.max)
        w.other = UInt64.random(in: 2...UInt64.max)
        try apply(.createOrganisation(Organisation(id: w.own, name: "own-\(w.own)", createdMillis: 1)))
        try apply(.createOrganisation(Organisation(id: w.other, name: "other-\(w.other)", createdMillis: 1)))
        for (who, org, role) in [("cluster admin", UInt64(0), Role.admin), ("admin", w.own, .admin), ("operator", w.own, .operator),
                                 ("developer", w.own, .developer), ("other", w.other, .admin)] {
            let token = "ist_test_\(who.replacingOccurrences(of: " ", with: "_"))_\(UInt64.random(in: 0...UInt64.max))"
            let user = UInt64.random(in: 2...UInt64.max)
            try apply(.createUser(User(id: user, name: who, tokenHash: SHA256.hash(Array(token.utf8)), clusterAdmin: org == 0, createdMillis: 1)))
            if org != 0 { try apply(.setMember(org: org, user: user, role: role)) }
            w.tokens[who] = token
            w.users[who] = user
            guard org != 0 else { continue }
            let key = UInt64.random(in: 2...UInt64.max)
            try apply(.createKey(APIKeyRecord(id: key, org: org, name: "key of \(who)", secretHash: SHA256.hash(Array("secret-\(key)".utf8)),
                                              createdBy: user, createdMillis: 1)))
            w.keys[who] = key
            let hook = UInt64.random(in: 2...UInt64.max)
            let chain = org == w.own ? UInt64(1) : 2
            guard case .applied = node.propose(raw: WebhookCommand.create(Webhook(id: hook, org: org, chainId: chain, name: "hook of \(who)", url: "http://127.0.0.1:9/",
                                                                                 event: .newBlock, secret: StandardWebhooks.newSecret(), createdBy: user, createdMillis: 1)).encoded(),
                                               timeoutMillis: 5000) else { throw Failure("webhook not created") }
            w.webhooks[who] = hook
        }
        for (side, org) in [("own", w.own), ("other", w.other)] {
            counter.next += 1
            let chain = counter.next, slug = "chain-\(chain)"
            guard case .applied = node.propose(raw: ChainRegistryCommand.put(ChainSpec(chainId: chain, slug: slug, settings: Array("{}".utf8))).encoded(), timeoutMillis: 5000) else {
                throw Failure("chain not added")
            }
            try apply(.assignChain(chainId: chain, org: org))
            try apply(.audit(AuditEntry(atMillis: 1, actor: "seed", role: "admin", org: org, action: "seed \(side)", outcome: 200, source: "test", requestId: "seed")))
            w.chains[side] = (chain, slug)
            let alert = UInt64.random(in: 2...UInt64.max)
            let rule = AlertRule(id: alert, org: org, name: "alert of \(side)", condition: AlertCondition(metric: .lagSeconds, threshold: 30),
                                 channels: [AlertChannel(kind: .webhook, url: "http://127.0.0.1:9/")], secret: StandardWebhooks.newSecret())
            guard case .applied = node.propose(raw: AlertCommand.create(rule).encoded(), timeoutMillis: 5000) else { throw Failure("alert not created") }
            w.alerts[side] = alert
        }
        return w
    }

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    /// The request for `row` on the `side` organisation's objects; `key` names whose key.
    static func request(_ row: Row, _ w: World, side: String, key: String, token: String) -> HTTPRequest {
        let org = side == "own" ? w.own : w.other
        let chain = w.chains[side]!
        var target = row.target
            .replacingOccurrences(of: "{org}", with: id(org))
            .replacingOccurrences(of: "{key}", with: id(w.keys[key]!))
            .replacingOccurrences(of: "{webhook}", with: id(w.webhooks[key]!))
            .replacingOccurrences(of: "{alert}", with: id(w.alerts[side]!))
            .replacingOccurrences(of: "{member}", with: id(w.users[side == "own" ? "developer" : "other"]!))
            .replacingOccurrences(of: "{chain}", with: String(chain.id))
            .replacingOccurrences(of: "{slug}", with: chain.slug)
            .replacingOccurrences(of: "{user}", with: id(w.users["developer"]!))
            .replacingOccurrences(of: "{node}", with: "99")
            .replacingOccurrences(of: "{name}", with: "x")
        if row.target.hasPrefix("/v1/audit") && !row.target.hasSuffix("verify") {
            target += (target.contains("?") ? "&" : "?") + "after=\(w.auditBefore)&limit=1000"
        }
        if row.target == "/v1/orgs" { target += "?limit=500" }
        let n = UInt64.random(in: 0...UInt64.max)
        let chainBody = #"{"slug":"\#(chain.slug)","chainId":\#(chain.id),"adapter":"ethereum","upstreams":["http://127.0.0.1:1"]}"#
        let body: String
        switch (row.method, row.target) {
        case ("POST", "/v1/orgs"): body = #"{"name":"new-\#(n)"}"#
        case ("PUT", "/v1/orgs/{org}/config"): body = #"{"rpc":{}}"#
        case ("POST", "/v1/orgs/{org}/members"): body = #"{"name":"new-\#(n)","role":"developer"}"#
        case ("PUT", "/v1/orgs/{org}/members/{member}"): body = #"{"role":"operator"}"#
        case ("POST", "/v1/api-keys"): body = #"{"org":"\#(id(org))","name":"new-\#(n)"}"#
        case ("POST", "/v1/webhooks"): body = #"{"org":"\#(id(org))","chain":\#(chain.id),"name":"new","url":"http://127.0.0.1:9/","event":"new_block"}"#
        case ("PATCH", "/v1/webhooks/{webhook}"): body = #"{"name":"renamed"}"#
        case ("POST", "/v1/alerts"): body = #"{"org":"\#(id(org))","name":"new","condition":"error_rate > 0.01","channels":[{"type":"webhook","url":"http://127.0.0.1:9/"}]}"#
        case ("POST", "/v1/users"): body = #"{"name":"new-\#(n)"}"#
        case ("POST", "/v1/cluster/chains"): body = #"{"slug":"new-\#(n % 100000)","chainId":\#(n % 1_000_000 + 2_000_000),"adapter":"ethereum","upstreams":["http://127.0.0.1:1"]}"#
        case ("PUT", "/v1/cluster/chains/{slug}"): body = chainBody
        case ("POST", "/v1/cluster/members"): body = #"{"id":1,"raft":"127.0.0.1:1","http":"http://127.0.0.1:2"}"#
        case ("PUT", "/v1/debug/kv/{name}"): body = "x"
        default: body = ""
        }
        return AdminAPITests.request(row.method, target, token: token, body: body)
    }

    /// Allowed: the handler ran (a 2xx, or a refusal of the request itself: bad body, conflict,
    /// an unreachable upstream), not a refusal of the caller.
    static func allowed(_ r: HTTPResponse) -> Bool { (200..<300).contains(r.status) || [400, 409, 422, 502].contains(r.status) }

    /// The ids a list answer names.
    static func listed(_ r: HTTPResponse) -> Set<String> {
        var items = [JSONValue]()
        if r.header("Content-Type") == "application/x-ndjson" {
            items = r.body.split(separator: UInt8(ascii: "\n")).compactMap { try? JSON.parse(Array($0)) }
        } else if let v = try? JSON.parse(r.body) {
            items = ["orgs", "keys", "chains", "entries", "webhooks"].flatMap { v[$0]?.arrayValue ?? [] }
        }
        var out = Set<String>()
        for item in items {
            for k in ["id", "slug", "org"] { if let s = item[k]?.stringValue { out.insert(s) } }
        }
        return out
    }

    @Test func everyCellOfTheREADMERoleTable() throws {
        let rows = try Self.table()
        #expect(rows.count >= 35, "the README's role table was not found or is short: \(rows.count) rows")
        for row in rows {
            #expect(AdminAPI.owns(row.method, String(row.target.prefix { $0 != "?" })), "\(row): not an admin route")
            #expect(row.cells.count == 4 && row.cells.allSatisfy { ["yes", "no", "own", "all", "theirs"].contains($0) }, "\(row): cells \(row.cells)")
        }
        let n = TestNode(id: 1, dir: temporaryDirectory("roles"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader && n.node.report.appliedIndex >= n.node.report.status.committed })
        let api = NodeAPI(node: n.node, config: AdminAPITests.config(1), peerStatus: { [:] })
        let counter = Counter()
        var cells = 0
        for row in rows {
            for (column, who) in Self.columns.enumerated() {
                let cell = row.cells[column]
                let w = try Self.world(n.node, counter)
                let token = w.tokens[who]!
                let where_ = "\(row) as \(who) (\(cell))"
                func call(_ side: String, key: String) -> HTTPResponse {
                    api.handle(Self.request(row, w, side: side, key: key, token: token))
                }
                // Whose key a "someone else's" case uses: another member of the own organisation.
                let othersKey = who == "admin" ? "developer" : "admin"
                let mine = who == "cluster admin" ? "admin" : who
                cells += 1
                if who == "cluster admin" {
                    #expect(cell == "yes" || cell == "all", "\(where_): cluster admins may do everything")
                    if row.scoped {
                        let r = call("other", key: "other")
                        #expect(Self.allowed(r), "\(where_), another organisation: \(r.status) \(AdminAPITests.error(r))")
                    }
                    let r = call("own", key: othersKey)
                    #expect(Self.allowed(r), "\(where_): \(r.status) \(AdminAPITests.error(r))")
                    if cell == "all" {
                        let seen = Self.listed(r)
                        if row.target.hasPrefix("/v1/api-keys") || row.target.hasPrefix("/v1/webhooks") {
                            let objects = row.target.hasPrefix("/v1/webhooks") ? w.webhooks : w.keys
                            #expect(["admin", "operator", "developer"].allSatisfy { seen.contains(Self.id(objects[$0]!)) }, "\(where_): every one of the organisation: \(seen)")
                        } else {
                            #expect(seen.contains(Self.id(w.other)) || seen.contains(w.chains["other"]!.slug), "\(where_): lists another organisation's too")
                        }
                    }
                    continue
                }
                if row.scoped {
                    let hidden = call("other", key: "other")
                    #expect(hidden.status == 404, "\(where_), another organisation's object: \(hidden.status) \(AdminAPITests.error(hidden)); a tenant never sees it")
                }
                switch cell {
                case "yes":
                    let r = call("own", key: othersKey)
                    #expect(Self.allowed(r), "\(where_): \(r.status) \(AdminAPITests.error(r))")
                case "no":
                    let r = call("own", key: othersKey)
                    #expect(r.status == 403 && !AdminAPITests.error(r).isEmpty, "\(where_): \(r.status) \(AdminAPITests.error(r))")
                case let c where c == "all" || c == "theirs" || (c == "own" && row.method == "GET" && !row.target.contains("{key}") && !row.target.contains("{webhook}")):
                    let r = call("own", key: othersKey)
                    #expect(r.status == 200, "\(where_): \(r.status) \(AdminAPITests.error(r))")
                    let seen = Self.listed(r)
                    let otherIds = [Self.id(w.other), w.chains["other"]!.slug, Self.id(w.keys["other"]!), Self.id(w.webhooks["other"]!)]
                    let objects = row.target.hasPrefix("/v1/webhooks") ? w.webhooks : w.keys
                    #expect(!otherIds.contains(where: seen.contains), "\(where_): another organisation's objects listed: \(seen)")
                    if cell == "own" {
                        #expect(seen.contains(Self.id(objects[mine]!)) && !seen.contains(Self.id(objects[othersKey]!)), "\(where_): only their own: \(seen)")
                    } else if cell == "all" {
                        #expect(["admin", "operator", "developer"].allSatisfy { seen.contains(Self.id(objects[$0]!)) }, "\(where_): every one of the organisation: \(seen)")
                    } else {
                        #expect(seen.contains(Self.id(w.own)) || seen.contains(w.chains["own"]!.slug), "\(where_): their organisation's objects: \(seen)")
                    }
                case "own":
                    let theirs = call("own", key: othersKey)
                    #expect(theirs.status == 403, "\(where_), another member's key: \(theirs.status) \(AdminAPITests.error(theirs))")
                    let r = call("own", key: mine)
                    #expect(Self.allowed(r), "\(where_), their own key: \(r.status) \(AdminAPITests.error(r))")
                default:
                    Issue.record("\(where_): unknown cell")
                }
            }
        }
        #expect(cells == rows.count * 4)
    }

    /// A member removed from their last organisation loses their token; one removed from one
    /// of two keeps it for the other; the last admin cannot be demoted by an admin.
    @Test func removedMembersAndTheLastAdmin() throws {
        let n = TestNode(id: 1, dir: temporaryDirectory("members"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        let api = NodeAPI(node: n.node, config: AdminAPITests.config(1), peerStatus: { [:] })
        func call(_ method: String, _ path: String, _ body: String = "", token: String = AdminAPITests.token) -> (Int, JSONValue) {
            let r = api.handle(AdminAPITests.request(method, path, token: token, body: body))
            return (r.status, (try? JSON.parse(r.body)) ?? .null)
        }
        let a = try #require(call("POST", "/v1/orgs", #"{"name":"a"}"#).1["id"]?.stringValue)
        let b = try #require(call("POST", "/v1/orgs", #"{"name":"b"}"#).1["id"]?.stringValue)
        let (s, alice) = call("POST", "/v1/orgs/\(a)/members", #"{"name":"alice","role":"admin"}"#)
        #expect(s == 201, "\(alice)")
        let aliceToken = try #require(alice["token"]?.stringValue), aliceId = try #require(alice["user"]?.stringValue)
        #expect(aliceToken.hasPrefix("ist_") && aliceToken.count == 68)
        #expect(call("GET", "/v1/me", token: aliceToken).1["memberships"]?.arrayValue?.count == 1)
        // Alice invites Bob into a; Bob is added to b by the cluster admin too.
        let (_, bob) = call("POST", "/v1/orgs/\(a)/members", #"{"name":"bob","role":"developer"}"#, token: aliceToken)
        let bobToken = try #require(bob["token"]?.stringValue), bobId = try #require(bob["user"]?.stringValue)
        #expect(call("POST", "/v1/orgs/\(a)/members", #"{"name":"Bob","role":"developer"}"#, token: aliceToken).0 == 409, "names are unique in an organisation")
        #expect(call("POST", "/v1/orgs/\(b)/members", "{\"user\":\"\(bobId)\",\"role\":\"operator\"}").0 == 201)
        #expect(call("POST", "/v1/orgs/\(b)/members", "{\"user\":\"\(bobId)\",\"role\":\"operator\"}", token: aliceToken).0 == 404, "alice does not see b")
        for (body, why) in [(#"{"name":"x"}"#, "role is required"), (#"{"name":"x","role":"owner"}"#, "role is required"), (#"{"role":"admin"}"#, "either name"),
                            (#"{"name":"x","user":"0000000000000001","role":"admin"}"#, "either name"), (#"{"name":"x","role":"admin","e":1}"#, "unknown field")] {
            let (st, e) = call("POST", "/v1/orgs/\(a)/members", body, token: aliceToken)
            #expect(st == 400 && e["error"]?.stringValue?.contains(why) == true, "\(body): \(st) \(e)")
        }
        // The last admin: alice cannot demote or remove herself; the cluster admin could.
        #expect(call("PUT", "/v1/orgs/\(a)/members/\(aliceId)", #"{"role":"developer"}"#, token: aliceToken).0 == 409)
        #expect(call("DELETE", "/v1/orgs/\(a)/members/\(aliceId)", token: aliceToken).0 == 409)
        // Bob leaves a but stays in b: his token still works there.
        #expect(call("DELETE", "/v1/orgs/\(a)/members/\(bobId)", token: aliceToken).0 == 200)
        #expect(call("GET", "/v1/orgs/\(a)", token: bobToken).0 == 404)
        #expect(call("GET", "/v1/orgs/\(b)", token: bobToken).0 == 200)
        // Removed from b too, he is no user any more: his token answers 401.
        #expect(call("DELETE", "/v1/orgs/\(b)/members/\(bobId)").0 == 200)
        let (gone, why) = call("GET", "/v1/me", token: bobToken)
        #expect(gone == 401 && why["error"]?.stringValue?.contains("not valid") == true, "\(gone) \(why)")
        // A new token replaces the old one at once.
        let (_, renewed) = call("POST", "/v1/me/token", token: aliceToken)
        let newToken = try #require(renewed["token"]?.stringValue)
        #expect(call("GET", "/v1/me", token: aliceToken).0 == 401)
        #expect(call("GET", "/v1/me", token: newToken).0 == 200)
    }

    /// The first leader creates one cluster-admin user and leaves its token in the data
    /// directory once, never in a log line; a second run finds the user and does nothing.
    @Test func bootstrapCreatesOneClusterAdmin() throws {
        let n = TestNode(id: 1, dir: temporaryDirectory("bootstrap"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        let dir = temporaryDirectory("bootstrap-data")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let sink = Logger.Sink(capture: true)
        let b = BootstrapAdmin(node: n.node, dataDir: dir, logger: Logger(component: "test", sink: sink))
        #expect(waitUntil { b.step() })
        let token = try #require(FileManager.default.contents(atPath: dir + "/" + BootstrapAdmin.fileName).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) })
        let mode = (try FileManager.default.attributesOfItem(atPath: dir + "/" + BootstrapAdmin.fileName)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(!sink.lines.joined().contains(token) && sink.lines.joined().contains("bootstrap_admin_created"), "the token never reaches the log")
        let api = NodeAPI(node: n.node, config: AdminAPITests.config(1, token: nil), peerStatus: { [:] })
        let me = api.handle(AdminAPITests.request("GET", "/v1/me", token: token))
        let meBody = try JSON.parse(me.body)
        #expect(me.status == 200 && meBody["clusterAdmin"] == .bool(true))
        #expect(api.handle(AdminAPITests.request("POST", "/v1/orgs", token: token, body: #"{"name":"first"}"#)).status == 201)
        try FileManager.default.removeItem(atPath: dir + "/" + BootstrapAdmin.fileName)
        #expect(b.step(), "a cluster with a user is done")
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + BootstrapAdmin.fileName))
        #expect(try n.node.stateMachine.tenantView { d, txn in try d.users(txn).count } == 1)
    }

    /// Every admin list pages alike: keys, users and members a page at a time, each once, in
    /// id order; a bad limit or cursor is refused.
    @Test func everyListPages() throws {
        let n = TestNode(id: 1, dir: temporaryDirectory("pages"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        var config = AdminAPITests.config(1)
        config.webhookPrivateDestinations = true
        let api = NodeAPI(node: n.node, config: config, peerStatus: { [:] })
        func call(_ method: String, _ path: String, _ body: String = "") -> (Int, JSONValue) {
            let r = api.handle(AdminAPITests.request(method, path, token: AdminAPITests.token, body: body))
            return (r.status, (try? JSON.parse(r.body)) ?? .null)
        }
        let org = try #require(call("POST", "/v1/orgs", #"{"name":"paged"}"#).1["id"]?.stringValue)
        for i in 0..<7 {
            #expect(call("POST", "/v1/api-keys", "{\"org\":\"\(org)\",\"name\":\"k\(i)\"}").0 == 201)
            #expect(call("POST", "/v1/orgs/\(org)/members", "{\"name\":\"m\(i)\",\"role\":\"developer\"}").0 == 201)
        }
        _ = n.node.propose(raw: ChainRegistryCommand.put(ChainSpec(chainId: 5, slug: "five", settings: Array("{}".utf8))).encoded(), timeoutMillis: 5000)
        #expect(call("PUT", "/v1/orgs/\(org)/chains/5").0 == 200)
        for i in 0..<7 {
            #expect(call("POST", "/v1/webhooks", "{\"org\":\"\(org)\",\"chain\":5,\"name\":\"w\(i)\",\"url\":\"http://127.0.0.1:9/\(i)\",\"event\":\"new_block\"}").0 == 201)
        }
        for (path, field, count) in [("/v1/api-keys?org=\(org)&", "keys", 7), ("/v1/orgs/\(org)/members?", "members", 7), ("/v1/users?", "users", 7),
                                     ("/v1/webhooks?org=\(org)&", "webhooks", 7)] {
            var seen = [String](), cursor: String? = nil, pages = 0
            repeat {
                let (s, page) = call("GET", path + "limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(s == 200, "\(path): \(page)")
                seen += (page[field]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue ?? $0["user"]?.stringValue }
                cursor = page["nextCursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen.count == count && Set(seen).count == count && seen == seen.sorted() && pages == 3, "\(path): \(seen) in \(pages) pages")
            #expect(call("GET", path + "limit=0").0 == 400 && call("GET", path + "cursor=zz").0 == 400)
        }
    }
}
