@testable import StateMachine
@testable import Edge
@testable import NodeConfig
import Chain
import ChainIndex
import Dispatch
import Foundation
import Net
import Synchronization
import Telemetry
import Testing
import TestSupport
import Webhooks

/// The deliverer on a one-node cluster with a receiver on loopback: blocks go out signed and
/// in order, a reorg's removed blocks are retracted (newest first, same ids) before the new
/// branch, 500s and 429s are retried (Retry-After honoured) without losing or reordering
/// anything, a receiver that keeps failing pauses its webhook with the reason, and a replay
/// sends again from the block asked for. The receiver applies what it gets and must end with
/// exactly the chain's blocks.
@Suite(.serialized) struct WebhookDeliveryTests {
    final class Receiver: @unchecked Sendable {
        struct Got { var id: String; var type: String; var number: UInt64; var hash: String; var removed: Bool; var messageId: String }
        let lock = NSLock()
        var got: [Got] = []
        var answers: [(Int, [(String, String)])] = []
        var badSignatures = 0
        var secret = ""

        func handle(_ req: HTTPRequest) -> HTTPResponse {
            lock.lock(); defer { lock.unlock() }
            let id = req.header("webhook-id") ?? "", ts = UInt64(req.header("webhook-timestamp") ?? "") ?? 0
            if !StandardWebhooks.verify(header: req.header("webhook-signature") ?? "", secret: secret, id: id, timestamp: ts, body: req.body) { badSignatures += 1 }
            if !answers.isEmpty {
                let (status, headers) = answers.removeFirst()
                return HTTPResponse(status: status, headers: headers, body: Array("no".utf8))
            }
            guard let body = try? JSON.parse(req.body) else { return .text("ok") }
            for e in body["events"]?.arrayValue ?? [body] {
                guard let number = e["block"]?["number"].flatMap({ if case .number(let n) = $0 { return UInt64(n) } else { return nil } }) else { continue }
                got.append(Got(id: e["id"]?.stringValue ?? "", type: e["type"]?.stringValue ?? "", number: number, hash: e["block"]?["hash"]?.stringValue ?? "",
                               removed: e["removed"]?.boolValue ?? false, messageId: id))
            }
            return .text("ok")
        }

        var events: [Got] { lock.lock(); defer { lock.unlock() }; return got }
        func answer(_ list: [(Int, [(String, String)])]) { lock.lock(); answers += list; lock.unlock() }

        /// The blocks a receiver that applies retractions holds, in order, deduplicated by id.
        var held: [String] {
            var live = [String: (UInt64, String)]()
            for e in events { if e.removed { live[e.id] = nil } else { live[e.id] = (e.number, e.hash) } }
            return live.values.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    @Test func deliversInOrderThroughReorgsRetriesPausesAndReplays() throws {
        let n = TestNode(id: 1, dir: temporaryDirectory("webhook-delivery"), hub: LocalHub())
        try n.start(voters: [1])
        defer { n.stop() }
        #expect(waitUntil { n.node.report.status.role == .leader })
        let receiver = Receiver()
        let loop = try EventLoop(name: "receiver")
        loop.start()
        defer { loop.stop() }
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in receiver.handle(req) }
        server.start()
        defer { server.shutdown(timeoutMillis: 500) }
        var config = AdminAPITests.config(1)
        config.webhookPrivateDestinations = true
        let api = NodeAPI(node: n.node, config: config, peerStatus: { [:] })
        func call(_ method: String, _ path: String, _ body: String = "") -> (Int, JSONValue) {
            let r = api.handle(AdminAPITests.request(method, path, token: AdminAPITests.token, body: body))
            return (r.status, (try? JSON.parse(r.body)) ?? .null)
        }
        let chain = BranchingChain(chainId: 5, seed: SeededRandom.seed("WebhookDeliveryTests"))
        func apply(_ c: ChainCommand) { if case .applied = n.node.propose(raw: c.encoded(), timeoutMillis: 5000) {} else { Issue.record("a chain entry did not apply") } }
        let org = try #require(call("POST", "/v1/orgs", #"{"name":"acme"}"#).1["id"]?.stringValue)
        _ = n.node.propose(raw: ChainRegistryCommand.put(ChainSpec(chainId: 5, slug: "five", settings: Array("{}".utf8))).encoded(), timeoutMillis: 5000)
        #expect(call("PUT", "/v1/orgs/\(org)/chains/5").0 == 200)
        apply(chain.extend(3))
        let (s, created) = call("POST", "/v1/webhooks", #"{"org":"\#(org)","chain":5,"name":"blocks","url":"http://127.0.0.1:\#(server.address.port)/in","event":"new_block"}"#)
        #expect(s == 201, "\(created)")
        let id = try #require(created["id"]?.stringValue)
        receiver.secret = try #require(created["secret"]?.stringValue)
        #expect(created["cursor"]?["acknowledged"]?["block"] == .number("3"), "a new webhook starts after the head: \(created)")

        let deliverer = WebhookDeliverer(node: n.node, sender: WebhookSender(allowPrivate: true, timeoutMillis: 2000), nodeId: 1,
                                         logger: Logger(component: "test"), metrics: MetricsRegistry(), maxAttempts: 4, concurrency: 4)
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "ticks"))
        timer.schedule(deadline: .now(), repeating: .milliseconds(20))
        timer.setEventHandler { deliverer.tick(nowMillis: unixMillis()) }
        timer.resume()
        defer { timer.cancel() }

