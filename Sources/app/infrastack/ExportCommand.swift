import Chain
import ChainIndex
import Export
import Foundation
import Telemetry

/// `infrastack export blocks|transactions|logs|state`: a running node's chain data as
/// gzip-compressed JSON lines, in chunks, to a directory or S3; resumable.
enum ExportCommand {
    static let usage = """
    usage: infrastack export blocks|transactions|logs --endpoint URL --from-block A --to-block B --to DIR|s3://BUCKET/PREFIX
                             [--chain SLUG] [--chunk-blocks N] [--batch N] [--level 1-9]
                             [--address ADDR[,ADDR...]]... [--topic T[,T...]]... [--topic1 …] [--topic2 …] [--topic3 …]
           infrastack export state --endpoint URL --block N|latest|safe|finalized --to DIR|s3://BUCKET/PREFIX
                             [--chain SLUG] [--chunk-entries N] [--level 1-9]

    Writes what the node at --endpoint answers, one JSON object a line, gzip-compressed,
    in chunk files named by kind and range: blocks-1000-1999.jsonl.gz (blocks A..B as
    eth_getBlockByNumber(n, false) answers them), transactions-… (every transaction object
    of those blocks, in order), logs-… (eth_getLogs over the range: --address any of,
    --topic the first topic any of, --topic1..3 the later positions), or for state
    state-N-000000.jsonl.gz (the accounts and non-zero storage slots the node's index holds
    at block N: {"type":"account",address,balance,nonce,codeHash,code} each followed by
    its {"type":"storage",address,slot,value} lines; accounts no indexed block touched,
    such as genesis allocations idle since, are not in the index and not exported).

    Block chunks are --chunk-blocks blocks (default 1000) aligned to multiples of it;
    state chunks hold at most --chunk-entries lines (default 100000). After each chunk a
    manifest (blocks-A-B.manifest.json, state-N.manifest.json) records its size and
    SHA-256; rerunning the same command continues after the last complete chunk, checking
    every recorded one first (on S3: its size) and making again any that does not check
    out. Consecutive block chunks must chain (each first block's parent is the previous
    chunk's last block); export up to the finalized head on a chain that reorganises.
    Progress goes to standard error once a second; a summary to standard output.

    Credentials: blocks, transactions and logs use the read API's key (--api-key-file FILE
    or INFRASTACK_API_KEY; none on an open node), state the admin plane's token
    (--token-file FILE or INFRASTACK_ADMIN_TOKEN: a cluster admin, or an admin or operator
    of the organisation owning the chain). --ca-file FILE (or INFRASTACK_CA_FILE) for
    https:// endpoints. s3:// destinations take the AWS CLI's settings: AWS_ENDPOINT_URL,
    AWS_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials.
    """

