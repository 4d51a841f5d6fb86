import Foundation
import ObjectStore
import Gzip
import Telemetry

/// The next chunk an export makes.
public struct PlannedChunk: Equatable, Sendable {
    public var file: String
    public var firstBlock: UInt64?
    public var lastBlock: UInt64?
    /// state: the cursor to continue after.
    public var after: String?

    public init(file: String, firstBlock: UInt64? = nil, lastBlock: UInt64? = nil, after: String? = nil) {
        self.file = file; self.firstBlock = firstBlock; self.lastBlock = lastBlock; self.after = after
    }
}

/// What making one chunk found out, beyond its lines.
public struct ChunkOutcome: Equatable, Sendable {
    /// Block kinds: the parent hash of the chunk's first block and the hash of its last.
    public var firstParentHash: String?
    public var lastHash: String?
    /// state: the cursor the chunk ends at; nil when the state is exhausted.
    public var next: String?
    public init(firstParentHash: String? = nil, lastHash: String? = nil, next: String? = nil) {
        self.firstParentHash = firstParentHash; self.lastHash = lastHash; self.next = next
    }
}

/// JSON lines into a gzip file, gathered into large writes (deflate per line would cost a
/// call per few hundred bytes).
public final class LineSink {
    let writer: GzipFileWriter
    private var pending = [UInt8]()
    public private(set) var lines = 0
    static let flushAt = 256 << 10

    init(_ writer: GzipFileWriter) {
        self.writer = writer
        pending.reserveCapacity(Self.flushAt + 4096)
    }

    /// One line; `bytes` must hold no newline (JSON text from a parser or a serializer never does).
    public func line(_ bytes: ArraySlice<UInt8>) throws {
        pending += bytes
        pending.append(UInt8(ascii: "\n"))
        lines += 1
        if pending.count >= Self.flushAt { try flush() }
    }

    public func line(_ bytes: [UInt8]) throws { try line(bytes[...]) }

    func flush() throws {
        try writer.write(pending)
        pending.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        try flush()
        try writer.finish()
    }
}

/// What a kind of export contributes to `ChunkedExport`: how it is cut into chunks and how
/// one chunk is made.
public protocol ChunkProducer: AnyObject {
    /// The unit progress is counted in ("blocks", "entries") and how many there are (nil:
    /// not known in advance).
    var unit: String { get }
    var totalUnits: UInt64? { get }
    /// Identifies the source's content where a number alone does not (state: the block's hash).
    var anchor: String? { get }
    /// The chunk after `last`, the `index`th (the first when `last` is nil); nil when the
    /// export is complete.
    func plan(after last: ChunkRecord?, index: Int) -> PlannedChunk?
    /// How many units a finished chunk accounts for.
    func units(of record: ChunkRecord) -> UInt64
    /// Writes the chunk's lines, calling `progress` with units as they are done.
    func produce(_ chunk: PlannedChunk, into sink: LineSink, progress: (UInt64) -> Void) throws -> ChunkOutcome
}

/// The source's answers for one chunk disagreed with each other (a block whose parent is not
/// the block before it): the chunk is made again.
public struct ChunkInconsistent: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public struct ExportProblem: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A resumable export: chunks made one after another, each a gzip file of JSON lines,
/// handed to the destination only once complete, and recorded in the manifest only once
/// stored. A rerun with the same parameters checks every recorded chunk (size and
/// checksum; on S3 the size), keeps the good prefix and makes the rest, so an export cut
/// short anywhere (kill -9 included) loses at most the chunk it was making.
public final class ChunkedExport {
    public let parameters: ExportParameters
    let destination: ExportDestination
    let producer: ChunkProducer
    let meter: ProgressMeter
    let log: (String) -> Void
    let level: Int32

    public struct Summary: Equatable, Sendable {
        public var chunks = 0
        /// Chunks found complete and kept, and chunks made by this run.
        public var kept = 0
        public var made = 0
        /// Lines and compressed bytes over all chunks.
        public var lines = 0
        public var bytes = 0
        public var manifest = ""
    }

    public init(parameters: ExportParameters, destination: ExportDestination, producer: ChunkProducer, meter: ProgressMeter, level: Int32 = 6, log: @escaping (String) -> Void) {
        self.parameters = parameters; self.destination = destination; self.producer = producer; self.meter = meter; self.level = level; self.log = log
    }