        // New blocks, in order, once each.
        apply(chain.extend(4))
        #expect(waitUntil { receiver.events.count >= 4 }, "\(receiver.events.map(\.number))")
        #expect(receiver.events.map(\.number) == [4, 5, 6, 7] && receiver.events.allSatisfy { !$0.removed && $0.type == "new_block" })
        #expect(Set(receiver.events.map(\.id)).count == 4 && receiver.badSignatures == 0)

        // A reorg: the removed blocks retracted newest first with their ids, then the new branch.
        let (rewind, _, branch) = chain.reorg(depth: 3)
        apply(rewind)
        apply(branch)
        let want = chain.current.filter { $0.number > 3 }.map(\.hash.hex)
        #expect(waitUntil { receiver.held == want }, "held \(receiver.held.count), want \(want.count)")
        let retractions = receiver.events.filter(\.removed)
        #expect(!retractions.isEmpty && retractions.map(\.number) == retractions.map(\.number).sorted(by: >), "newest first")
        let firstIds = Set(receiver.events.prefix(4).map(\.id))
        #expect(retractions.allSatisfy { firstIds.contains($0.id) }, "a retraction carries its original's id")
        #expect(receiver.events.lastIndex(where: \.removed)! < receiver.events.lastIndex(where: { !$0.removed })!, "retractions come before the new branch")