    static let valued: Set<String> = ["endpoint", "chain", "from-block", "to-block", "block", "to", "chunk-blocks", "chunk-entries", "batch", "level",
                                      "address", "topic", "topic1", "topic2", "topic3", "api-key-file", "token-file", "ca-file", "timeout-ms"]

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: valued) { o in
            guard let kindText = o.positional.first else { throw Options.Problem(description: "missing what to export: blocks, transactions, logs or state") }
            guard let kind = ExportKind(rawValue: kindText) else { throw Options.Problem(description: "cannot export '\(kindText)': blocks, transactions, logs or state") }
            guard o.positional.count == 1 else { throw Options.Problem(description: "unexpected argument '\(o.positional[1])'") }
            let endpoint = try o.require("endpoint")
            let to = try o.require("to")
            var chain: String? = nil
            if let c = o.values["chain"] {
                if let why = ChainSpec.slugProblem(c) { throw Options.Problem(description: "--chain \(c): \(why)") }
                chain = c
            }
            let level = try number(o, "level", default: 6, 1...9)
            let timeout = try number(o, "timeout-ms", default: 60_000, 100...3_600_000)
            let filterOptions = ["address", "topic", "topic1", "topic2", "topic3"]
            if kind != .logs, let f = filterOptions.first(where: { o.values[$0] != nil }) {
                throw Options.Problem(description: "--\(f) filters logs; it has no meaning for a \(kind.rawValue) export")
            }
            if kind == .state {
                for k in ["from-block", "to-block", "chunk-blocks", "batch"] where o.values[k] != nil {
                    throw Options.Problem(description: "--\(k) is for block ranges; a state export takes --block N")
                }
            } else {
                for k in ["block", "chunk-entries"] where o.values[k] != nil {
                    throw Options.Problem(description: "--\(k) is for state exports; \(kind.rawValue) take --from-block and --to-block")
                }
            }

            // Opened before the node is asked anything, so a bad --to fails first.
            let destination = try openDestination(to)
            var params = ExportParameters(kind: kind, chain: chain)
            let producer: ChunkProducer
            let client: NodeClient
            let log: (String) -> Void = { FileHandle.standardError.write(Data("export: \($0)\n".utf8)) }
            if kind == .state {
                let blockText = try o.require("block")
                guard ["latest", "safe", "finalized"].contains(blockText) || blockNumber(blockText) != nil else {
                    throw Options.Problem(description: "--block must be a block number, or latest, safe or finalized; not '\(blockText)'")
                }
                let chunkEntries = try number(o, "chunk-entries", default: 100_000, 1...10_000_000)
                client = try NodeClient(endpoint: endpoint, chain: chain, apiKey: nil, adminHeaders: try adminAuthorization(o), tls: clientTLS(o), timeoutMillis: timeout, batch: 1)
                // Pins the block (a tag moves) and its hash, which every later page must match.
                let anchor = try client.statePage(block: blockNumber(blockText).map(String.init) ?? blockText, after: nil, limit: 0)
                if blockNumber(blockText) == nil { log("block \(blockText) is \(anchor.block) (\(anchor.blockHash)); to resume this export, rerun with --block \(anchor.block)") }
                params.block = anchor.block
                params.chunkEntries = chunkEntries
                producer = StateProducer(block: anchor.block, blockHash: anchor.blockHash, chunkEntries: chunkEntries, source: client)
            } else {
                let first = try block(o, "from-block"), last = try block(o, "to-block")
                guard first <= last else { throw Options.Problem(description: "--from-block \(first) is after --to-block \(last)") }
                let chunkBlocks = UInt64(try number(o, "chunk-blocks", default: 1000, 1...1_000_000))
                let batch = try number(o, "batch", default: 100, 1...10_000)
                var filter = LogFilterArgs()
                if kind == .logs {
                    for a in values(o, "address") {
                        do { filter.addresses.append(try Address(hex: a).hex) } catch { throw Options.Problem(description: "--address \(a): \(error)") }
                    }
                    let positions = ["topic", "topic1", "topic2", "topic3"].map { k -> [String]? in
                        let v = values(o, k)
                        return v.isEmpty ? nil : v
                    }
                    for (k, list) in zip(["topic", "topic1", "topic2", "topic3"], positions) {
                        for t in list ?? [] where (try? Hash32(hex: t)) == nil { throw Options.Problem(description: "--\(k) \(t): a topic is 0x and 64 hex digits") }
                    }
                    if let lastUsed = positions.lastIndex(where: { $0 != nil }) {
                        filter.topics = positions[...lastUsed].map { $0?.map { t in (try! Hash32(hex: t)).hex } }
                    }
                    params.addresses = filter.addresses
                    params.topics = filter.topics
                }
                client = try NodeClient(endpoint: endpoint, chain: chain, apiKey: try apiKey(o), adminHeaders: [], tls: clientTLS(o), timeoutMillis: timeout, batch: batch)
                let head = try client.head()
                guard last <= head else { throw ExportProblem("--to-block \(last) is above the head of \(endpoint)\(chain.map { " (chain \($0))" } ?? ""), block \(head)") }
                params.fromBlock = first
                params.toBlock = last
                params.chunkBlocks = chunkBlocks
                producer = BlockRangeProducer(kind: kind, from: first, through: last, chunkBlocks: chunkBlocks, filter: filter, source: client)
            }
            let meter = ProgressMeter(what: "export \(params.summary)", unit: producer.unit, total: producer.totalUnits) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            let started = Date()
            let s = try ChunkedExport(parameters: params, destination: destination, producer: producer, meter: meter, level: Int32(level), log: log).run()
            let seconds = Date().timeIntervalSince(started)
            print("exported \(params.summary) to \(destination): \(s.chunks) chunk(s) (\(s.kept) already complete, \(s.made) made), \(s.lines) lines, "
                  + "\(s.bytes) bytes compressed, manifest \(s.manifest), \(String(format: "%.1f", seconds)) s")
            return 0
        }
    }

    /// Decimal, or a 0x quantity as JSON-RPC writes block numbers.
    static func blockNumber(_ s: String) -> UInt64? {
        s.hasPrefix("0x") ? try? Hex.decodeQuantity(s) : UInt64(s)
    }

    static func block(_ o: Options, _ k: String) throws -> UInt64 {
        let s = try o.require(k)
        guard let n = blockNumber(s) else {
            throw Options.Problem(description: "--\(k) must be a block number (decimal or 0x…), not '\(s)'; a rerun has to name the same range, so tags are not taken")
        }
        return n
    }

    static func number(_ o: Options, _ k: String, default d: Int, _ range: ClosedRange<Int>) throws -> Int {
        guard let s = o.values[k] else { return d }
        guard let n = Int(s), range.contains(n) else { throw Options.Problem(description: "--\(k) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(s)'") }
        return n
    }

    /// Every value of a repeatable, comma-separated option.
    static func values(_ o: Options, _ k: String) -> [String] {
        (o.all[k] ?? []).flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
    }

    /// The read API's key from --api-key-file or INFRASTACK_API_KEY (never a flag value,
    /// which `ps` and shell history would show); nil for an open node.
    static func apiKey(_ o: Options) throws -> String? {
        if let f = o.values["api-key-file"] {
            guard let d = FileManager.default.contents(atPath: f) else { throw Options.Problem(description: "--api-key-file: cannot read \(f)") }
            let k = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !k.isEmpty else { throw Options.Problem(description: "--api-key-file \(f) is empty") }
            return k
        }
        let k = ProcessInfo.processInfo.environment["INFRASTACK_API_KEY"] ?? ""
        return k.isEmpty ? nil : k
    }
}
