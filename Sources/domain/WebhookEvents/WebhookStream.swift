import Chain
import ChainIndex
import Foundation
import Webhooks

/// One event as it goes out: where it comes from in the chain, its position among the
/// webhook's events of that block, and whether it is a retraction.
public struct StreamEvent: Equatable, Sendable {
    public var block: UInt64
    public var hash: Hash32
    public var index: UInt32
    public var removed: Bool
    public var data: JSONValue
    /// `data` serialized: made once per block for every webhook that sends it.
    public var json: [UInt8]
    public init(block: UInt64, hash: Hash32, index: UInt32, removed: Bool, data: JSONValue, json: [UInt8]? = nil) {
        self.block = block; self.hash = hash; self.index = index; self.removed = removed; self.data = data
        self.json = json ?? Array(JSON.serialize(data).utf8)
    }
}

/// A webhook's event stream over the chain index: from a delivery position (`WebhookCursor`)
/// to the next events and the position after them. Pure over one `ChainView`, so whichever
/// node delivers computes the same stream from the replicated position, and a failover or a
/// restart loses nothing but what was sent and not yet acknowledged in the log (sent again:
/// at least once, same ids).
///
/// Going forward the stream follows canonical blocks up to the webhook's tip (`latest`, N
/// blocks below it, or the chain's `safe` / `finalized` head). When the position's block is
/// no longer canonical, a reorg removed it: its events are sent again with `removed: true`,
/// newest first, from the block's content kept in `chain_orphans`, then its parent's, until
/// the position is back on the canonical chain; the new branch follows from there.
public enum WebhookStream {
    public struct Step: Equatable, Sendable {
        public var events: [StreamEvent]
        /// After the events (nil: the chain has no blocks yet, nothing to start from).
        public var position: WebhookCursor?
        /// What the receiver will not be sent, and why (retractions of blocks no longer kept).
        public var notes: [String]
    }

    /// Blocks' events already derived, shared by every webhook of a deliverer: a hundred
    /// webhooks of one chain with the same filter parse each block once, and a block with
    /// many events sent a few at a time is parsed once. Keyed by block hash, event and
    /// filter; the oldest entries go past `capacity`.
    public final class Cache: @unchecked Sendable {
        struct Key: Hashable { var hash: Hash32; var event: WebhookEvent; var filter: [UInt8] }
        typealias Derived = [(value: JSONValue, json: [UInt8])]
        private let lock = NSLock()
        private var events: [Key: Derived] = [:]
        private var order: [(key: Key, bytes: Int)] = []
        private var bytes = 0
        /// Serialized bytes kept at most (the parsed values take about as much again).
        let capacityBytes: Int
        public init(capacityBytes: Int = 32 << 20) {
            precondition(capacityBytes > 0, "a cache holds something")
            self.capacityBytes = capacityBytes
        }

        func events(_ hook: Webhook, _ matcher: EventMatcher, _ hash: Hash32, load: () throws -> BlockContent?) throws -> Derived? {
            let key = Key(hash: hash, event: hook.event, filter: hook.filter)
            lock.lock()
            if let hit = events[key] { lock.unlock(); return hit }
            lock.unlock()
            guard let c = try load() else { return nil }
            let derived: Derived = try matcher.events(in: c).map { ($0, Array(JSON.serialize($0).utf8)) }
            let size = derived.reduce(64) { $0 + $1.json.count }
            lock.lock()
            defer { lock.unlock() }
            if events.updateValue(derived, forKey: key) == nil {
                order.append((key, size))
                bytes += size
            }
            var drop = 0
            while bytes > capacityBytes, drop < order.count - 1 {
                events[order[drop].key] = nil
                bytes -= order[drop].bytes
                drop += 1
            }
            order.removeFirst(drop)
            assert(events.count == order.count, "every cached entry is in the order once")
            return derived
        }
    }

    /// The block up to which `hook` is delivered now, or nil (no such head yet).
    public static func tip(_ hook: Webhook, _ view: ChainView) throws -> UInt64? {
        switch hook.confirmations {
        case .latest: return try view.head(hook.chainId)?.number
        case .depth(let d):
            guard let n = try view.head(hook.chainId)?.number, n >= UInt64(d) else { return nil }
            return n - UInt64(d)
        case .safe: return try view.head(hook.chainId, .safe)?.number
        case .finalized: return try view.head(hook.chainId, .finalized)?.number
        }
    }