        // Failures are retried: two 500s and a 429 with Retry-After, then the block arrives, once.
        receiver.answer([(500, []), (429, [("Retry-After", "1")]), (503, [])])
        let before = receiver.events.count
        apply(chain.extend(1))
        #expect(waitUntil(timeoutSeconds: 30) { receiver.events.count == before + 1 })
        #expect(receiver.held == chain.current.filter { $0.number > 3 }.map(\.hash.hex))
        #expect(waitUntil {
            let statuses = call("GET", "/v1/webhooks/\(id)/deliveries").1["deliveries"]?.arrayValue?.compactMap { $0["status"] } ?? []
            return statuses.prefix(4) == [.number("200"), .number("503"), .number("429"), .number("500")]
        }, "the attempts are recorded, newest first: \(call("GET", "/v1/webhooks/\(id)/deliveries").1)")

        // A receiver that keeps failing pauses the webhook with the reason; the backlog waits.
        receiver.answer(Array(repeating: (500, []), count: 4))
        apply(chain.extend(2))
        #expect(waitUntil(timeoutSeconds: 30) { call("GET", "/v1/webhooks/\(id)").1["paused"] == .bool(true) })
        #expect(call("GET", "/v1/webhooks/\(id)").1["pausedReason"]?.stringValue?.contains("4 failed deliveries") == true)
        let whilePaused = receiver.events.count
        // Resumed: the backlog is delivered, nothing skipped.
        #expect(call("PATCH", "/v1/webhooks/\(id)", #"{"paused":false}"#).0 == 200)
        #expect(waitUntil { receiver.held == chain.current.filter { $0.number > 3 }.map(\.hash.hex) })
        #expect(receiver.events.count == whilePaused + 2)

        // A replay from block 2 sends blocks 2… again.
        let (rs, replayed) = call("POST", "/v1/webhooks/\(id)/replay?fromBlock=2")
        #expect(rs == 200, "\(replayed)")
        let head = chain.head.number
        #expect(waitUntil { receiver.events.suffix(Int(head) - 1).map(\.number) == Array(2...head) })
        #expect(call("POST", "/v1/webhooks/\(id)/replay?fromBlock=999").0 == 400)
        #expect(receiver.badSignatures == 0)
    }

    @Test func backoffGrowsWithJitterAndHonoursRetryAfter() {
        let low = { (r: ClosedRange<UInt64>) in r.lowerBound }, high = { (r: ClosedRange<UInt64>) in r.upperBound }
        #expect(WebhookDeliverer.backoff(failures: 1, retryAfterSeconds: nil, random: low) == 250)
        #expect(WebhookDeliverer.backoff(failures: 1, retryAfterSeconds: nil, random: high) == 500)
        #expect(WebhookDeliverer.backoff(failures: 4, retryAfterSeconds: nil, random: high) == 4000)
        #expect(WebhookDeliverer.backoff(failures: 40, retryAfterSeconds: nil, random: high) == WebhookDeliverer.maxBackoffMillis)
        #expect(WebhookDeliverer.backoff(failures: 1, retryAfterSeconds: 30, random: high) == 30_000)
        #expect(WebhookDeliverer.backoff(failures: 1, retryAfterSeconds: 999_999, random: high) == WebhookDeliverer.maxRetryAfterMillis)
    }

    /// An https:// receiver: its certificate is verified (a CA the sender does not trust is a
    /// clear refusal), and with the CA the delivery arrives signed.
    @Test func httpsReceiversAreVerified() throws {
        guard TestCA.available || References.required else { print("SKIP: needs /usr/bin/openssl"); return }
        let ca = try TestCA()
        let issued = try ca.issue("receiver", names: ["127.0.0.1"])
        var sc = TLSConfiguration(role: .server)
        sc.certificateFile = issued.cert
        sc.privateKeyFile = issued.key
        let loop = try EventLoop(name: "tls-receiver")
        loop.start()
        defer { loop.stop() }
        let got = Mutex<[HTTPRequest]>([])
        let server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop, handler: { req in
            got.withLock { $0.append(req) }
            return .text("ok")
        }, tls: try TLSContext(sc))
        server.start()
        defer { server.shutdown(timeoutMillis: 500) }
        let secret = StandardWebhooks.newSecret()
        let hook = Webhook(id: 9, org: 1, chainId: 5, name: "tls", url: "https://127.0.0.1:\(server.address.port)/in", event: .newBlock, secret: secret,
                           createdBy: 1, createdMillis: 0)
        let body = Array(#"{"type":"new_block"}"#.utf8)
        let untrusted = WebhookSender(allowPrivate: true).send(hook, id: "evt_1", body: body, nowMillis: unixMillis())
        #expect(!untrusted.ok && untrusted.status == 0 && untrusted.error.lowercased().contains("certificate"), "\(untrusted.error)")
        var trusting = WebhookSender(allowPrivate: true)
        var client = TLSConfiguration(role: .client)
        client.caFile = ca.caFile
        trusting.tls = client
        let r = trusting.send(hook, id: "evt_2", body: body, nowMillis: unixMillis())
        #expect(r.ok && r.status == 200, "\(r.error)")
        let req = try #require(got.withLock { $0.last })
        #expect(req.target == "/in" && req.body == body)
        #expect(StandardWebhooks.verify(header: req.header("webhook-signature") ?? "", secret: secret, id: "evt_2",
                                        timestamp: UInt64(req.header("webhook-timestamp") ?? "") ?? 0, body: body))
    }
}
