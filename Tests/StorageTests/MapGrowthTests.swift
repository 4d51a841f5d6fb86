import Synchronization
import Testing
@testable import Storage

@Suite struct MapGrowthTests {
    static func tinyMap(maximum: Int = 1 << 30) -> Environment.Options {
        var options = Environment.Options()
        options.mapSize = 64 << 10
        options.maximumMapSize = maximum
        return options
    }

    static func value(_ index: Int, size: Int = 200) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) }
    }

    @Test func writesThatFillTheMapGrowItAndLoseNothing() throws {
        try withTemporaryEnvironment(options: Self.tinyMap()) { environment, _ in
            let table = try environment.table("grow")
            let initialMapSize = try environment.stats().mapSize
            var attempts = 0
            // One transaction far larger than the initial map: it must be retried through several growths.
            try environment.write { txn throws in
                attempts += 1
                for index in 0..<3000 { try txn.put(table, Key(UInt64(index)), Self.value(index)) }
            }
            #expect(attempts > 1, "the first attempt should have hit MDB_MAP_FULL")
            // Then many small transactions, each possibly growing the map again.
            for batch in 0..<20 {
                try environment.write { txn throws in
                    for index in 3000 + batch * 100..<3000 + (batch + 1) * 100 {
                        try txn.append(table, Key(UInt64(index)), Self.value(index))
                    }
                }
            }
            let stats = try environment.stats()
            #expect(stats.mapSize > initialMapSize)
            #expect(stats.mapSize >= stats.usedBytes)
            try environment.read { txn throws in
                #expect(try txn.count(table) == 5000)
                var expected = 0
                try txn.forEach(in: table) { key, value in
                    #expect(Array(key) == Key(UInt64(expected)).bytes && Array(value) == Self.value(expected), "entry \(expected)")
                    expected += 1
                    return true
                }
                #expect(expected == 5000)
            }
        }
    }

    @Test func growthUnderConcurrentReadersAndWriters() throws {
        try withTemporaryEnvironment(options: Self.tinyMap()) { environment, _ in
            let table = try environment.table("grow")
            let writers = 2, readers = 4, batches = 30, perBatch = 50
            let failures = Mutex<[String]>([])
            runOnThreads(writers + readers) { index in
                do {
                    if index < writers {
                        for batch in 0..<batches {
                            try environment.write { txn throws in
                                for item in 0..<perBatch {
                                    let id = UInt64(index) << 32 | UInt64(batch * perBatch + item)
                                    try txn.put(table, Key(id), Self.value(Int(id % 1000)))
                                }
                            }
                        }
                    } else {
                        for _ in 0..<300 {
                            let count = try environment.read { txn throws in
                                try txn.count(table)
                            }
                            if count % perBatch != 0 {
                                failures.withLock { $0.append("reader saw a partial batch: \(count) entries") }
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("thread \(index): \(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(try environment.read { txn throws in try txn.count(table) } == writers * batches * perBatch)
        }
    }

    @Test func growthStopsAtTheConfiguredMaximum() throws {
        try withTemporaryEnvironment(options: Self.tinyMap(maximum: 256 << 10)) { environment, _ in
            let table = try environment.table("capped")
            try environment.write { txn throws in try txn.put(table, [1], [1]) }
            #expect(throws: StorageError.mapSizeLimitReached(limit: 256 << 10)) {
                try environment.write { txn throws in
                    for index in 0..<5000 { try txn.put(table, Key(UInt64(index)), Self.value(index)) }
                }
            }
            #expect(try environment.read { txn throws in try txn.get(table, [1]) } == [1])
        }
    }

    @Test func growthIsRefusedWhileThisThreadHoldsARead() throws {
        try withTemporaryEnvironment(options: Self.tinyMap()) { environment, _ in
            let table = try environment.table("blocked")
            try environment.read { _ throws in
                #expect(throws: StorageError.mapGrowthBlockedByOpenReadTransaction) {
                    try environment.write { txn throws in
                        for index in 0..<3000 { try txn.put(table, Key(UInt64(index)), Self.value(index)) }
                    }
                }
            }
            // Outside the read the same write grows the map and succeeds.
            try environment.write { txn throws in
                for index in 0..<3000 { try txn.put(table, Key(UInt64(index)), Self.value(index)) }
            }
        }
    }
}
