import Consensus
import ConsensusSim
import Testing

/// The simulator's linearizability check, against known histories and against a brute-force
/// Wing & Gong search over every order of small random histories.
@Suite struct LinearizabilityCheckerTests {
    typealias Write = LinearizabilityChecker.Write
    typealias Read = LinearizabilityChecker.Read

    static func history(_ writes: [Write], _ reads: [Read]) -> LinearizabilityChecker {
        var checker = LinearizabilityChecker()
        for write in writes { checker.add(write) }
        for read in reads { checker.add(read) }
        return checker
    }

    @Test func acceptsReadsThatOverlapTheWrite() {
        // A write in flight from 1 to 10: reads during it may see it or not.
        let checker = Self.history([Write(invoked: 1, acknowledged: 10, index: 1)],
                                   [Read(invoked: 2, completed: 3, observed: 0), Read(invoked: 4, completed: 5, observed: 1),
                                    Read(invoked: 11, completed: 12, observed: 1)])
        #expect(checker.violation() == nil)
    }

    @Test func rejectsAStaleRead() {
        // The known non-linearizable history: the write was acknowledged, then a read that
        // began afterwards still missed it (a deposed leader answering from its own state).
        let checker = Self.history([Write(invoked: 1, acknowledged: 2, index: 5)],
                                   [Read(invoked: 3, completed: 4, observed: 4, node: 2)])
        let why = checker.violation()
        #expect(why?.hasPrefix("stale read: node 2") == true, "\(why ?? "accepted")")
    }

    @Test func rejectsAReadGoingBackwards() {
        // Two reads in sequence while the write is still in flight: the second may not
        // un-see what the first saw.
        let checker = Self.history([Write(invoked: 1, index: 1)],
                                   [Read(invoked: 2, completed: 3, observed: 1, node: 1), Read(invoked: 4, completed: 5, observed: 0, node: 3)])
        #expect(checker.violation()?.contains("had already seen index 1") == true)
    }

    @Test func noOpEntriesBetweenReadsAreTheSameValue() {
        // Index 2 is a leader's empty entry: observing 2 and then 1 shows the same writes.
        let checker = Self.history([Write(invoked: 1, acknowledged: 2, index: 1), Write(invoked: 9, index: 3)],
                                   [Read(invoked: 3, completed: 4, observed: 2), Read(invoked: 5, completed: 6, observed: 1)])
        #expect(checker.violation() == nil)
    }

    @Test func rejectsWritesCommittedAgainstRealTime() {
        let checker = Self.history([Write(invoked: 1, acknowledged: 2, index: 7), Write(invoked: 3, acknowledged: 4, index: 6)], [])
        #expect(checker.violation()?.contains("below index 7") == true)
    }

    @Test func rejectsAReadOfTheFuture() {
        let checker = Self.history([Write(invoked: 5, index: 1)], [Read(invoked: 1, completed: 2, observed: 1)])
        #expect(checker.violation()?.contains("invoked later at tick 5") == true)
    }

    @Test func rejectsAnAcknowledgedWriteThatNeverCommitted() {
        var checker = LinearizabilityChecker()
        checker.add(Write(invoked: 1, acknowledged: 2, index: nil))
        #expect(checker.violation()?.contains("never committed") == true)
    }

    @Test func aWriteCommitsAtOneIndex() {
        var checker = LinearizabilityChecker()
        let handle = checker.invokeWrite(at: 1)
        let first = checker.committed(handle, at: 4)
        let again = checker.committed(handle, at: 4)
        let elsewhere = checker.committed(handle, at: 5)
        #expect(first && again && !elsewhere)
    }

    /// Brute force: is there an order of the operations, consistent with real time, in
    /// which every read returns exactly the writes before it? The final state (every
    /// committed write, in log order) is read last.
    static func wingGong(_ writes: [Write], _ reads: [Read]) -> Bool {
        let committed = writes.filter { $0.index != nil }.sorted { $0.index! < $1.index! }
        enum Op { case write(Int), read(Int), final }
        var ops: [(op: Op, invoked: Int, completed: Int)] = []
        for (k, write) in committed.enumerated() { ops.append((.write(k), write.invoked, write.acknowledged ?? Int.max)) }
        for (k, read) in reads.enumerated() { ops.append((.read(k), read.invoked, read.completed)) }
        ops.append((.final, Int.max - 1, Int.max))
        // Uncommitted writes never appear anywhere; they constrain nothing.
        func expected(_ observed: UInt64) -> [Int] { committed.indices.filter { committed[$0].index! <= observed } }
        var done = Array(repeating: false, count: ops.count)
        var state: [Int] = []
        func search(_ remaining: Int) -> Bool {
            if remaining == 0 { return true }
            for k in ops.indices where !done[k] {
                // k may go next only if nothing still pending completed before k began.
                if ops.indices.contains(where: { !done[$0] && $0 != k && ops[$0].completed < ops[k].invoked }) { continue }
                switch ops[k].op {
                case .write(let w):
                    done[k] = true; state.append(w)
                    if search(remaining - 1) { return true }
                    done[k] = false; state.removeLast()
                case .read(let r):
                    guard state == expected(reads[r].observed) else { continue }
                    done[k] = true
                    if search(remaining - 1) { return true }
                    done[k] = false
                case .final:
                    guard state == Array(committed.indices) else { continue }
                    done[k] = true
                    if search(remaining - 1) { return true }
                    done[k] = false
                }
            }
            return false
        }
        return search(ops.count)
    }

    @Test func agreesWithABruteForceSearch() {
        let seed: UInt64 = 0x11AE_A12
        print("LinearizabilityCheckerTests seed \(seed)")
        var rng = SplitMix64(seed: seed)
        var accepted = 0, rejected = 0
        for round in 0..<3000 {
            // A log with gaps (empty entries) holding up to 4 client writes, some of
            // which never commit, and up to 3 reads, all at random times.
            var writes: [Write] = []
            var index: UInt64 = 0
            for _ in 0..<(1 + rng.below(4)) {
                let invoked = rng.below(12)
                if rng.chance(1, in: 5) {
                    writes.append(Write(invoked: invoked))
                    continue
                }
                index += 1 + UInt64(rng.below(2))
                let acknowledged = rng.chance(2, in: 3) ? invoked + rng.below(8) : nil
                writes.append(Write(invoked: invoked, acknowledged: acknowledged, index: index))
            }
            var reads: [Read] = []
            for node in 0..<rng.below(4) {
                let invoked = rng.below(14)
                reads.append(Read(invoked: invoked, completed: invoked + rng.below(6), observed: UInt64(rng.below(Int(index) + 2)), node: node))
            }
            let fast = Self.history(writes, reads).violation() == nil
            let slow = Self.wingGong(writes, reads)
            #expect(fast == slow, "round \(round) (seed \(seed)): sweep says \(fast), search says \(slow) for writes \(writes), reads \(reads)")
            if fast != slow { return }
            if fast { accepted += 1 } else { rejected += 1 }
        }
        // Both verdicts must be common, or the comparison proves little.
        #expect(accepted > 300 && rejected > 300, "accepted \(accepted), rejected \(rejected)")
    }
}
