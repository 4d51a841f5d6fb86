import Chain

/// Blocks, transactions and logs as a node answers them over JSON-RPC.
public protocol ChainSource: AnyObject {
    /// Each block of `range`, in order: its number and `eth_getBlockByNumber(n, full)`'s
    /// result as the byte range `span` of `bytes`.
    func blocks(_ range: ClosedRange<UInt64>, fullTransactions: Bool, _ each: (_ number: UInt64, _ bytes: [UInt8], _ span: Range<Int>) throws -> Void) throws
    /// Every log of `range` matching `filter`, in order, each as a span of `bytes`.
    func logs(_ range: ClosedRange<UInt64>, _ filter: LogFilterArgs, _ each: (_ bytes: [UInt8], _ span: Range<Int>) throws -> Void) throws
}

/// An `eth_getLogs` filter as the CLI took it (lowercase hex).
public struct LogFilterArgs: Equatable, Sendable {
    public var addresses: [String]
    /// By position: nil matches anything, else any of the topics.
    public var topics: [[String]?]
    public init(addresses: [String] = [], topics: [[String]?] = []) { self.addresses = addresses; self.topics = topics }
}

/// Chunks of whole blocks aligned to multiples of the chunk size (`blocks-1000-1999`), so
/// chunk names do not depend on where an export starts within one.
public enum BlockChunks {
    /// The last block of the chunk that starts at `start`.
    public static func end(of start: UInt64, size: UInt64, through last: UInt64) -> UInt64 {
        precondition(size > 0 && start <= last, "a chunk of at least one block, inside the range")
        let boundary = start / size * size
        let (end, overflow) = boundary.addingReportingOverflow(size - 1)
        return overflow ? last : min(end, last)
    }

    public static func ranges(from first: UInt64, through last: UInt64, size: UInt64) -> [ClosedRange<UInt64>] {
        var out = [ClosedRange<UInt64>]()
        var start = first
        while start <= last {
            let e = end(of: start, size: size, through: last)
            out.append(start...e)
            if e == last { break }
            start = e + 1
        }
        return out
    }

    public static func file(_ kind: ExportKind, _ r: ClosedRange<UInt64>) -> String { "\(kind.rawValue)-\(r.lowerBound)-\(r.upperBound).jsonl.gz" }
}

/// `blocks`, `transactions` and `logs` over a block range.
public final class BlockRangeProducer: ChunkProducer {
    let kind: ExportKind
    let first: UInt64
    let last: UInt64
    let size: UInt64
    let filter: LogFilterArgs
    let source: ChainSource
    /// Blocks per `eth_getLogs` call: within the node's `rpc.maxLogBlockRange` (10,000 by
    /// default); the source halves a call the node finds too large.
    let logBlocks: UInt64

    public init(kind: ExportKind, from first: UInt64, through last: UInt64, chunkBlocks: UInt64, filter: LogFilterArgs = LogFilterArgs(), source: ChainSource, logBlocks: UInt64 = 2000) {
        precondition(kind != .state && first <= last && chunkBlocks > 0, "a block kind over a non-empty range")
        self.kind = kind; self.first = first; self.last = last; size = chunkBlocks; self.filter = filter; self.source = source; self.logBlocks = logBlocks
    }

    public var unit: String { "blocks" }
    public var totalUnits: UInt64? { last - first + 1 }
    public var anchor: String? { nil }

    public func plan(after previous: ChunkRecord?, index: Int) -> PlannedChunk? {
        var start = first
        if let previous {
            guard let done = previous.lastBlock, done < last else { return nil }
            start = done + 1
        }
        let r = start...BlockChunks.end(of: start, size: size, through: last)
        return PlannedChunk(file: BlockChunks.file(kind, r), firstBlock: r.lowerBound, lastBlock: r.upperBound)
    }

    public func units(of record: ChunkRecord) -> UInt64 {
        guard let a = record.firstBlock, let b = record.lastBlock, a <= b else { return 0 }
        return b - a + 1
    }

