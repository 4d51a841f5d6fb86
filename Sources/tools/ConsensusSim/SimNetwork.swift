import Consensus

/// Messages in flight, bucketed by the tick they arrive at, plus the link matrices, the
/// messages held back by a fault, and a sample of old traffic that can be replayed.
struct SimNetwork {
    private var buckets: [[Message]]
    /// Held and replayed messages, kept apart so the simulation knows which arrivals are late.
    private var lateBuckets: [[Message]]
    private let horizon = 64
    var profile: NetworkProfile
    /// blockedAtDelivery[from * count + to]: the link loses everything arriving on it,
    /// including what was already in flight when the cut began.
    private(set) var blockedAtDelivery: [Bool]
    /// blockedAtSend[from * count + to]: the link refuses new messages, but what was in
    /// flight still arrives (a cut past the sender's socket buffer).
    private(set) var blockedAtSend: [Bool]
    let count: Int
    private(set) var sent = 0
    /// Messages captured by a hold fault, by the event holding them; released late, after
    /// heartbeat rounds and often terms have moved on.
    private var held: [Int: [Message]] = [:]
    /// A reservoir sample of everything sent, for replaying stale messages at any later
    /// point: a message from many terms ago must be harmless.
    private(set) var archive: [Message] = []
    private let archiveCapacity = 256
    private(set) var archiveSeen = 0
    /// Messages delivered late by a hold or replay fault.
    private(set) var staleDelivered = 0

    init(count: Int, profile: NetworkProfile) {
        self.count = count
        self.profile = profile
        buckets = Array(repeating: [], count: horizon)
        lateBuckets = Array(repeating: [], count: horizon)
        blockedAtDelivery = Array(repeating: false, count: count * count)
        blockedAtSend = Array(repeating: false, count: count * count)
    }

    mutating func setBlocked(atDelivery: [Bool], atSend: [Bool]) {
        precondition(atDelivery.count == count * count && atSend.count == count * count, "link matrices are count × count")
        blockedAtDelivery = atDelivery
        blockedAtSend = atSend
    }

    func isBlocked(from: NodeID, to: NodeID) -> Bool {
        blockedAtDelivery[Int(from - 1) * count + Int(to - 1)]
    }

    func isRefused(from: NodeID, to: NodeID) -> Bool {
        blockedAtSend[Int(from - 1) * count + Int(to - 1)]
    }

    /// Queue a message sent during `tick`; it may be refused at the sender, captured by a
    /// hold, dropped, duplicated or delayed. `holder` names the hold event capturing the
    /// link, if any.
    mutating func send(_ message: Message, at tick: Int, holder: Int?, rng: inout SplitMix64) {
        sent += 1
        archiveSample(message, rng: &rng)
        if isRefused(from: message.from, to: message.to) { return }
        if let holder {
            held[holder, default: []].append(message)
            return
        }
        if profile.dropPercent > 0 && rng.chance(profile.dropPercent, in: 100) { return }
        enqueue(message, at: tick, rng: &rng)
        if profile.duplicatePercent > 0 && rng.chance(profile.duplicatePercent, in: 100) {
            enqueue(message, at: tick, rng: &rng)
        }
    }

    private mutating func archiveSample(_ message: Message, rng: inout SplitMix64) {
        archiveSeen += 1
        if archive.count < archiveCapacity {
            archive.append(message)
        } else {
            let slot = rng.below(archiveSeen)
            if slot < archiveCapacity { archive[slot] = message }
        }
    }

    private mutating func enqueue(_ message: Message, at tick: Int, rng: inout SplitMix64) {
        var delay = 1 + (profile.maxDelay > 1 ? rng.below(profile.maxDelay) : 0)
        if profile.spikePercent > 0 && rng.chance(profile.spikePercent, in: 100) { delay += 5 + rng.below(40) }
        buckets[(tick + delay) % horizon].append(message)
    }

    /// Put `message` on the wire to arrive `delay` ticks after `tick`, bypassing loss: the
    /// late delivery of a held or replayed message.
    private mutating func deliverLate(_ message: Message, at tick: Int, delay: Int) {
        precondition(delay >= 1 && delay < horizon, "late delivery within the horizon")
        staleDelivered += 1
        lateBuckets[(tick + delay) % horizon].append(message)
    }

    /// Release what hold event `holder` captured, spread over the next few ticks in a
    /// shuffled order. Returns how many messages it held.
    @discardableResult
    mutating func release(holder: Int, at tick: Int, rng: inout SplitMix64) -> Int {
        guard let messages = held.removeValue(forKey: holder) else { return 0 }
        for message in messages { deliverLate(message, at: tick, delay: 1 + rng.below(20)) }
        return messages.count
    }

    /// Re-deliver `count` messages picked at random from the archive of old traffic.
    mutating func replayArchived(_ count: Int, at tick: Int, rng: inout SplitMix64) -> Int {
        guard !archive.isEmpty else { return 0 }
        for _ in 0..<count { deliverLate(archive[rng.below(archive.count)], at: tick, delay: 1 + rng.below(10)) }
        return count
    }

    /// Messages arriving at `tick`, in a shuffled order, each marked when it arrives late
    /// (held or replayed); blocked links lose theirs.
    mutating func deliveries(at tick: Int, rng: inout SplitMix64) -> [(message: Message, late: Bool)] {
        let slot = tick % horizon
        var arriving: [(message: Message, late: Bool)] = []
        arriving.reserveCapacity(buckets[slot].count + lateBuckets[slot].count)
        for message in buckets[slot] { arriving.append((message, false)) }
        for message in lateBuckets[slot] { arriving.append((message, true)) }
        buckets[slot].removeAll(keepingCapacity: true)
        lateBuckets[slot].removeAll(keepingCapacity: true)
        if arriving.count > 1 {
            for i in stride(from: arriving.count - 1, to: 0, by: -1) {
                arriving.swapAt(i, rng.below(i + 1))
            }
        }
        return arriving
    }
}
