import Chain
import Dispatch
import ChainIndex
import Synchronization

/// Takes a node's chain events off the apply thread onto a serial queue of its own, each
/// batch numbered when it was published. A reader that registers a filter or subscription
/// notes `published` then, and ignores batches numbered at or below it: events still
/// waiting in the queue describe blocks applied before the reader existed.
final class ChainEventQueue: Sendable {
    typealias Consumer = @Sendable (_ events: [ChainEvent], _ sequence: UInt64) -> Void
    private let counter = Atomic<UInt64>(0)
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    /// Starts taking the feed's events (once, after the owner is fully built).
    func start(_ feed: ChainFeed?, consume: @escaping Consumer) {
        let queue = self.queue
        feed?.subscribe { [weak self] events in
            guard let seq = self?.counter.add(1, ordering: .relaxed).newValue else { return }
            queue.async { consume(events, seq) }
        }
    }

    /// The number of the latest batch published so far.
    var published: UInt64 { counter.load(ordering: .relaxed) }

    /// The logs of an applied block as the index holds them now: none when a later rewind
    /// has already replaced that block (the rewind's own events follow).
    static func logs(ofApplied n: UInt64, hash: Hash32, chain cid: UInt64, in v: ChainView) throws -> [JSONValue] {
        try v.logs(cid, ChainIndex.LogFilter(fromBlock: n, toBlock: n), limit: Int.max - 1).filter { $0["blockHash"]?.stringValue == hash.hex }
    }
}
