/// The client history of a replicated log, and a check that it is linearizable.
///
/// The replicated object is the log itself: a write appends one unique entry; a read
/// returns the whole applied prefix up to the index its replica had applied when it served
/// the read. Because every replica applies the same sequence (state machine safety, checked
/// separately), the order of writes is fixed by their log indices and a read's value is
/// fixed by the last client write at or below the index it observed. A history of such an
/// object is linearizable exactly when these real-time constraints hold:
///
/// 1. a write acknowledged before another write was invoked sits at a lower index;
/// 2. a read includes every write acknowledged before the read was invoked;
/// 3. a read includes no write invoked after the read completed;
/// 4. a read that completed before another read was invoked saw no more than it.
///
/// Sufficiency: order writes by index and put each read right after the last write it
/// saw (reads at one point by completion time); every real-time edge A → B then goes
/// forward by 1–4. So the check is a sweep over the history, not a search, and scales
/// to every schedule. `WingGongSearch` in the tests cross-checks it by brute force.
public struct LinearizabilityChecker: Sendable {
    public struct Write: Sendable, Equatable {
        public var invoked: Int
        /// When the client heard the write succeeded; nil while unknown or lost.
        public var acknowledged: Int?
        /// Where it sits in the committed log; nil if it never committed.
        public var index: UInt64?

        public init(invoked: Int, acknowledged: Int? = nil, index: UInt64? = nil) {
            self.invoked = invoked
            self.acknowledged = acknowledged
            self.index = index
        }
    }

    public struct Read: Sendable, Equatable {
        public var invoked: Int
        public var completed: Int
        /// The applied index of the replica that served it.
        public var observed: UInt64
        public var node: Int

        public init(invoked: Int, completed: Int, observed: UInt64, node: Int = 0) {
            self.invoked = invoked
            self.completed = completed
            self.observed = observed
            self.node = node
        }
    }

    public private(set) var writes: [Write] = []
    public private(set) var reads: [Read] = []

    public init() {}

    /// Records a write invoked at `tick`; returns its handle.
    public mutating func invokeWrite(at tick: Int) -> Int {
        writes.append(Write(invoked: tick))
        return writes.count - 1
    }

    /// Records where a write committed. Returns false if it had already committed at
    /// another index (the log applied one client write twice).
    public mutating func committed(_ handle: Int, at index: UInt64) -> Bool {
        if let known = writes[handle].index { return known == index }
        writes[handle].index = index
        return true
    }

    public mutating func acknowledged(_ handle: Int, at tick: Int) {
        precondition(writes[handle].index != nil, "a write is acknowledged only after it committed")
        if writes[handle].acknowledged == nil { writes[handle].acknowledged = tick }
    }

    public mutating func add(_ write: Write) { writes.append(write) }

    public mutating func add(_ read: Read) {
        precondition(read.completed >= read.invoked, "a read completes after it is invoked")
        reads.append(read)
    }

    /// The first violated constraint, described with the operations involved, or nil.
    public func violation() -> String? {
        for write in writes where write.acknowledged != nil && write.index == nil {
            return "write invoked at tick \(write.invoked) was acknowledged at \(write.acknowledged!) but never committed"
        }
        let committed = writes.filter { $0.index != nil }.sorted { $0.index! < $1.index! }
        for k in committed.indices.dropFirst() where committed[k].index == committed[k - 1].index {
            return "two writes committed at index \(committed[k].index!)"
        }
        // The value a read saw: the position (in log order) of the last write at or below
        // the index it observed, or -1 before the first.
        func seen(_ read: Read) -> Int {
            var low = 0, high = committed.count
            while low < high {
                let mid = (low + high) / 2
                if committed[mid].index! <= read.observed { low = mid + 1 } else { high = mid }
            }
            return low - 1
        }
        // 1. Writes in real-time order commit in that order.
        let byInvocation = writes.indices.sorted { writes[$0].invoked < writes[$1].invoked }
        let byAcknowledgement = writes.indices.filter { writes[$0].acknowledged != nil }.sorted { writes[$0].acknowledged! < writes[$1].acknowledged! }
        var cursor = 0
        var highest: (index: UInt64, write: Int)?
        for w in byInvocation {
            while cursor < byAcknowledgement.count, writes[byAcknowledgement[cursor]].acknowledged! < writes[w].invoked {
                let done = byAcknowledgement[cursor]
                if highest == nil || writes[done].index! > highest!.index { highest = (writes[done].index!, done) }
                cursor += 1
            }
            if let index = writes[w].index, let before = highest, index <= before.index {
                return "write invoked at tick \(writes[w].invoked) committed at \(index), below index \(before.index) of a write acknowledged at tick \(writes[before.write].acknowledged!) before it began"
            }
        }
        // 2 and 4. What a read must include: every write acknowledged and everything a
        // read saw before it began.
        let readsByInvocation = reads.indices.sorted { reads[$0].invoked < reads[$1].invoked }
        let readsByCompletion = reads.indices.sorted { reads[$0].completed < reads[$1].completed }
        cursor = 0
        var readCursor = 0
        var mustInclude: UInt64 = 0
        var mustSee = -1
        var witness: Int?
        for r in readsByInvocation {
            let read = reads[r]
            while cursor < byAcknowledgement.count, writes[byAcknowledgement[cursor]].acknowledged! < read.invoked {
                mustInclude = max(mustInclude, writes[byAcknowledgement[cursor]].index!)
                cursor += 1
            }
            while readCursor < readsByCompletion.count, reads[readsByCompletion[readCursor]].completed < read.invoked {
                let earlier = readsByCompletion[readCursor]
                if seen(reads[earlier]) > mustSee { mustSee = seen(reads[earlier]); witness = earlier }
                readCursor += 1
            }
            if read.observed < mustInclude {
                return "stale read: node \(read.node) served a read invoked at tick \(read.invoked) at index \(read.observed), but the write at index \(mustInclude) was acknowledged before it began"
            }
            if seen(read) < mustSee, let witness {
                return "stale read: node \(read.node) served a read invoked at tick \(read.invoked) at index \(read.observed), but a read completed at tick \(reads[witness].completed) on node \(reads[witness].node) had already seen index \(reads[witness].observed)"
            }
        }
        // 3. A read sees nothing written after it completed: the latest invocation among
        // the writes it saw came before its completion.
        var latestInvocation: [(tick: Int, index: UInt64)] = []
        latestInvocation.reserveCapacity(committed.count)
        for write in committed {
            let previous = latestInvocation.last
            latestInvocation.append(previous.map { $0.tick >= write.invoked ? $0 : (write.invoked, write.index!) } ?? (write.invoked, write.index!))
        }
        for read in reads {
            let last = seen(read)
            if last >= 0, latestInvocation[last].tick > read.completed {
                return "read completed at tick \(read.completed) on node \(read.node) saw the write at index \(latestInvocation[last].index), invoked later at tick \(latestInvocation[last].tick)"
            }
        }
        return nil
    }
}
