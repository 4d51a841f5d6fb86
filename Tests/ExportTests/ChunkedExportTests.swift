import Chain
@testable import Export
import Foundation
import Gzip
@testable import Telemetry
import Testing

/// The chunking and resume logic over fake sources: chunk boundaries, a run cut short that
/// a rerun completes asking only for the missing chunks, damaged or missing chunks made
/// again, refusal of different parameters, continuity across chunks and runs, state pages
/// pinned to one block hash, and the progress line.
@Suite struct ChunkedExportTests {
    /// A chain of blocks 0…`head` with `txs` transactions each; `fork` changes the hashes
    /// from a block on (a reorg), `failAt` throws when that block is asked for.
    final class FakeChain: ChainSource {
        var head: UInt64
        var txs = 2
        var fork: (from: UInt64, tag: String)?
        var failAt: UInt64?
        /// Answers one inconsistent block this many times (a reorg seen mid-chunk).
        var inconsistentAt: (UInt64, Int)?
        var asked = [ClosedRange<UInt64>]()

        init(head: UInt64) { self.head = head }

        func hash(_ n: UInt64) -> String {
            if let f = fork, n >= f.from { return "0x\(f.tag)\(n)" }
            return "0xb\(n)"
        }

        func json(_ n: UInt64) -> String {
            let parent = n == 0 ? "0x0" : hash(n - 1)
            let t = (0..<txs).map { #"{"hash":"0xt\#(n)-\#($0)","blockNumber":"\#(Hex.encodeQuantity(n))"}"# }.joined(separator: ",")
            return #"{"number":"\#(Hex.encodeQuantity(n))","hash":"\#(hash(n))","parentHash":"\#(parent)","transactions":[\#(t)]}"#
        }

        func blocks(_ range: ClosedRange<UInt64>, fullTransactions: Bool, _ each: (UInt64, [UInt8], Range<Int>) throws -> Void) throws {
            asked.append(range)
            for n in range {
                if n == failAt { throw ExportProblem("the node went away at block \(n)") }
                var text = json(n)
                if let (at, times) = inconsistentAt, at == n, times > 0 {
                    inconsistentAt = (at, times - 1)
                    text = text.replacingOccurrences(of: #""parentHash":"\#(hash(n - 1))""#, with: #""parentHash":"0xother""#)
                }
                let b = Array(text.utf8)
                try each(n, b, 0..<b.count)
            }
        }

        func logs(_ range: ClosedRange<UInt64>, _ filter: LogFilterArgs, _ each: ([UInt8], Range<Int>) throws -> Void) throws {
            asked.append(range)
            for n in range where n % 3 == 0 {
                let b = Array(#"{"blockNumber":"\#(Hex.encodeQuantity(n))","address":"\#(filter.addresses.first ?? "any")"}"#.utf8)
                try each(b, 0..<b.count)
            }
        }
    }

    static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "export-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func params(_ kind: ExportKind, _ a: UInt64, _ b: UInt64, chunk: UInt64) -> ExportParameters {
        var p = ExportParameters(kind: kind)
        p.fromBlock = a; p.toBlock = b; p.chunkBlocks = chunk
        return p
    }

    final class Log { var lines = [String]() }

    static func run(_ kind: ExportKind, _ a: UInt64, _ b: UInt64, chunk: UInt64, _ source: FakeChain, _ dir: String, log: Log = Log()) throws -> ChunkedExport.Summary {
        let producer = BlockRangeProducer(kind: kind, from: a, through: b, chunkBlocks: chunk, source: source, logBlocks: 7)
        let meter = ProgressMeter(what: "test", unit: "blocks", total: b - a + 1, now: { 0 }, emit: { _ in })
        return try ChunkedExport(parameters: params(kind, a, b, chunk: chunk), destination: try DirectoryDestination(dir), producer: producer, meter: meter) { log.lines.append($0) }.run()
    }

    static func lines(_ path: String) throws -> [String] {
        String(decoding: try GzipFileReader(path: path).readAll(), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func manifest(_ dir: String, _ name: String) throws -> ExportManifest {
        try ExportManifest.decode(Array(FileManager.default.contents(atPath: dir + "/" + name)!), name: name)
    }

    @Test func chunksAreAlignedToMultiplesOfTheirSize() {
        #expect(BlockChunks.ranges(from: 150, through: 2345, size: 1000) == [150...999, 1000...1999, 2000...2345])
        #expect(BlockChunks.ranges(from: 1000, through: 1999, size: 1000) == [1000...1999])
        #expect(BlockChunks.ranges(from: 7, through: 7, size: 1) == [7...7])
        #expect(BlockChunks.ranges(from: 0, through: 9, size: 4) == [0...3, 4...7, 8...9])
        #expect(BlockChunks.ranges(from: UInt64.max - 2, through: UInt64.max, size: 1 << 40) == [(UInt64.max - 2)...UInt64.max])
        #expect(BlockChunks.file(.logs, 1000...1999) == "logs-1000-1999.jsonl.gz")
    }

    @Test func aCompleteExportHoldsEveryBlockOnceInOrder() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chain = FakeChain(head: 300)
        let s = try Self.run(.blocks, 95, 250, chunk: 50, chain, dir)
        #expect(s.chunks == 5 && s.made == 5 && s.kept == 0 && s.lines == 156)
        let m = try Self.manifest(dir, "blocks-95-250.manifest.json")
        #expect(m.complete && m.chunks.map(\.file) == ["blocks-95-99.jsonl.gz", "blocks-100-149.jsonl.gz", "blocks-150-199.jsonl.gz", "blocks-200-249.jsonl.gz", "blocks-250-250.jsonl.gz"])
        var all = [String]()
        for c in m.chunks { all += try Self.lines(dir + "/" + c.file) }
        #expect(all == (95...250).map { chain.json($0) })
        #expect(m.chunks.last?.lastHash == chain.hash(250))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty, "\(leftovers)")

        // Transactions: each transaction object a line, in block order.
        let txs = try Self.run(.transactions, 10, 12, chunk: 50, chain, dir)
        #expect(txs.lines == 6)
        #expect(try Self.lines(dir + "/transactions-10-12.jsonl.gz").first == #"{"hash":"0xt10-0","blockNumber":"0xa"}"#)
    }

    @Test func anInterruptedExportResumesAfterItsLastCompleteChunk() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chain = FakeChain(head: 1000)
        chain.failAt = 333
        #expect(throws: ExportProblem.self) { _ = try Self.run(.blocks, 0, 499, chunk: 100, chain, dir) }
        let partial = try Self.manifest(dir, "blocks-0-499.manifest.json")
        #expect(!partial.complete && partial.chunks.map(\.file) == ["blocks-0-99.jsonl.gz", "blocks-100-199.jsonl.gz", "blocks-200-299.jsonl.gz"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/blocks-300-399.jsonl.gz"), "the chunk being made never appears under its name")

        chain.failAt = nil
        chain.asked = []
        let log = Log()
        let s = try Self.run(.blocks, 0, 499, chunk: 100, chain, dir, log: log)
        #expect(s.kept == 3 && s.made == 2 && s.lines == 500)
        #expect(chain.asked.allSatisfy { $0.lowerBound >= 300 }, "only the missing chunks are read again: \(chain.asked)")
        #expect(log.lines.contains { $0.contains("3 chunk(s) already complete and verified") }, "\(log.lines)")
        var all = [String]()
        for c in try Self.manifest(dir, "blocks-0-499.manifest.json").chunks { all += try Self.lines(dir + "/" + c.file) }
        #expect(all == (0...499).map { chain.json($0) })

        // Once complete, a rerun reads nothing from the node.
        chain.asked = []
        let again = try Self.run(.blocks, 0, 499, chunk: 100, chain, dir)
        #expect(again.kept == 5 && again.made == 0 && chain.asked.isEmpty)
    }

    @Test func aDamagedOrMissingChunkIsMadeAgainWithTheChunksAfterIt() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chain = FakeChain(head: 1000)
        _ = try Self.run(.blocks, 0, 399, chunk: 100, chain, dir)
        // Same size, one byte different: only the checksum can tell.
        let victim = dir + "/blocks-100-199.jsonl.gz"
        var bytes = Array(FileManager.default.contents(atPath: victim)!)
        bytes[bytes.count / 2] ^= 1
        _ = FileManager.default.createFile(atPath: victim, contents: Data(bytes))
        chain.asked = []
        let log = Log()
        let s = try Self.run(.blocks, 0, 399, chunk: 100, chain, dir, log: log)
        #expect(s.kept == 1 && s.made == 3, "\(s)")
        #expect(chain.asked.first?.lowerBound == 100)
        #expect(log.lines.contains { $0.contains("blocks-100-199.jsonl.gz: missing or not the recorded size and checksum") }, "\(log.lines)")
        #expect(try Self.lines(victim) == (100...199).map { chain.json($0) })

        try FileManager.default.removeItem(atPath: dir + "/blocks-300-399.jsonl.gz")
        chain.asked = []
        let s2 = try Self.run(.blocks, 0, 399, chunk: 100, chain, dir)
        #expect(s2.kept == 3 && s2.made == 1 && chain.asked.map(\.lowerBound) == [300])
    }