    public func produce(_ chunk: PlannedChunk, into sink: LineSink, progress: (UInt64) -> Void) throws -> ChunkOutcome {
        guard let lo = chunk.firstBlock, let hi = chunk.lastBlock else { preconditionFailure("block chunks have a range") }
        if kind == .logs {
            var start = lo
            while true {
                let end = hi - start >= logBlocks ? start + logBlocks - 1 : hi
                try source.logs(start...end, filter) { b, span in try sink.line(b[span]) }
                progress(end - start + 1)
                if end == hi { return ChunkOutcome() }
                start = end + 1
            }
        }
        var outcome = ChunkOutcome()
        var previousHash: String?
        try source.blocks(lo...hi, fullTransactions: kind == .transactions) { n, b, span in
            let fields = try Self.fields(n, b, span)
            if let previousHash, fields.parentHash != previousHash {
                throw ChunkInconsistent("block \(n) names parent \(fields.parentHash), but block \(n - 1) read as \(previousHash)")
            }
            if previousHash == nil { outcome.firstParentHash = fields.parentHash }
            previousHash = fields.hash
            if kind == .blocks {
                try sink.line(b[span])
            } else {
                guard let txs = fields.transactions else { throw ExportProblem("block \(n) has no transactions array") }
                for t in try JSONSpans.elements(b, txs) {
                    guard b[t.lowerBound] == UInt8(ascii: "{") else { throw ExportProblem("block \(n) lists transaction hashes, not objects: the node ignored fullTransactions") }
                    try sink.line(b[t])
                }
            }
            progress(1)
        }
        outcome.lastHash = previousHash
        return outcome
    }

    /// The few members continuity needs, read without building the block.
    static func fields(_ n: UInt64, _ b: [UInt8], _ span: Range<Int>) throws -> (hash: String, parentHash: String, transactions: Range<Int>?) {
        var hash: String?, parent: String?, number: String?, txs: Range<Int>?
        for m in try JSONSpans.members(b, span) {
            switch m.key {
            case "hash": hash = try? JSON.parse(Array(b[m.value])).stringValue
            case "parentHash": parent = try? JSON.parse(Array(b[m.value])).stringValue
            case "number": number = try? JSON.parse(Array(b[m.value])).stringValue
            case "transactions": txs = m.value
            default: break
            }
        }
        guard let hash, let parent else { throw ExportProblem("block \(n) has no hash or parentHash") }
        guard let number, (try? Hex.decodeQuantity(number)) == n else {
            throw ExportProblem("asked for block \(n), the node answered block \(number ?? "without a number")")
        }
        return (hash.lowercased(), parent.lowercased(), txs)
    }
}

/// One page of `GET /v1/export/state`.
public struct StatePage: Sendable {
    public var block: UInt64
    public var blockHash: String
    /// JSON lines, each ending in a newline.
    public var body: [UInt8]
    public var next: String?
    public init(block: UInt64, blockHash: String, body: [UInt8], next: String?) { self.block = block; self.blockHash = blockHash; self.body = body; self.next = next }
}

public protocol StateSource: AnyObject {
    /// Up to `limit` lines after `after`; `block` is a number or a tag.
    func statePage(block: String, after: String?, limit: Int) throws -> StatePage
}

/// `state` at one block, in chunks of at most `chunkEntries` lines; each chunk's pages all
/// must describe the block with the hash the export started from.
public final class StateProducer: ChunkProducer {
    let block: UInt64
    let blockHash: String
    let chunkEntries: Int
    let pageLimit: Int
    let source: StateSource

    public init(block: UInt64, blockHash: String, chunkEntries: Int, pageLimit: Int = 5000, source: StateSource) {
        precondition(chunkEntries > 0 && pageLimit > 0, "chunks and pages hold something")
        self.block = block; self.blockHash = blockHash; self.chunkEntries = chunkEntries; self.pageLimit = pageLimit; self.source = source
    }

    public var unit: String { "entries" }
    public var totalUnits: UInt64? { nil }
    public var anchor: String? { blockHash }

    public func plan(after previous: ChunkRecord?, index: Int) -> PlannedChunk? {
        if let previous, previous.next == nil { return nil }
        return PlannedChunk(file: "state-\(block)-\(String(repeating: "0", count: max(0, 6 - String(index).count)))\(index).jsonl.gz", after: previous?.next)
    }

    public func units(of record: ChunkRecord) -> UInt64 { UInt64(record.lines) }

    public func produce(_ chunk: PlannedChunk, into sink: LineSink, progress: (UInt64) -> Void) throws -> ChunkOutcome {
        var after = chunk.after
        var lines = 0
        repeat {
            let page = try source.statePage(block: String(block), after: after, limit: min(pageLimit, chunkEntries - lines))
            guard page.block == block, page.blockHash == blockHash else {
                throw ExportProblem("the node now has \(page.blockHash) at block \(page.block), not \(blockHash) as when the export began: a reorganisation below the block; export a finalized block")
            }
            var start = 0, count = 0
            for i in page.body.indices where page.body[i] == UInt8(ascii: "\n") {
                if i > start { try sink.line(page.body[start..<i]); count += 1 }
                start = i + 1
            }
            guard start == page.body.count else { throw ExportProblem("the node's state page does not end in a newline (a cut-off answer)") }
            lines += count
            progress(UInt64(count))
            after = page.next
        } while after != nil && lines < chunkEntries
        return ChunkOutcome(next: after)
    }
}
