import TestSupport
import Foundation
import Testing
@testable import Storage

/// A child process (`storage-crash-writer`) commits numbered multi-key transactions and
/// reports each commit; it is SIGKILLed mid-stream. Reopening must show every reported
/// transaction in full, no torn transaction, and at most the one in-flight transaction
/// beyond the last report (committed but killed before it could print).
@Suite struct CrashTests {
    static let keysPerTransaction = 8
    static let valueSize = 512

    /// `STORAGE_CRASH_WRITER` overrides; otherwise the executable sits next to the test
    /// bundle in the build products directory (`swift build`/`swift test` build it).
    static func writerExecutable() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["STORAGE_CRASH_WRITER"] {
            return URL(fileURLWithPath: override)
        }
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidate = testBinary.deletingLastPathComponent().appendingPathComponent("storage-crash-writer")
        try #require(
            FileManager.default.isExecutableFile(atPath: candidate.path),
            "storage-crash-writer not found at \(candidate.path); build it first (swift build --product storage-crash-writer) or set STORAGE_CRASH_WRITER"
        )
        return candidate
    }

    @Test(arguments: testSeeds(default: [20_240_601]))
    func sigkilledWriterLosesNoCommittedTransactionAndTearsNone(seed: UInt64) throws {
        let executable = try Self.writerExecutable()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let environmentPath = directory.subpath("env")
        var rng = SeededRandom(seed: seed)
        var lastSurvivor: UInt64 = 0

        for round in 1...6 {
            let context = "round \(round), seed \(seed) (replay: STORAGE_TEST_SEED=\(seed))"
            let commitsBeforeKill = Int.random(in: 2...25, using: &rng)
            let run = try Self.runAndKill(executable, environmentPath, afterCommits: commitsBeforeKill,
                                          extraDelayMicroseconds: UInt32.random(in: 0..<4000, using: &rng))
            try #require(run.reported.count >= commitsBeforeKill,
                         "writer exited early after \(run.reported) with stderr: \(run.standardError), \(context)")
            #expect(run.killedBySignal, "writer was not killed by SIGKILL (stderr: \(run.standardError)), \(context)")
            #expect(run.reported == Array(lastSurvivor + 1...lastSurvivor + UInt64(run.reported.count)),
                    "writer must continue right after the last surviving transaction, \(context)")
            lastSurvivor = try Self.verifyIntactPrefix(environmentPath, reported: run.reported, context: context)
        }
    }

    struct KilledRun {
        var reported: [UInt64]
        var killedBySignal: Bool
        var standardError: String
    }

    static func runAndKill(_ executable: URL, _ path: String, afterCommits target: Int, extraDelayMicroseconds: UInt32) throws -> KilledRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["--path", path, "--keys-per-txn", "\(keysPerTransaction)", "--value-size", "\(valueSize)", "--map-size", "65536"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()

        var reported: [UInt64] = []
        var pending = Data()
        func consume(_ chunk: Data) {
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                if let number = UInt64(line.replacingOccurrences(of: "committed ", with: "")) { reported.append(number) }
            }
        }
        let reader = output.fileHandleForReading
        while reported.count < target {
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // EOF: the writer died on its own
            consume(chunk)
        }
        // A random extra delay moves the kill point around inside the next transaction.
        usleep(extraDelayMicroseconds)
        kill(process.processIdentifier, SIGKILL)
        // Lines already written before the kill still count as reported commits.
        while case let chunk = reader.availableData, !chunk.isEmpty { consume(chunk) }
        process.waitUntilExit()
        let standardError = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return KilledRun(reported: reported,
                         killedBySignal: process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL,
                         standardError: standardError)
    }

    /// Checks the environment holds exactly transactions 1...last, each complete and
    /// intact, with every reported one included; returns `last`.
    static func verifyIntactPrefix(_ path: String, reported: [UInt64], context: String) throws -> UInt64 {
        let environment = try Environment(path: path)
        defer { environment.close() }
        let txns = try environment.table("txns", create: false)
        let meta = try environment.table("meta", create: false)
        return try environment.read { txn throws in
            let last = try #require(try txn.get(meta, Array("last".utf8)).flatMap { KeyReader($0).readUInt64Value }, "\(context)")
            let newestReported = reported.last ?? 0
            #expect(last >= newestReported, "a reported commit was lost: last \(last) < reported \(newestReported), \(context)")
            #expect(last <= newestReported + 1, "more than the one in-flight transaction survived: \(last) vs \(newestReported), \(context)")

            var keysPerNumber: [UInt64: Int] = [:]
            try txn.forEach(in: txns) { key, value in
                var reader = KeyReader(key)
                guard let number = reader.readUInt64(), let index = reader.readUInt16(), reader.isAtEnd else {
                    Issue.record("malformed key \(Array(key).hex), \(context)")
                    return false
                }
                #expect(Array(value) == CrashTestLayout.value(number, index, size: valueSize),
                        "torn value for txn \(number) key \(index), \(context)")
                keysPerNumber[number, default: 0] += 1
                return true
            }
            #expect(Set(keysPerNumber.keys) == Set(1...max(last, 1)).filter { _ in last > 0 },
                    "transactions present differ from 1...\(last), \(context)")
            let torn = keysPerNumber.filter { $0.value != keysPerTransaction }
            #expect(torn.isEmpty, "half-present transactions \(torn.keys.sorted()), \(context)")
            return last
        }
    }
}
