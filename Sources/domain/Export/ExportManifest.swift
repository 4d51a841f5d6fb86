import Foundation

/// What an export holds.
public enum ExportKind: String, Codable, Sendable, CaseIterable {
    /// `eth_getBlockByNumber(n, false)`: headers with transaction hashes, one block a line.
    case blocks
    /// Every transaction object of the blocks, in block then index order.
    case transactions
    /// `eth_getLogs` over the range with the filter.
    case logs
    /// Accounts and storage at one block (`GET /v1/export/state`).
    case state
}

/// The arguments that decide an export's content: a rerun continues an export only when
/// they are all the same, so its chunks can be trusted to belong together.
public struct ExportParameters: Codable, Equatable, Sendable {
    public var kind: ExportKind
    /// The chain's slug; nil for the node's default chain.
    public var chain: String?
    /// blocks, transactions, logs: the inclusive range and its chunking.
    public var fromBlock: UInt64?
    public var toBlock: UInt64?
    public var chunkBlocks: UInt64?
    /// logs: addresses (any of them) and topics by position (nil: any; else any of them).
    public var addresses: [String]?
    public var topics: [[String]?]?
    /// state: the block and how many lines a chunk holds at most.
    public var block: UInt64?
    public var chunkEntries: Int?

    public init(kind: ExportKind, chain: String? = nil) { self.kind = kind; self.chain = chain }

    /// The names of the fields that differ, as CLI options.
    public func differences(from other: ExportParameters) -> [String] {
        var out = [String]()
        if kind != other.kind { out.append("the kind") }
        if chain != other.chain { out.append("--chain") }
        if fromBlock != other.fromBlock { out.append("--from-block") }
        if toBlock != other.toBlock { out.append("--to-block") }
        if chunkBlocks != other.chunkBlocks { out.append("--chunk-blocks") }
        if addresses != other.addresses { out.append("--address") }
        if topics != other.topics { out.append("--topic") }
        if block != other.block { out.append("--block") }
        if chunkEntries != other.chunkEntries { out.append("--chunk-entries") }
        return out
    }

    /// `blocks 100-199`, `state at block 5000`: how messages name the export.
    public var summary: String {
        if kind == .state { return "state at block \(block.map(String.init) ?? "?")" }
        return "\(kind.rawValue) \(fromBlock.map(String.init) ?? "?")-\(toBlock.map(String.init) ?? "?")"
    }
}

/// One finished chunk: a gzip file of JSON lines, and what identifies its bytes.
public struct ChunkRecord: Codable, Equatable, Sendable {
    public var file: String
    /// Block ranges: the blocks the chunk covers.
    public var firstBlock: UInt64?
    public var lastBlock: UInt64?
    /// blocks, transactions: the hash of the chunk's last block, which the next chunk's
    /// first block must name as its parent (so chunks made at different times still form
    /// one chain).
    public var lastHash: String?
    /// state: the cursor the chunk starts after (nil: the beginning) and the one it ends at
    /// (nil: the end of the state).
    public var after: String?
    public var next: String?
    public var lines: Int
    public var bytes: Int
    public var sha256: String

    public init(file: String, lines: Int, bytes: Int, sha256: String) {
        self.file = file; self.lines = lines; self.bytes = bytes; self.sha256 = sha256
    }
}

/// The export's progress, stored next to its chunks and rewritten after each one: a
/// rerun trusts the chunks listed here (once their size and checksum check out) and makes
/// the rest.
public struct ExportManifest: Codable, Equatable, Sendable {
    public static let formatVersion = 1
    public var format: Int
    public var parameters: ExportParameters
    /// state: the hash of the exported block, compared on every page.
    public var blockHash: String?
    public var chunks: [ChunkRecord]
    public var complete: Bool

    public init(parameters: ExportParameters) {
        format = Self.formatVersion
        self.parameters = parameters
        chunks = []
        complete = false
    }

    /// Where the manifest of an export with these parameters is kept.
    public static func name(for p: ExportParameters) -> String {
        p.kind == .state ? "state-\(p.block ?? 0).manifest.json" : "\(p.kind.rawValue)-\(p.fromBlock ?? 0)-\(p.toBlock ?? 0).manifest.json"
    }

    public func encoded() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings and integers cannot fail.
        return Array(try! e.encode(self)) + [UInt8(ascii: "\n")]
    }

    public struct Problem: Error, CustomStringConvertible { public let description: String }

    public static func decode(_ bytes: [UInt8], name: String) throws -> ExportManifest {
        let m: ExportManifest
        do { m = try JSONDecoder().decode(ExportManifest.self, from: Data(bytes)) } catch {
            throw Problem(description: "\(name) is not an export manifest (\(error)); move it away to start over")
        }
        guard m.format == formatVersion else {
            throw Problem(description: "\(name) has format \(m.format); this infrastack writes format \(formatVersion)")
        }
        return m
    }
}
