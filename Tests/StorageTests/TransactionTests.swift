import Foundation
import Synchronization
import Testing
@testable import Storage

@Suite struct TransactionTests {
    struct Rollback: Error {}

    @Test func writeCommitsOnReturnAndAbortsOnThrow() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("t")
            let returned = try environment.write { txn throws in
                try txn.put(table, [1], [10])
                return "done"
            }
            #expect(returned == "done")
            #expect(throws: Rollback.self) {
                try environment.write { txn throws in
                    try txn.put(table, [2], [20])
                    try txn.delete(table, [1])
                    #expect(try txn.get(table, [2]) == [20], "a write transaction sees its own writes")
                    throw Rollback()
                }
            }
            try environment.read { txn throws in
                #expect(try txn.get(table, [1]) == [10])
                #expect(try txn.get(table, [2]) == nil)
            }
        }
    }

    @Test func nestedWriteOnSameThreadIsRefusedNotDeadlocked() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("t")
            try environment.write { outer throws in
                try outer.put(table, [1], [1])
                #expect(throws: StorageError.nestedWriteTransaction) {
                    try environment.write { inner in try inner.put(table, [2], [2]) }
                }
                // Also from inside a read nested in the write.
                try environment.read { _ throws in
                    #expect(throws: StorageError.nestedWriteTransaction) {
                        try environment.write { _ in }
                    }
                }
            }
            // The refusal did not poison the outer transaction, and writing works again afterwards.
            try environment.write { txn in try txn.put(table, [3], [3]) }
            try environment.read { txn throws in
                #expect(try txn.entries(in: table).map(\.key) == [[1], [3]])
            }
        }
    }

    @Test func errorsNameTheOperationAndCarryLMDBMessage() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("events")
            let error = #expect(throws: StorageError.self) {
                try environment.write { txn throws in
                    try txn.append(table, Key(UInt64(5)), [1])
                    try txn.append(table, Key(UInt64(4)), [1])
                }
            }
            let text = error?.description ?? ""
            #expect(text.contains("mdb_put(MDB_APPEND) into table 'events'"), "\(text)")
            #expect(text.contains("MDB_KEYEXIST"), "LMDB's own message must be kept: \(text)")

            let missing = #expect(throws: StorageError.self) {
                _ = try Environment(path: "/nonexistent-parent/env")
            }
            #expect(missing == .system(operation: "mkdir(/nonexistent-parent/env)", code: ENOENT, message: String(cString: strerror(ENOENT))))
            #expect(missing?.description.contains("mkdir(/nonexistent-parent/env) failed: No such file or directory") == true, "\(missing.map(String.init(describing:)) ?? "")")
        }
    }

    @Test func uncachedTableCannotBeOpenedInsideATransaction() throws {
        try withTemporaryEnvironment { environment, _ in
            let cached = try environment.table("early")
            try environment.read { _ throws in
                #expect(try environment.table("early") == cached)
                #expect(throws: StorageError.self) { try environment.table("late") }
            }
        }
    }

    /// MDB_NOTLS lets one thread hold several read transactions, each its own snapshot.
    @Test func nestedReadsOnOneThreadAreIndependentSnapshots() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("t")
            try environment.write { txn throws in try txn.put(table, [1], [1]) }
            try environment.read { outer throws in
                runOnThreads(1) { _ in
                    try! environment.write { txn throws in try txn.put(table, [1], [2]) }
                }
                try environment.read { inner throws in
                    #expect(try inner.get(table, [1]) == [2], "a new read sees the later commit")
                }
                #expect(try outer.get(table, [1]) == [1], "the older snapshot is unchanged")
            }
        }
    }

    @Test func unsafeModesAreOptInAndValidated() throws {
        #expect(Environment.Options().unsafeModes.isEmpty, "durable by default")
        var fast = Environment.Options()
        fast.unsafeModes = [.noSync, .noMetaSync, .writeMap, .mapAsync]
        try withTemporaryEnvironment(options: fast) { environment, _ in
            let table = try environment.table("t")
            try environment.write { txn throws in try txn.put(table, [1], [1]) }
            #expect(try environment.read { txn throws in try txn.get(table, [1]) } == [1])
        }
        var inconsistent = Environment.Options()
        inconsistent.unsafeModes = [.mapAsync]
        #expect(throws: StorageError.self) { try withTemporaryEnvironment(options: inconsistent) { _, _ in } }
        var backwards = Environment.Options()
        backwards.maximumMapSize = backwards.mapSize - 1
        #expect(throws: StorageError.self) { try withTemporaryEnvironment(options: backwards) { _, _ in } }
    }

    @Test func closedEnvironmentRefusesTransactions() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let environment = try Environment(path: directory.subpath("env"))
        environment.close()
        #expect(throws: StorageError.environmentClosed) { try environment.read { _ in } }
        #expect(throws: StorageError.environmentClosed) { try environment.write { _ in } }
    }

    /// Writers on several threads each do read-modify-write increments; serialization
    /// means none is lost.
    @Test func writersOnDifferentThreadsSerialize() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("counter")
            let threads = 4, incrementsPerThread = 50
            let failures = Mutex<[String]>([])
            runOnThreads(threads) { _ in
                do {
                    for _ in 0..<incrementsPerThread {
                        try environment.write { txn throws in
                            let current = try txn.get(table, [0]).map { KeyReader($0).readUInt64Value } ?? 0
                            try txn.put(table, [0], Key(current + 1))
                        }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            let total = try environment.read { txn in try txn.get(table, [0]).map { KeyReader($0).readUInt64Value } }
            #expect(total == UInt64(threads * incrementsPerThread))
        }
    }

    /// Readers on many threads run while a writer commits; every snapshot must be
    /// internally consistent (all keys from one commit) and never go backwards.
    @Test func concurrentReadersSeeConsistentSnapshotsDuringWrites() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("snap")
            let keysPerCommit: [[UInt8]] = [[1], [2], [3], [4]]
            try environment.write { txn throws in
                for key in keysPerCommit { try txn.put(table, key, Key(UInt64(0))) }
            }
            let commits = 200, readers = 8, readsPerReader = 400
            let failures = Mutex<[String]>([])
            runOnThreads(readers + 1) { index in
                do {
                    if index == readers {
                        for version in 1...UInt64(commits) {
                            try environment.write { txn throws in
                                for key in keysPerCommit { try txn.put(table, key, Key(version)) }
                            }
                        }
                        return
                    }
                    var lastSeen: UInt64 = 0
                    for _ in 0..<readsPerReader {
                        let versions = try environment.read { txn throws in
                            try keysPerCommit.map { try txn.get(table, $0).map { KeyReader($0).readUInt64Value } }
                        }
                        let distinct = Set(versions)
                        guard distinct.count == 1, let version = distinct.first!, version >= lastSeen else {
                            failures.withLock { $0.append("reader \(index) saw \(versions) after \(lastSeen)") }
                            return
                        }
                        lastSeen = version
                    }
                } catch {
                    failures.withLock { $0.append("thread \(index): \(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
        }
    }
}

extension KeyReader {
    /// Test shorthand: the whole value is one big-endian UInt64.
    var readUInt64Value: UInt64 {
        var copy = self
        return copy.readUInt64()!
    }
}

/// Runs `body(index)` on `count` dedicated threads and waits for all of them. Dedicated
/// threads (not a pool) so blocking bodies cannot starve each other on a 2-core machine.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}
