/// Append messages sent to one follower but not yet acknowledged, oldest first, used to
/// cap both their number and their bytes (flow control). Small fixed-capacity ring buffer.
struct Inflights {
    private var lastIndexes: [UInt64]
    private var sizes: [Int]
    private var start = 0
    private(set) var count = 0
    private(set) var bytes = 0
    let maxCount: Int
    let maxBytes: Int

    init(maxCount: Int, maxBytes: Int) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
        lastIndexes = Array(repeating: 0, count: maxCount)
        sizes = Array(repeating: 0, count: maxCount)
    }

    var isFull: Bool { count >= maxCount || bytes >= maxBytes }

    mutating func add(lastIndex: UInt64, bytes size: Int) {
        precondition(count < maxCount, "inflight window overflow")
        let slot = (start + count) % maxCount
        lastIndexes[slot] = lastIndex
        sizes[slot] = size
        count += 1
        bytes += size
    }

    /// Forget every message whose last entry is at or below `index` (acknowledged).
    mutating func free(through index: UInt64) {
        while count > 0 && lastIndexes[start] <= index {
            bytes -= sizes[start]
            start = (start + 1) % maxCount
            count -= 1
        }
    }

    mutating func reset() {
        start = 0
        count = 0
        bytes = 0
    }
}
