import Chain
@testable import Edge
import Foundation
import Net
import Tenancy
import Testing

/// The dashboard's data: who gets the cluster view, and the merge of the nodes' parts
/// (the leader's indexer, every node's applied head, the conditions it raises).
@Suite struct DashboardTests {
    @Test func theClusterViewNeedsAClusterAdminOrAnAdminOrOperatorRole() {
        let user = Principal(.user(id: 7), role: .member)
        let admin = DashboardAPI.view(AdminAccess(principal: Principal(.adminToken, role: .clusterAdmin)))
        #expect(admin.cluster && admin.organisations == nil, "cluster admins see the cluster and every chain")
        for (role, cluster) in [(Role.admin, true), (.operator, true), (.developer, false)] {
            let v = DashboardAPI.view(AdminAccess(principal: user, roles: [11: role]))
            #expect(v.cluster == cluster && v.organisations == [11], "\(role.name): cluster view \(cluster), own organisations' chains only")
        }
        let mixed = DashboardAPI.view(AdminAccess(principal: user, roles: [11: .developer, 12: .operator]))
        #expect(mixed.cluster && mixed.organisations == [11, 12])
        let nobody = DashboardAPI.view(AdminAccess(principal: user, roles: [:]))
        #expect(!nobody.cluster && nobody.organisations == [], "a user of no organisation sees nothing")
    }

    static func part(_ id: UInt64, role: String, applied: Int, head: Int?, indexer: JSONObject? = nil, alarms: [String] = [],
                     webhooksPaused: Int = 0, peersConnected: [UInt64: Bool] = [:]) -> JSONObject {
        var chain: JSONObject = ["chainId": .number("1337"), "slug": .string("dev"), "appliedHead": head.map { .number(String($0)) } ?? .null]
        if let indexer { chain["indexer"] = .object(indexer) }
        return ["node": .object(["id": .number(String(id)), "role": .string(role), "term": .number("4"), "appliedIndex": .number(String(applied)),
                                 "alarms": .array(alarms.map { .string($0) }),
                                 "peers": .array(peersConnected.map { .object(["id": .number(String($0.key)), "connected": .bool($0.value)]) })]),
                "chains": .array([.object(chain)]),
                "webhooks": .object(["active": .number("1"), "paused": .number(String(webhooksPaused))]),
                "rpc": .array([])]
    }

    static func conditions(_ o: JSONObject) -> [String] {
        (o["conditions"]?.arrayValue ?? []).compactMap { $0.objectValue?["condition"]?.stringValue }
    }

    @Test func mergeTakesTheLeadersIndexerAndEveryNodesHead() throws {
        let ix: JSONObject = ["stateKind": .string("following"), "state": .string("following"), "upstreamHead": .number("120"),
                              "indexedHead": .number("118"), "lagSeconds": .number("2.000"), "refusedBlocks": .number("0")]
        let full = DashboardAPI.View(cluster: true, organisations: nil)
        let o = DashboardAPI.merge(selfId: 1, Self.part(1, role: "follower", applied: 500, head: 117, peersConnected: [2: true, 3: false]),
                                   peers: [2: Self.part(2, role: "leader", applied: 502, head: 118, indexer: ix), 3: Self.part(3, role: "follower", applied: 502, head: 118)],
                                   full, nowMillis: 42)
        #expect(o["leaderId"] == .number("2") && o["servedBy"] == .number("1") && o["generatedAt"] == .number("42"))
        let nodes = (o["nodes"]?.arrayValue ?? []).compactMap { $0.objectValue }
        try #require(nodes.count == 3)
        #expect(nodes.map { $0["id"] } == [.number("1"), .number("2"), .number("3")])
        #expect(nodes[0]["lagEntries"] == .number("2") && nodes[0]["link"] == .string("self"))
        #expect(nodes[1]["link"] == .string("connected") && nodes[2]["link"] == .string("disconnected"), "links as the serving node sees them")
        let chains = (o["chains"]?.arrayValue ?? []).compactMap { $0.objectValue }
        try #require(chains.count == 1)
        let chain = chains[0]
        #expect(chain["indexer"]?.objectValue?["indexedHead"] == .number("118"), "the leader's indexer, not the serving follower's")
        #expect(chain["appliedHeads"] == .object(["1": .number("117"), "2": .number("118"), "3": .number("118")]))
        #expect(Self.conditions(o).isEmpty, "a healthy cluster: \(Self.conditions(o))")
    }

    @Test func mergeRaisesConditions() {
        let ix: JSONObject = ["stateKind": .string("halted"), "state": .string("halted: block 9 failed verification"),
                              "lagSeconds": .number("95.500"), "refusedBlocks": .number("1")]
        let full = DashboardAPI.View(cluster: true, organisations: nil)
        let o = DashboardAPI.merge(selfId: 1, Self.part(1, role: "leader", applied: 5000, head: 9, indexer: ix, webhooksPaused: 2),
                                   peers: [2: Self.part(2, role: "follower", applied: 3000, head: 9, alarms: ["NOSPACE: apply: ENOSPC"]), 3: nil],
                                   full, nowMillis: 1)
        #expect(Set(Self.conditions(o)) == ["node_unreachable", "node_alarm", "follower_lag", "refused_blocks", "indexer_halted", "lag_seconds", "webhooks_paused"],
                "\(Self.conditions(o))")
        let none = DashboardAPI.merge(selfId: 1, Self.part(1, role: "follower", applied: 1, head: nil), peers: [2: Self.part(2, role: "follower", applied: 1, head: nil)],
                                      full, nowMillis: 1)
        #expect(Self.conditions(none) == ["no_leader"])
        #expect(none["chains"]?.arrayValue?.first?.objectValue?["indexer"] == .null)
    }

    @Test func theOrganisationViewHasNoClusterParts() {
        let o = DashboardAPI.merge(selfId: 1, Self.part(1, role: "leader", applied: 1, head: 1), peers: [:],
                                   DashboardAPI.View(cluster: false, organisations: [11]), nowMillis: 1)
        #expect(o["view"] == .string("organisation"))
        #expect(o["nodes"] == nil && o["rpc"] == nil && o["webhooks"] == nil, "nodes, RPC and webhooks are the cluster view's")
        #expect(o["chains"]?.arrayValue?.count == 1)
    }

    @Test func thePageIsSelfContained() {
        let r = DashboardPage.response
        let html = String(decoding: r.body, as: UTF8.self)
        #expect(r.status == 200 && r.header("Content-Type") == "text/html; charset=utf-8")
        #expect(r.header("Content-Security-Policy")?.contains("default-src 'none'") == true && r.header("Content-Security-Policy")?.contains("connect-src 'self'") == true)
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").dropFirst().allSatisfy { $0.hasPrefix("www.w3.org/2000/svg") },
                "no external asset: the only URL is the SVG namespace")
        #expect(!html.contains("https://") && !html.contains("<link") && !html.contains("src=\""))
        #expect(html.contains("fetch(\"/v1/dashboard\""))
    }
}
