import Chain
import Foundation
import Storage
import Testing
import TestSupport
import WebhookEvents
import Webhooks
@testable import ChainIndex

/// The webhook event stream over a chain index the model drives through blocks, reorgs,
/// refused commands and re-proposals, delivered to a model receiver a few events at a time,
/// with "failovers" that fall back to the last position written to the log. The receiver
/// applies what it gets (a retraction removes the event it names) and deduplicates by id, as
/// the README tells receivers to. Whatever happened, once the stream has caught up the
/// receiver holds exactly the events of the canonical chain, every retraction named an event
/// it had been sent with the same data, and nothing came twice without a failover.
@Suite struct WebhookStreamTests {
    static let runs = 24
    static let steps = 60

    struct Receiver {
        var live: [String: JSONValue] = [:]
        /// Every new event a step ever carried, delivered or lost on the way.
        var everSent: [String: JSONValue] = [:]
        var duplicates = 0, retractions = 0

        static func id(_ e: StreamEvent) -> String { "\(e.block)/\(e.hash.hex)/\(e.index)" }

        mutating func receive(_ e: StreamEvent, failedOver: Bool, _ context: String) {
            let id = Self.id(e)
            if e.removed {
                retractions += 1
                guard let original = everSent[id] else { Issue.record("a retraction of \(id), never sent: \(context)"); return }
                #expect(WebhookStreamTests.unremoved(e.data) == original, "a retraction carries its original's data: \(context)")
                if live.removeValue(forKey: id) == nil {
                    #expect(failedOver, "a retraction of \(id), already retracted, without a failover: \(context)")
                }
            } else {
                if live[id] != nil {
                    duplicates += 1
                    #expect(failedOver, "\(id) sent twice without a failover: \(context)")
                }
                live[id] = e.data
            }
        }
    }

    static func unremoved(_ v: JSONValue) -> JSONValue {
        guard var o = v.objectValue, o["removed"] != nil else { return v }
        o["removed"] = .bool(false)
        return .object(o)
    }

    /// The events the canonical chain holds for the hook, computed from the model alone.
    static func expected(_ model: ChainModel, _ event: WebhookEvent, watched: Set<String>) -> [String: JSONValue] {
        var out = [String: JSONValue]()
        for b in model.chain {
            let events: [JSONValue]
            switch event {
            case .newBlock: events = [b.hashesForm]
            case .contractEvent: events = b.logs.filter { watched.isEmpty || watched.contains($0["address"]!.stringValue!.lowercased()) }
            default: preconditionFailure("the model test covers new_block and contract_event")
            }
            for (i, e) in events.enumerated() { out["\(b.number)/\(b.hash.hex)/\(i)"] = e }
        }
        return out
    }

