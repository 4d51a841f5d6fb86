import ByteCodec
import Foundation
import Storage
import Testing
import TestSupport
@testable import Webhooks

/// The webhook tables against a model: random commands over a few webhooks; after each,
/// the skip happens exactly where the model says and every read equals the model's.
@Suite struct WebhookDirectoryTests {
    struct Model {
        var hooks: [UInt64: Webhook] = [:]
        var cursors: [UInt64: WebhookCursor] = [:]
        var attempts: [UInt64: [DeliveryAttempt]] = [:]

        mutating func apply(_ c: WebhookCommand) -> Bool {
            switch c {
            case .create(let h):
                guard h.id != 0, WebhookDirectory.problem(h) == nil, hooks[h.id] == nil else { return true }
                hooks[h.id] = h
            case .update(let h):
                guard var s = hooks[h.id] else { return true }
                s.name = h.name; s.url = h.url; s.filter = h.filter; s.confirmations = h.confirmations
                s.batchMaxEvents = h.batchMaxEvents; s.batchMaxMillis = h.batchMaxMillis; s.format = h.format
                guard WebhookDirectory.problem(s) == nil else { return true }
                hooks[h.id] = s
            case .delete(let id):
                guard hooks[id] != nil else { return true }
                hooks[id] = nil; cursors[id] = nil; attempts[id] = nil
            case .rotateSecret(let id, let secret, let until):
                guard var h = hooks[id], secret != h.secret else { return true }
                h.previousSecret = h.secret; h.previousValidUntilMillis = until; h.secret = secret
                guard WebhookDirectory.problem(h) == nil else { return true }
                hooks[id] = h
            case .setPaused(let id, let paused, let reason):
                guard hooks[id] != nil else { return true }
                hooks[id]!.paused = paused
                hooks[id]!.pausedReason = paused ? String(reason.prefix(512)) : ""
            case .advance(let list, let replay):
                var moved = 0
                for var c in list where hooks[c.webhook] != nil {
                    let cur = cursors[c.webhook]
                    if replay {
                        c.generation = (cur?.generation ?? 0) + 1
                        c.epoch = 0
                    } else if let cur, cur.generation != c.generation || cur.epoch > c.epoch {
                        continue
                    }
                    cursors[c.webhook] = c
                    moved += 1
                }
                return moved == 0 && !list.isEmpty
            case .attempts(let list):
                for a in list where hooks[a.webhook] != nil {
                    attempts[a.webhook, default: []].append(a)
                    attempts[a.webhook] = Array(attempts[a.webhook]!.suffix(WebhookDirectory.keptAttempts))
                }
            }
            return false
        }
    }