    @Test func aRerunWithOtherParametersIsRefusedNamingThem() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chain = FakeChain(head: 1000)
        _ = try Self.run(.blocks, 0, 199, chunk: 100, chain, dir)
        do {
            _ = try Self.run(.blocks, 0, 199, chunk: 50, chain, dir)
            Issue.record("a different chunk size continued the export")
        } catch let e as ExportProblem {
            #expect(e.description.contains("--chunk-blocks") && e.description.contains("blocks 0-199"), "\(e)")
        }
        _ = FileManager.default.createFile(atPath: dir + "/blocks-0-199.manifest.json", contents: Data("{not json".utf8))
        do {
            _ = try Self.run(.blocks, 0, 199, chunk: 100, chain, dir)
            Issue.record("a garbled manifest was used")
        } catch let e as ExportManifest.Problem {
            #expect(e.description.contains("is not an export manifest"), "\(e)")
        }
    }

    @Test func chunksMustChainAcrossRunsAndAReorgInsideAChunkIsReadAgain() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chain = FakeChain(head: 1000)
        chain.failAt = 150
        #expect(throws: ExportProblem.self) { _ = try Self.run(.blocks, 0, 299, chunk: 100, chain, dir) }
        // Between the runs the chain reorganised from block 90: the kept chunk's last block is gone.
        chain.failAt = nil
        chain.fork = (90, "f")
        do {
            _ = try Self.run(.blocks, 0, 299, chunk: 100, chain, dir)
            Issue.record("a chunk that does not chain onto the one before was accepted")
        } catch let e as ExportProblem {
            #expect(e.description.contains("reorganised") && e.description.contains("blocks-0-99.jsonl.gz"), "\(e)")
        }
        // Deleting the stale chunk makes it again, on the new branch.
        try FileManager.default.removeItem(atPath: dir + "/blocks-0-99.jsonl.gz")
        _ = try Self.run(.blocks, 0, 299, chunk: 100, chain, dir)
        #expect(try Self.lines(dir + "/blocks-0-99.jsonl.gz").last == chain.json(99))

