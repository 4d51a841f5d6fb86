@testable import StateMachine
@testable import Edge
@testable import NodeConfig
import Chain
import ChainIndex
import Foundation
import Net
import Synchronization
import Tenancy
import Testing
import TestSupport
import WebhookEvents
import Webhooks

/// `/v1/webhooks`: created through the log with a secret shown once, the test delivery
/// signed per Standard Webhooks (checked by the receiver), recorded among the deliveries,
/// the secret rotated (both sign in the grace period), and bad input refused with why —
/// private destinations included unless the node allows them.
@Suite(.serialized) struct WebhookAdminTests {
    @Test func createTestRotateAndRefuse() throws {
        let n = TestNode(id: 1, dir: temporaryDirectory("webhooks"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        let loop = try EventLoop(name: "receiver")
        loop.start()
        defer { loop.stop() }
        let received = Mutex<[HTTPRequest]>([])
        let receiver = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in
            received.withLock { $0.append(req) }
            return .text("ok")
        }
        receiver.start()
        defer { receiver.shutdown(timeoutMillis: 500) }
        var config = AdminAPITests.config(1)
        config.webhookPrivateDestinations = true
        let api = NodeAPI(node: n.node, config: config, peerStatus: { [:] })
        func call(_ method: String, _ path: String, _ body: String = "") -> (Int, JSONValue) {
            let r = api.handle(AdminAPITests.request(method, path, token: AdminAPITests.token, body: body))
            return (r.status, (try? JSON.parse(r.body)) ?? .null)
        }
        let org = try #require(call("POST", "/v1/orgs", #"{"name":"acme"}"#).1["id"]?.stringValue)
        _ = n.node.propose(raw: ChainRegistryCommand.put(ChainSpec(chainId: 5, slug: "five", settings: Array("{}".utf8))).encoded(), timeoutMillis: 5000)
        #expect(call("PUT", "/v1/orgs/\(org)/chains/5").0 == 200)
        let url = "http://127.0.0.1:\(receiver.address.port)/hook?token=abc"
        let (s, created) = call("POST", "/v1/webhooks", #"{"org":"\#(org)","chain":5,"name":"blocks","url":"\#(url)","event":"contract_event","filter":{"addresses":["0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"],"topics":[null]},"confirmations":"12"}"#)
        #expect(s == 201, "\(created)")
        let id = try #require(created["id"]?.stringValue), secret = try #require(created["secret"]?.stringValue)
        #expect(secret.hasPrefix("whsec_") && created["url"] == .string("http://127.0.0.1:\(receiver.address.port)/hook?…"), "the query is not shown")
        #expect(created["filter"]?["addresses"] == .array([.string("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")]) && created["confirmations"] == .string("12"))
        #expect(call("GET", "/v1/webhooks/\(id)").1["secret"] == nil, "the secret is shown once")
        #expect(call("GET", "/v1/webhooks?org=\(org)").1["webhooks"]?.arrayValue?.count == 1)

        // The test delivery, signed; the receiver's status and the attempt recorded.
        let (ts, tested) = call("POST", "/v1/webhooks/\(id)/test")
        #expect(ts == 200 && tested["status"] == .number("200"), "\(tested)")
        let got = try #require(received.withLock { $0.last })
        #expect(got.target == "/hook?token=abc")
        let (hid, hts, hsig) = (got.header("webhook-id") ?? "", UInt64(got.header("webhook-timestamp") ?? "") ?? 0, got.header("webhook-signature") ?? "")
        #expect(hid == tested["eventId"]?.stringValue && StandardWebhooks.verify(header: hsig, secret: secret, id: hid, timestamp: hts, body: got.body))
        #expect((try JSON.parse(got.body))["type"] == .string("webhook.test"))
        #expect(waitUntil { call("GET", "/v1/webhooks/\(id)/deliveries").1["deliveries"]?.arrayValue?.first?["status"] == .number("200") })

        // Rotation: both secrets sign until the grace period ends.
        let (rs, rotated) = call("POST", "/v1/webhooks/\(id)/rotate-secret", #"{"graceSeconds":60}"#)
        let newSecret = try #require(rotated["secret"]?.stringValue)
        #expect(rs == 200 && newSecret != secret)
        _ = call("POST", "/v1/webhooks/\(id)/test")
        let again = try #require(received.withLock { $0.last })
        for s in [secret, newSecret] {
            #expect(StandardWebhooks.verify(header: again.header("webhook-signature") ?? "", secret: s, id: again.header("webhook-id") ?? "",
                                            timestamp: UInt64(again.header("webhook-timestamp") ?? "") ?? 0, body: again.body))
        }
        // Changes and pausing.
        let (ps, patched) = call("PATCH", "/v1/webhooks/\(id)", #"{"name":"renamed","paused":true,"batch":{"maxEvents":50,"maxMillis":1000}}"#)
        #expect(ps == 200 && patched["name"] == .string("renamed") && patched["paused"] == .bool(true) && patched["batch"]?["maxEvents"] == .number("50"), "\(patched)")

        // Bad input: each refused with why, nothing created.
        let before = try n.node.stateMachine.webhookView { d, txn in try d.webhooks(txn).count }
        for (body, why) in [(#"{"org":"\#(org)","chain":5,"name":"x","url":"ftp://x","event":"new_block"}"#, "http:// or https://"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_tx","filter":{"from":"0x12"}}"#, "from must be an address"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_block","filter":{"a":1}}"#, "takes no filter fields"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"contract_event","filter":{"abi":"Transfer(adress a)"}}"#, "not a Solidity type"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"state_change"}"#, "addresses is required"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"boom"}"#, "event is required"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_block","confirmations":"soon"}"#, "confirmations must be"),
                            (#"{"org":"\#(org)","chain":6,"name":"x","url":"http://x.example","event":"new_block"}"#, "owns no chain 6"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_block","extra":1}"#, "unknown field"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_block","batch":{"maxEvents":20000}}"#, "batch.maxEvents must be 1 to 10000"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_block","format":"pagerduty"}"#, "routing key"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example/?routing_key=abc","event":"new_block","format":"pagerduty","batch":{"maxEvents":5}}"#, "maxEvents must be 1"),
                            (#"{"org":"\#(org)","chain":5,"name":"x","url":"http://x.example","event":"new_block","format":"teams"}"#, "format must be")] {
            let (st, e) = call("POST", "/v1/webhooks", body)
            #expect([400, 404].contains(st) && e["error"]?.stringValue?.contains(why) == true, "\(body): \(st) \(e)")
        }
        // Without the node's permission, private destinations are refused.
        let strict = NodeAPI(node: n.node, config: AdminAPITests.config(1), peerStatus: { [:] })
        let ssrf = strict.handle(AdminAPITests.request("POST", "/v1/webhooks", token: AdminAPITests.token,
                                                       body: #"{"org":"\#(org)","chain":5,"name":"x","url":"http://169.254.169.254/latest","event":"new_block"}"#))
        #expect(ssrf.status == 400 && AdminAPITests.error(ssrf).contains("private network"), "\(AdminAPITests.error(ssrf))")
        let nowhere = strict.handle(AdminAPITests.request("POST", "/v1/webhooks", token: AdminAPITests.token,
                                                          body: #"{"org":"\#(org)","chain":5,"name":"x","url":"http://no-such-host.invalid/in","event":"new_block"}"#))
        #expect(nowhere.status == 400 && AdminAPITests.error(nowhere).contains("url:"), "an unresolvable host: \(AdminAPITests.error(nowhere))")
        #expect(try n.node.stateMachine.webhookView { d, txn in try d.webhooks(txn).count } == before, "refusals create nothing")
        #expect(call("DELETE", "/v1/webhooks/\(id)").0 == 200 && call("GET", "/v1/webhooks/\(id)").0 == 404)
    }

    /// The Slack and PagerDuty bodies in their documented shapes: Slack's incoming webhook
    /// takes `{"text"}`; a PagerDuty Events API v2 alert needs `routing_key`, `event_action`
    /// (trigger | acknowledge | resolve), a `dedup_key` of at most 255 characters and, to
    /// trigger, `payload` with `summary` (at most 1,024), `source` and `severity` (critical |
    /// error | warning | info). A retraction resolves the alert its event triggered.
    @Test func slackAndPagerDutyBodies() throws {
        let block = Hash32(unchecked: [UInt8](repeating: 0xab, count: 32))
        let event = StreamEvent(block: 12, hash: block, index: 0, removed: false, data: .object(["hash": .string(block.hex)]))
        var hook = Webhook(id: 0x1234, org: 1, chainId: 5, name: "alerts", url: "https://hooks.slack.com/services/T/B/X", event: .newBlock, secret: "whsec_QUJD",
                           createdBy: 1, createdMillis: 0)
        hook.format = .slack
        let slack = try JSON.parse(WebhookPayload.body(hook, Array(repeating: event, count: 25)))
        #expect(slack.objectValue?.keys == ["text"], "\(slack)")
        let text = try #require(slack["text"]?.stringValue)
        #expect(text.contains("block 12") && text.contains("and 5 more") && text.utf8.count < 40_000)
        hook.format = .pagerDuty
        hook.url = "https://events.pagerduty.com/v2/enqueue?routing_key=R0ut1ngKey"
        let trigger = try JSON.parse(WebhookPayload.body(hook, [event]))
        var retracted = event
        retracted.removed = true
        let resolve = try JSON.parse(WebhookPayload.body(hook, [retracted]))
        for (body, action) in [(trigger, "trigger"), (resolve, "resolve")] {
            #expect(body["routing_key"] == .string("R0ut1ngKey") && body["event_action"] == .string(action))
            let dedup = try #require(body["dedup_key"]?.stringValue)
            #expect(!dedup.isEmpty && dedup.count <= 255)
            let p = try #require(body["payload"]?.objectValue)
            #expect((1...1024).contains(p["summary"]?.stringValue?.count ?? 0) && p["source"]?.stringValue?.isEmpty == false)
            #expect(["critical", "error", "warning", "info"].contains(p["severity"]?.stringValue ?? ""))
        }
        #expect(trigger["dedup_key"] == resolve["dedup_key"], "the retraction resolves the alert its event raised")
        hook.format = .json
        hook.batchMaxEvents = 10
        let batch = try JSON.parse(WebhookPayload.body(hook, [event, event]))
        #expect(batch["type"] == .string("batch") && batch["events"]?.arrayValue?.count == 2)
        for e in [event, retracted] {
            #expect(try JSON.parse(WebhookPayload.envelopeBytes(hook, e)) == WebhookPayload.envelope(hook, e), "the spliced envelope is the envelope")
        }
        #expect(WebhookPayload.messageId(hook, [event]) != WebhookPayload.messageId(hook, [event, event]), "a message id names its events")
    }
}