    public func run() throws -> Summary {
        let manifestName = ExportManifest.name(for: parameters)
        var manifest = ExportManifest(parameters: parameters)
        manifest.blockHash = producer.anchor
        if let bytes = try destination.read(manifestName) {
            let found = try ExportManifest.decode(bytes, name: "\(destination)/\(manifestName)")
            let differ = found.parameters.differences(from: parameters)
            guard differ.isEmpty else {
                throw ExportProblem("\(destination) already holds an export of \(found.parameters.summary) made with different \(differ.joined(separator: ", ")); "
                    + "rerun with the same arguments to continue it, or export to another --to")
            }
            if found.blockHash != producer.anchor {
                throw ExportProblem("\(destination)/\(manifestName) was exported from block hash \(found.blockHash ?? "?"), but the node now has \(producer.anchor ?? "?") at block \(parameters.block.map(String.init) ?? "?"), "
                    + "a reorganisation below the block: remove that export (or use another --to) to start over")
            }
            manifest.chunks = try verified(found.chunks)
            if !manifest.chunks.isEmpty {
                log("resuming \(parameters.summary) in \(destination): \(manifest.chunks.count) chunk(s) already complete and verified")
            }
        }
        var summary = Summary(manifest: manifestName)
        summary.kept = manifest.chunks.count
        meter.resumed(manifest.chunks.reduce(0) { $0 + producer.units(of: $1) })
        while let chunk = producer.plan(after: manifest.chunks.last, index: manifest.chunks.count) {
            let record = try makeRetrying(chunk, after: manifest.chunks.last)
            manifest.chunks.append(record)
            try destination.write(manifest.encoded(), as: manifestName)
            summary.made += 1
        }
        manifest.complete = true
        try destination.write(manifest.encoded(), as: manifestName)
        meter.finish()
        summary.chunks = manifest.chunks.count
        summary.lines = manifest.chunks.reduce(0) { $0 + $1.lines }
        summary.bytes = manifest.chunks.reduce(0) { $0 + $1.bytes }
        return summary
    }

    /// The recorded chunks that are still what they were: the longest prefix that matches
    /// the plan and whose files check out. A chunk after a bad one is made again too, since
    /// each chunk's start depends on the one before.
    func verified(_ records: [ChunkRecord]) throws -> [ChunkRecord] {
        var good = [ChunkRecord]()
        for r in records {
            guard let planned = producer.plan(after: good.last, index: good.count), planned.file == r.file else {
                log("manifest lists \(r.file), which this export's plan does not have next; making the chunks from there again")
                break
            }
            guard try destination.holds(r.file, bytes: r.bytes, sha256: r.sha256) else {
                log("\(r.file): missing or not the recorded size and checksum; making it and the chunks after it again")
                break
            }
            good.append(r)
        }
        return good
    }

    /// A chunk whose blocks did not chain (a reorg while it was read) is read again: the
    /// node's answers settle on one branch once the reorg is applied.
    func makeRetrying(_ chunk: PlannedChunk, after previous: ChunkRecord?) throws -> ChunkRecord {
        var attempt = 1
        while true {
            let before = meter.done
            do { return try make(chunk, after: previous) } catch let e as ChunkInconsistent where attempt < Self.attempts {
                log("\(chunk.file): \(e); reading it again (attempt \(attempt + 1) of \(Self.attempts))")
                meter.retract(meter.done - before)
                attempt += 1
                usleep(useconds_t(200_000 * attempt))
            }
        }
    }

    static let attempts = 4

    func make(_ chunk: PlannedChunk, after previous: ChunkRecord?) throws -> ChunkRecord {
        let tmp = (destination.scratch as NSString).appendingPathComponent("." + chunk.file + ".partial")
        var stored = false
        defer { if !stored { try? FileManager.default.removeItem(atPath: tmp) } }
        let sink = LineSink(try GzipFileWriter(path: tmp, level: level))
        let outcome = try producer.produce(chunk, into: sink) { meter.advance($0) }
        try sink.finish()
        if let before = previous?.lastHash, let parent = outcome.firstParentHash, before != parent {
            throw ExportProblem("block \(chunk.firstBlock ?? 0) names parent \(parent), but \(previous!.file) ends with block \(before): the chain was reorganised "
                + "across blocks already exported. Export only up to the finalized head, or delete \(previous!.file) and rerun: the chunks from it on are made again")
        }
        let (bytes, sha) = try fileSHA256(tmp)
        try destination.store(file: tmp, as: chunk.file)
        stored = true
        var r = ChunkRecord(file: chunk.file, lines: sink.lines, bytes: bytes, sha256: sha)
        r.firstBlock = chunk.firstBlock
        r.lastBlock = chunk.lastBlock
        r.lastHash = outcome.lastHash
        r.after = chunk.after
        r.next = outcome.next
        return r
    }
}
