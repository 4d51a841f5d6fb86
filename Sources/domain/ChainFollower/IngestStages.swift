import Synchronization

/// CPU microseconds the leader's indexer spent per stage since it started: fetching and
/// parsing upstream batches, verifying blocks (summed over the cores that ran it), and
/// encoding entries. Replication and apply are counted by the replicated node.
public struct StageCPU: Sendable, Equatable {
    public var fetchMicros: UInt64 = 0
    public var verifyMicros: UInt64 = 0
    public var encodeMicros: UInt64 = 0
    public init() {}
}

/// One result per index, written concurrently by distinct iterations of a parallel loop.
final class ResultSlots<T: Sendable>: Sendable {
    private let slots: Mutex<[Result<T, Error>?]>
    init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ r: Result<T, Error>) { slots.withLock { $0[i] = r } }
    /// Every slot, each filled by the time the parallel loop returned.
    var all: [Result<T, Error>] {
        slots.withLock { s in
            s.map { r in
                guard let r else { preconditionFailure("a parallel iteration left its slot empty") }
                return r
            }
        }
    }
}

/// `StageCPU` shared by the indexer thread, the prefetch thread and the verify workers.
final class StageCPUMeter: Sendable {
    private let totals = Mutex(StageCPU())
    func add(_ stage: WritableKeyPath<StageCPU, UInt64> & Sendable, _ micros: UInt64) { totals.withLock { $0[keyPath: stage] &+= micros } }
    var snapshot: StageCPU { totals.withLock { $0 } }
}
