import Synchronization
import Testing
@testable import Storage

@Suite struct BackupAndStatsTests {
    @Test func compactingBackupOfLiveEnvironmentReopensWithSameContents() throws {
        try withTemporaryEnvironment { environment, directory in
            let blocks = try environment.table("blocks")
            let logs = try environment.table("logs")
            try environment.write { txn throws in
                for number in 0..<2000 as Range<UInt64> {
                    try txn.append(blocks, Key(number), Array(repeating: UInt8(number & 0xFF), count: 64))
                    try txn.put(logs, Key(number).appending(UInt32(1)), [UInt8(number % 7)])
                }
                // Deletions leave free pages that compaction must drop.
                for number in stride(from: 0, to: 2000, by: 3) as StrideTo<UInt64> { try txn.delete(blocks, Key(number)) }
            }
            let frozen = try environment.read { txn throws in
                (try txn.entries(in: blocks), try txn.entries(in: logs))
            }

            // A writer keeps committing to another table during the copy.
            let writerDone = Mutex(false)
            let noise = try environment.table("noise")
            let backupPath = directory.subpath("backup")
            let errors = Mutex<[String]>([])
            runOnThreads(2) { index in
                do {
                    if index == 0 {
                        for round in 0..<100 as Range<UInt64> {
                            try environment.write { txn throws in try txn.put(noise, Key(round), Key(round)) }
                        }
                        writerDone.withLock { $0 = true }
                    } else {
                        try environment.backup(to: backupPath)
                    }
                } catch {
                    errors.withLock { $0.append("thread \(index): \(error)") }
                }
            }
            #expect(errors.withLock { $0 } == [])
            #expect(writerDone.withLock { $0 })

            let copy = try Environment(path: backupPath)
            defer { copy.close() }
            let copiedBlocks = try copy.table("blocks", create: false)
            let copiedLogs = try copy.table("logs", create: false)
            let copiedNoise = try copy.table("noise", create: false)
            try copy.read { txn throws in
                #expect(try txn.entries(in: copiedBlocks) == frozen.0)
                #expect(try txn.entries(in: copiedLogs) == frozen.1)
                // Whatever prefix of the concurrent writes the snapshot caught, it is a prefix.
                let noiseKeys = try txn.entries(in: copiedNoise).map(\.key)
                #expect(noiseKeys == (0..<UInt64(noiseKeys.count)).map { Key($0).bytes })
            }
            #expect(try copy.stats().lastPageNumber <= environment.stats().lastPageNumber, "compaction must not grow the file")
        }
    }

    @Test func backupIntoAnOccupiedDirectoryNamesTheProblem() throws {
        try withTemporaryEnvironment { environment, directory in
            let destination = directory.subpath("twice")
            try environment.backup(to: destination)
            let error = #expect(throws: StorageError.self) { try environment.backup(to: destination) }
            let text = error.map(String.init(describing:)) ?? ""
            #expect(text.contains("mdb_env_copy2(\(destination))") && text.contains("File exists"), "\(text)")
        }
    }

    @Test func backupRefusesToRunInsideAWriteTransaction() throws {
        try withTemporaryEnvironment { environment, directory in
            try environment.write { _ throws in
                #expect(throws: StorageError.self) { try environment.backup(to: directory.subpath("inside")) }
            }
        }
    }

    @Test func statsReportEntriesDepthPagesAndTransactionIDs() throws {
        try withTemporaryEnvironment { environment, _ in
            let table = try environment.table("stats")
            let before = try environment.stats()
            try environment.write { txn throws in
                for index in 0..<1000 as Range<UInt64> { try txn.append(table, Key(index), [UInt8](repeating: 1, count: 100)) }
            }
            let after = try environment.stats()
            #expect(after.lastTransactionID > before.lastTransactionID)
            #expect(after.mapSize == environment.options.mapSize)
            #expect(after.mainDatabase.entries == 1, "the main database lists the one named table")
            try environment.read { txn throws in
                let stats = try txn.stats(table)
                #expect(stats.entries == 1000)
                #expect(stats.depth >= 2)
                #expect(stats.leafPages > 1 && stats.branchPages >= 1)
                #expect(stats.pageSize == after.mainDatabase.pageSize)
                #expect(txn.id == after.lastTransactionID)
            }
        }
    }
}