    /// Up to `maxEvents` events after `position`, looking at no more than `maxBlocks` blocks
    /// (so a filter that matches rarely still returns, with the position moved on).
    ///
    /// A position with `sending` (a batch was out when its deliverer stopped) first retracts
    /// what a reorg removed of that batch's branch, then goes on from `at`: the events from
    /// `at` that are still canonical go out again (the receiver deduplicates them by id), so
    /// nothing the receiver might hold is left unretracted and nothing it might lack is skipped.
    public static func next(_ hook: Webhook, _ matcher: EventMatcher, after position: WebhookCursor?, view: ChainView,
                            maxEvents: Int, maxBlocks: Int = 1000, cache: Cache) throws -> Step {
        precondition(maxEvents > 0 && maxBlocks > 0, "a step may return something")
        let cid = hook.chainId
        var step = Step(events: [], position: position, notes: [])
        func canonical(_ p: StreamPoint) throws -> Bool {
            p.hash.count == 32 ? try view.blockNumber(cid, hash: Hash32(unchecked: p.hash)) == p.block : false
        }
        /// Retracts from a point that left the chain, toward the canonical chain; nil when
        /// the point's block is not kept (the note says so).
        func retract(_ p: StreamPoint) throws -> StreamPoint? {
            guard p.hash.count == 32, let orphan = try view.orphan(cid, hash: Hash32(unchecked: p.hash)) else {
                step.notes.append("block \(p.block) (\(p.hash.count == 32 ? Hash32(unchecked: p.hash).hex : "no hash")) left the chain and is no longer kept; its events cannot be retracted")
                return nil
            }
            let all = try cache.events(hook, matcher, orphan.hash) { orphan } ?? []
            var held = min(p.held == StreamPoint.whole ? all.count : Int(p.held), all.count)
            while held > 0, step.events.count < maxEvents {
                held -= 1
                step.events.append(StreamEvent(block: orphan.number, hash: orphan.hash, index: UInt32(held), removed: true, data: retracted(all[held].value)))
            }
            if held > 0 { return StreamPoint(block: p.block, hash: p.hash, held: UInt32(held)) }
            precondition(orphan.number > 0, "block 0 has no parent, so no reorg removes it")
            return StreamPoint(block: orphan.number - 1, hash: orphan.parentHash.bytes)
        }
        /// Where the canonical chain continues for a point whose block is not kept.
        func resume(_ p: StreamPoint) throws -> StreamPoint? {
            let at = min(p.block, try view.head(cid)?.number ?? 0)
            return try view.blockHash(cid, number: at).map { StreamPoint(block: at, hash: $0.bytes) }
        }
        let begin = try position ?? start(hook, view)
        guard var pos = begin else { return step }
        step.position = pos
        var blocks = 0
        while step.events.count < maxEvents, blocks < maxBlocks {
            blocks += 1
            // A canonical `sending` stays until `at` reaches it on the same (canonical) chain:
            // should a reorg remove it before then, what the receiver might hold there is still
            // known, and retracted.
            if let s = pos.sending, pos.at.block > s.block || (pos.at.block == s.block && pos.at.held >= s.held), try canonical(s), try canonical(pos.at) {
                pos.sending = nil
                step.position = pos
                continue
            }
            // A step is all retractions or all new events, so its intent is one point (see `intent`).
            let sendingLeft = try pos.sending.map { try !canonical($0) } ?? false
            let retracting = try sendingLeft || !canonical(pos.at)
            if let last = step.events.last, last.removed != retracting { break }
            if sendingLeft, let s = pos.sending {
                pos.sending = try retract(s)
                step.position = pos
                continue
            }
            if !(try canonical(pos.at)) {
                guard let back = try retract(pos.at) ?? resume(pos.at) else { step.position = nil; return step }
                pos.at = back
                step.position = pos
                continue
            }
            guard let tip = try tip(hook, view), pos.at.block <= tip else { break }
            if pos.at.held != StreamPoint.whole {
                let hash = Hash32(unchecked: pos.at.hash), number = pos.at.block
                guard let all = try cache.events(hook, matcher, hash, load: { try view.content(cid, number: number, parts: matcher.parts) }) else { break }
                var held = Int(pos.at.held)
                while held < all.count, step.events.count < maxEvents {
                    step.events.append(StreamEvent(block: number, hash: hash, index: UInt32(held), removed: false, data: all[held].value, json: all[held].json))
                    held += 1
                }
                pos.at.held = held >= all.count ? StreamPoint.whole : UInt32(held)
                step.position = pos
                continue
            }
            guard pos.at.block < tip else { break }
            guard let next = try view.blockHash(cid, number: pos.at.block + 1) else {
                throw CorruptIndex(table: "chain_blocks", key: "chain \(cid) block \(pos.at.block + 1)", problem: "missing below the head \(tip)")
            }
            pos.at = StreamPoint(block: pos.at.block + 1, hash: next.bytes, held: 0)
            step.position = pos
        }
        return step
    }

    /// What the log must hold before a step's events are sent: every event the receiver might
    /// hold if the send is lost or half done. New events: they might have arrived, so the
    /// position after them (or a further one the receiver might hold already) is `sending`. Retractions: they might not have, so the position
    /// before them stands (a new deliverer sends them again; retracting an event twice is a
    /// no-op for the receiver).
    public static func intent(before: WebhookCursor, after: WebhookCursor, events: [StreamEvent]) -> WebhookCursor {
        precondition(events.allSatisfy { $0.removed == events.first?.removed }, "a step is all retractions or all new events")
        guard let first = events.first, !first.removed else { return before }
        var c = before
        // After new events a `sending` still set is canonical, like `at`: the further of the two.
        guard let s = after.sending, s.block > after.at.block || (s.block == after.at.block && s.held > after.at.held) else {
            c.sending = after.at
            return c
        }
        c.sending = s
        return c
    }

    /// Where a webhook with no position begins: before the first event of the earliest block.
    public static func start(_ hook: Webhook, _ view: ChainView) throws -> WebhookCursor? {
        guard let first = try view.head(hook.chainId, .earliest) else { return nil }
        return WebhookCursor(webhook: hook.id, at: StreamPoint(block: first.number, hash: first.hash.bytes, held: 0))
    }

    /// A retraction carries the event's data as first sent, with `removed` set where the
    /// chain's JSON has such a field (logs).
    static func retracted(_ data: JSONValue) -> JSONValue {
        guard var o = data.objectValue, o["removed"] != nil else { return data }
        o["removed"] = .bool(true)
        return .object(o)
    }
}