    @Test func theReceiverEndsWithExactlyTheCanonicalEvents() throws {
        let seed = SeededRandom.seed("WebhookStreamTests")
        var seeds = SeededRandom(seed: seed)
        var totals = (retractions: 0, duplicates: 0, events: 0)
        for run in 0..<Self.runs {
            let runSeed = seeds.next()
            var rng = SeededRandom(seed: runSeed ^ 0x5eed)
            let env = try Environment(path: NSTemporaryDirectory() + "stream-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let ix = try ChainIndex(env: env)
            var model = ChainModel(seed: runSeed)
            let event: WebhookEvent = run % 2 == 0 ? .newBlock : .contractEvent
            let watched: Set<String> = event == .contractEvent && run % 4 == 1 ? [model.addresses[0].hex, model.addresses[1].hex] : []
            let filter = watched.isEmpty ? "{}" : "{\"addresses\":[\(watched.sorted().map { "\"\($0)\"" }.joined(separator: ","))]}"
            let hook = Webhook(id: 5, org: 1, chainId: ChainModel.cid, name: "h", url: "http://r.example/", event: event, filter: Array(filter.utf8),
                               secret: "whsec_QUJD", createdBy: 1, createdMillis: 0)
            let matcher = try EventMatcher(event: event, filter: hook.filter)
            var receiver = Receiver()
            var position: WebhookCursor? = nil, logged: WebhookCursor? = nil
            var cache = WebhookStream.Cache()
            var failedOver = false
            /// One step: the intent goes to the "log" first; then the send arrives, or arrives and
            /// the deliverer dies, or dies before it arrives (both: a failover to the log).
            func deliver(_ context: String, maxEvents: Int, crashes: Bool) throws -> Int {
                let (before, step) = try ix.view { v in
                    (try position ?? WebhookStream.start(hook, v),
                     try WebhookStream.next(hook, matcher, after: position, view: v, maxEvents: maxEvents, maxBlocks: 7, cache: cache))
                }
                #expect(step.events.count <= maxEvents, "at most maxEvents: \(context)")
                #expect(step.notes.isEmpty, "every orphan is kept: \(step.notes), \(context)")
                guard let before, let after = step.position else { return 0 }
                if !step.events.isEmpty { logged = WebhookStream.intent(before: before, after: after, events: step.events) }
                for e in step.events where !e.removed { receiver.everSent[Receiver.id(e)] = e.data }
                let crash = crashes && !step.events.isEmpty && Int.random(in: 0..<6, using: &rng) == 0
                if !crash || Bool.random(using: &rng) { for e in step.events { receiver.receive(e, failedOver: failedOver, context) } }
                if crash {
                    position = logged
                    cache = WebhookStream.Cache()
                    failedOver = true
                    return 1
                }
                let moved = step.position != position
                position = step.position
                return step.events.count + (moved ? 1 : 0)
            }
            for s in 0..<Self.steps {
                let command = model.nextCommand()
                let context = "seed \(seed) (run \(run), step \(s))"
                _ = try env.write { txn in try ix.apply(command, in: txn) }
                _ = model.expect(command)
                for _ in 0..<Int.random(in: 0...3, using: &rng) { _ = try deliver(context, maxEvents: Int.random(in: 1...4, using: &rng), crashes: true) }
                // The acknowledged position reaches the log now and then (no batch is out). Re-sent
                // events are expected until the stream is past all a failover left to redo.
                if Bool.random(using: &rng) {
                    logged = position
                    if let p = position, p.sending == nil, try ix.view({ try $0.blockHash(ChainModel.cid, number: p.at.block) })?.bytes == p.at.hash { failedOver = false }
                }
            }
            // Catch up: every remaining event goes out.
            var rounds = 0
            while rounds < 10_000, try deliver("seed \(seed) (run \(run), catching up)", maxEvents: 3, crashes: false) > 0 { rounds += 1 }
            #expect(rounds < 10_000, "seed \(seed), run \(run): the stream catches up")
            let want = Self.expected(model, event, watched: watched)
            let extra = Set(receiver.live.keys).subtracting(want.keys), missing = Set(want.keys).subtracting(receiver.live.keys)
            #expect(extra.isEmpty && missing.isEmpty, "seed \(seed), run \(run): the receiver holds the canonical chain's events; extra \(extra.sorted()), missing \(missing.sorted())")
            for (id, data) in want where receiver.live[id] != data { Issue.record("seed \(seed), run \(run): \(id) holds other data than the chain's"); break }
            totals.retractions += receiver.retractions
            totals.duplicates += receiver.duplicates
            totals.events += receiver.everSent.count
        }
        #expect(totals.retractions > 0 && totals.duplicates > 0 && totals.events > 100,
                "seed \(seed): the runs exercise retractions (\(totals.retractions)), re-sends after failover (\(totals.duplicates)) and volume (\(totals.events))")
    }

    /// Confirmations hold events back: a depth keeps the last N blocks out; `finalized`
    /// follows the finalized head, so a rewind above it never needs a retraction.
    @Test func confirmationsHoldEventsBack() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "stream-conf-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let ix = try ChainIndex(env: env)
        var model = ChainModel(seed: 11)
        var parent = Hash32(unchecked: [UInt8](repeating: 7, count: 32))
        var blocks = [ChainModel.Block]()
        for n in UInt64(1)...10 {
            let b = model.makeBlock(n, parent: parent)
            blocks.append(b); parent = b.hash
        }
        _ = try env.write { txn in try ix.apply(.blocks(chainId: ChainModel.cid, blocks: blocks.map(\.payload), safe: 6, finalized: 4), in: txn) }
        func tipEvents(_ c: Confirmations) throws -> [UInt64] {
            var h = Webhook(id: 1, org: 1, chainId: ChainModel.cid, name: "h", url: "http://r/", event: .newBlock, secret: "whsec_QUJD", createdBy: 1, createdMillis: 0)
            h.confirmations = c
            var cache = WebhookStream.Cache()
            let m = try EventMatcher(event: .newBlock, filter: h.filter)
            return try ix.view { v in try WebhookStream.next(h, m, after: nil, view: v, maxEvents: 100, cache: cache) }.events.map(\.block)
        }
        #expect(try tipEvents(.latest) == Array(1...10))
        #expect(try tipEvents(.depth(3)) == Array(1...7))
        #expect(try tipEvents(.safe) == Array(1...6))
        #expect(try tipEvents(.finalized) == Array(1...4))
        #expect(try tipEvents(.depth(20)) == [])
    }

    /// A receiver holding a block that left the chain longer ago than orphans are kept is
    /// told (a note), and the stream resumes on the canonical chain instead of stopping.
    @Test func aPrunedOrphanIsANoteNotAStop() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "stream-lost-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let ix = try ChainIndex(env: env)
        var model = ChainModel(seed: 12)
        var parent = Hash32(unchecked: [UInt8](repeating: 7, count: 32))
        var blocks = [ChainModel.Block]()
        for n in UInt64(1)...5 {
            let b = model.makeBlock(n, parent: parent)
            blocks.append(b); parent = b.hash
        }
        _ = try env.write { txn in try ix.apply(.blocks(chainId: ChainModel.cid, blocks: blocks.map(\.payload), safe: nil, finalized: nil), in: txn) }
        let h = Webhook(id: 1, org: 1, chainId: ChainModel.cid, name: "h", url: "http://r/", event: .newBlock, secret: "whsec_QUJD", createdBy: 1, createdMillis: 0)
        let m = try EventMatcher(event: .newBlock, filter: h.filter)
        var cache = WebhookStream.Cache()
        let unknown = WebhookCursor(webhook: 1, at: StreamPoint(block: 4, hash: [UInt8](repeating: 9, count: 32)))
        let step = try ix.view { v in try WebhookStream.next(h, m, after: unknown, view: v, maxEvents: 10, cache: cache) }
        #expect(step.notes.count == 1 && step.notes[0].contains("no longer kept"))
        #expect(step.events.map(\.block) == [5] && step.events.allSatisfy { !$0.removed })
        // And a rewind keeps the removed block's content, which reads back as it was.
        let before = try ix.view { v in try v.content(ChainModel.cid, number: 5) }
        _ = try env.write { txn in try ix.apply(.rewind(chainId: ChainModel.cid, ancestor: 4, ancestorHash: blocks[3].hash), in: txn) }
        let kept = try ix.view { v in try v.orphan(ChainModel.cid, hash: blocks[4].hash) }
        #expect(kept != nil && kept == before)
    }
}
