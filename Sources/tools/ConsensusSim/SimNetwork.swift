import Consensus

/// Messages in flight, bucketed by the tick they arrive at, plus the link matrix.
struct SimNetwork {
    private var buckets: [[Message]]
    private let horizon = 64
    var profile: NetworkProfile
    /// blocked[from * count + to]: the link from → to currently loses everything.
    private(set) var blocked: [Bool]
    let count: Int
    private(set) var sent = 0

    init(count: Int, profile: NetworkProfile) {
        self.count = count
        self.profile = profile
        buckets = Array(repeating: [], count: horizon)
        blocked = Array(repeating: false, count: count * count)
    }

    mutating func setBlocked(_ matrix: [Bool]) { blocked = matrix }

    func isBlocked(from: NodeID, to: NodeID) -> Bool {
        blocked[Int(from - 1) * count + Int(to - 1)]
    }

    /// Queue a message sent during `tick`; it may be dropped, duplicated or delayed.
    mutating func send(_ message: Message, at tick: Int, rng: inout SplitMix64) {
        sent += 1
        if profile.dropPercent > 0 && rng.chance(profile.dropPercent, in: 100) { return }
        enqueue(message, at: tick, rng: &rng)
        if profile.duplicatePercent > 0 && rng.chance(profile.duplicatePercent, in: 100) {
            enqueue(message, at: tick, rng: &rng)
        }
    }

    private mutating func enqueue(_ message: Message, at tick: Int, rng: inout SplitMix64) {
        var delay = 1 + (profile.maxDelay > 1 ? rng.below(profile.maxDelay) : 0)
        if profile.spikePercent > 0 && rng.chance(profile.spikePercent, in: 100) { delay += 5 + rng.below(40) }
        buckets[(tick + delay) % horizon].append(message)
    }

    /// Messages arriving at `tick`, in a shuffled order; blocked links lose theirs.
    mutating func deliveries(at tick: Int, rng: inout SplitMix64) -> [Message] {
        var arriving = buckets[tick % horizon]
        buckets[tick % horizon].removeAll(keepingCapacity: true)
        if arriving.count > 1 {
            for i in stride(from: arriving.count - 1, to: 0, by: -1) {
                arriving.swapAt(i, rng.below(i + 1))
            }
        }
        return arriving
    }
}