    static func random(_ rng: inout SeededRandom) -> WebhookCommand {
        func id() -> UInt64 { UInt64.random(in: 0...4, using: &rng) }
        let secrets = ["whsec_QUJD", "whsec_REVG", "nope", "whsec_R0hJ"]
        func hook() -> Webhook {
            var h = Webhook(id: id(), org: 7, chainId: 1, name: ["a", "", "hook", "x\u{1}"].randomElement(using: &rng)!,
                            url: ["http://r.example/", "", "https://x.example/h"].randomElement(using: &rng)!,
                            event: WebhookEvent.allCases.randomElement(using: &rng)!, filter: Array("{\"n\":\(id())}".utf8),
                            confirmations: [.latest, .depth(3), .safe, .finalized].randomElement(using: &rng)!,
                            batchMaxEvents: [1, 50, 0].randomElement(using: &rng)!, batchMaxMillis: [0, 500].randomElement(using: &rng)!,
                            format: WebhookFormat.allCases.randomElement(using: &rng)!, secret: secrets.randomElement(using: &rng)!,
                            createdBy: 3, createdMillis: 9)
            if Bool.random(using: &rng) { h.paused = true }
            return h
        }
        switch Int.random(in: 0..<10, using: &rng) {
        case 0, 1: return .create(hook())
        case 2: return .update(hook())
        case 3: return .delete(id: id())
        case 4: return .rotateSecret(id: id(), secret: secrets.randomElement(using: &rng)!, previousValidUntilMillis: 77)
        case 5: return .setPaused(id: id(), paused: Bool.random(using: &rng), reason: "r")
        case 6, 7:
            let list = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                WebhookCursor(webhook: id(), at: StreamPoint(block: UInt64.random(in: 0...20, using: &rng), hash: [UInt8](repeating: UInt8.random(in: 0...9, using: &rng), count: 32),
                                                held: [0, 3, StreamPoint.whole].randomElement(using: &rng)!),
                              sending: Bool.random(using: &rng) ? nil : StreamPoint(block: 21, hash: [1, 2], held: 1),
                              generation: UInt32.random(in: 0...2, using: &rng), epoch: UInt64.random(in: 0...3, using: &rng))
            }
            return .advance(list, replay: Int.random(in: 0..<4, using: &rng) == 0)
        default:
            return .attempts((0..<Int.random(in: 0...40, using: &rng)).map { i in
                DeliveryAttempt(webhook: id(), atMillis: UInt64(i), firstEvent: "evt_\(i)", events: 1, status: [200, 500, 0].randomElement(using: &rng)!,
                                latencyMillis: 5, error: "", node: 1)
            })
        }
    }

    @Test func agreesWithTheModel() throws {
        let seed = SeededRandom.seed("WebhookDirectoryTests.agreesWithTheModel")
        var rng = SeededRandom(seed: seed)
        var skipped = 0, applied = 0
        for run in 0..<4 {
            let env = try Environment(path: NSTemporaryDirectory() + "webhooks-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let d = try WebhookDirectory(env: env)
            var m = Model()
            for step in 0..<400 {
                let c = Self.random(&rng)
                #expect(try WebhookCommand.decode(c.encoded()) == c, "seed \(seed): \(c) survives its codec")
                let outcome = try env.write { (txn: WriteTransaction) throws in try d.apply(c, in: txn) }
                let modelSkips = m.apply(c)
                if modelSkips { skipped += 1 } else { applied += 1 }
                guard (outcome.skipped != nil) == modelSkips else {
                    Issue.record("seed \(seed), run \(run), step \(step): \(c): directory skipped \(outcome.skipped ?? "no"), model \(modelSkips)")
                    return
                }
                try env.read { (txn: ReadTransaction) throws in
                    let where_ = "seed \(seed), run \(run), step \(step)"
                    #expect(try d.webhooks(txn) == m.hooks.values.sorted { $0.id < $1.id }, "\(where_): webhooks")
                    for id: UInt64 in 0...4 {
                        #expect(try d.cursor(id, txn) == m.cursors[id], "\(where_): cursor \(id)")
                        #expect(try d.attempts(id, txn) == (m.attempts[id] ?? []), "\(where_): attempts \(id)")
                    }
                }
            }
        }
        #expect(applied > 300 && skipped > 100, "seed \(seed): \(applied) applied, \(skipped) skipped")
    }
}

/// Standard Webhooks signatures: the specification's published example, two signatures
/// during a rotation, and refusals of anything altered. The Python reference checks real
/// deliveries in the multi-process tests.
@Suite struct StandardWebhooksTests {
    @Test func theSpecificationsExample() {
        let header = StandardWebhooks.signature(secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                                timestamp: 1614265330, body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func rotationSignsWithBothAndTamperingFails() {
        let (old, new) = (StandardWebhooks.newSecret(), StandardWebhooks.newSecret())
        #expect(old.hasPrefix("whsec_") && StandardWebhooks.key(old)?.count == 32 && old != new)
        let body = Array(#"{"type":"new_block"}"#.utf8)
        let header = StandardWebhooks.signature(secrets: [new, old], id: "evt_1", timestamp: 100, body: body)
        #expect(header.split(separator: " ").count == 2)
        #expect(StandardWebhooks.verify(header: header, secret: old, id: "evt_1", timestamp: 100, body: body))
        #expect(StandardWebhooks.verify(header: header, secret: new, id: "evt_1", timestamp: 100, body: body))
        #expect(!StandardWebhooks.verify(header: header, secret: StandardWebhooks.newSecret(), id: "evt_1", timestamp: 100, body: body))
        #expect(!StandardWebhooks.verify(header: header, secret: new, id: "evt_2", timestamp: 100, body: body))
        #expect(!StandardWebhooks.verify(header: header, secret: new, id: "evt_1", timestamp: 101, body: body))
        #expect(!StandardWebhooks.verify(header: header, secret: new, id: "evt_1", timestamp: 100, body: body + [0x20]))
        #expect(StandardWebhooks.key("whsec_") == nil && StandardWebhooks.key("sk_abc") == nil && StandardWebhooks.key("whsec_!!!") == nil)
    }
}