        // Inside one chunk: a block whose parent is not the block before is read again.
        let dir2 = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        let moving = FakeChain(head: 100)
        moving.inconsistentAt = (40, 2)
        let log = Log()
        let s = try Self.run(.blocks, 0, 99, chunk: 100, moving, dir2, log: log)
        #expect(s.lines == 100 && log.lines.filter { $0.contains("reading it again") }.count == 2, "\(log.lines)")
        moving.inconsistentAt = (40, 10)
        #expect(throws: ChunkInconsistent.self) { _ = try Self.run(.blocks, 0, 99, chunk: 100, moving, Self.tempDir()) }
    }

    @Test func logChunksAskTheNodeInSubRanges() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chain = FakeChain(head: 100)
        let s = try Self.run(.logs, 0, 29, chunk: 20, chain, dir)
        #expect(chain.asked == [0...6, 7...13, 14...19, 20...26, 27...29])
        #expect(s.lines == 10 && s.chunks == 2)
    }

    final class FakeState: StateSource {
        var hash = "0xaaa"
        var entries: [String]
        var pages = 0
        init(_ n: Int) { entries = (0..<n).map { #"{"type":"account","address":"0x\#(String(format: "%040x", $0))"}"# } }

        func statePage(block: String, after: String?, limit: Int) throws -> StatePage {
            pages += 1
            let start = after.map { Int($0)! } ?? 0
            let end = min(entries.count, start + limit)
            let body = entries[start..<end].map { $0 + "\n" }.joined()
            return StatePage(block: UInt64(block)!, blockHash: hash, body: Array(body.utf8), next: end < entries.count ? String(end) : nil)
        }
    }

    static func runState(_ source: FakeState, _ dir: String, chunkEntries: Int, anchor: String = "0xaaa") throws -> ChunkedExport.Summary {
        var p = ExportParameters(kind: .state)
        p.block = 42; p.chunkEntries = chunkEntries
        let producer = StateProducer(block: 42, blockHash: anchor, chunkEntries: chunkEntries, pageLimit: 7, source: source)
        let meter = ProgressMeter(what: "state", unit: "entries", total: nil, emit: { _ in })
        return try ChunkedExport(parameters: p, destination: try DirectoryDestination(dir), producer: producer, meter: meter, log: { _ in }).run()
    }

    @Test func stateChunksFollowTheCursorAndStayOnOneBlockHash() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = FakeState(53)
        let s = try Self.runState(state, dir, chunkEntries: 20)
        #expect(s.chunks == 3 && s.lines == 53)
        let m = try Self.manifest(dir, "state-42.manifest.json")
        #expect(m.chunks.map(\.file) == ["state-42-000000.jsonl.gz", "state-42-000001.jsonl.gz", "state-42-000002.jsonl.gz"])
        #expect(m.chunks.map(\.next) == ["20", "40", nil] && m.blockHash == "0xaaa")
        var all = [String]()
        for c in m.chunks { all += try Self.lines(dir + "/" + c.file) }
        #expect(all == state.entries)

        // Resume after the second chunk was lost.
        try FileManager.default.removeItem(atPath: dir + "/state-42-000001.jsonl.gz")
        state.pages = 0
        let again = try Self.runState(state, dir, chunkEntries: 20)
        #expect(again.kept == 1 && again.made == 2 && state.pages == 5, "pages of 7 within chunks of 20: 7+7+6, 7+6")

        // The node's block 42 changed (a reorg below it): the export refuses to mix the two.
        do {
            _ = try Self.runState(state, dir, chunkEntries: 20, anchor: "0xbbb")
            Issue.record("an export was continued from another block hash")
        } catch let e as ExportProblem { #expect(e.description.contains("0xaaa") && e.description.contains("0xbbb"), "\(e)") }
        let dir2 = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        state.hash = "0xccc"
        #expect(throws: ExportProblem.self) { _ = try Self.runState(state, dir2, chunkEntries: 20) }
    }

    @Test func progressIsAtMostOncePerSecondWithRateAndETA() {
        var t = 100.0
        var out = [String]()
        let m = ProgressMeter(what: "export blocks 0-999", unit: "blocks", total: 1000, now: { t }, emit: { out.append($0) })
        m.resumed(200)
        // Quarter seconds: exact in binary, so the once-a-second boundaries are exact too.
        for _ in 0..<16 { t += 0.25; m.advance(25) }
        #expect(out.count == 4, "\(out)")
        #expect(out.first == "export blocks 0-999: 300 of 1000 blocks (30%), 100 blocks/s, ETA 7s", "\(out)")
        m.finish()
        #expect(out.last == "export blocks 0-999: 600 of 1000 blocks (60%), 100 blocks/s, ETA 4s, done")
        #expect(ProgressMeter.format(what: "x", unit: "entries", done: 5, total: nil, rate: 2.5) == "x: 5 entries, 2.5 entries/s")
        #expect(ProgressMeter.duration(3725) == "1h02m" && ProgressMeter.duration(65) == "1m05s")
    }
}
