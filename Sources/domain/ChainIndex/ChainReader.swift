import Chain
import Storage

/// Read queries over the chain index inside one LMDB read transaction: a consistent
/// snapshot that never blocks the writer, so a request that makes several reads sees one
/// state of the chain even while blocks are applied or rewound. Answers are the stored
/// upstream JSON.
public struct ChainView {
    let index: ChainIndex
    let txn: ReadTransaction
    public func head(_ cid: UInt64, _ kind: HeadKind = .latest) throws -> ChainIndex.Head? {
        try index.head(cid, kind, txn)
    }

    /// Every chain the index holds blocks of, with its latest head, by chain id.
    public func latestHeads() throws -> [(chainId: UInt64, head: ChainIndex.Head)] {
        var ids = [UInt64]()
        try txn.forEach(in: index.tables.heads) { key, _ in
            // Keys are the chain id (8 bytes, big-endian) and the head kind.
            if key.count == 9, key[8] == HeadKind.latest.rawValue { ids.append(key.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }) }
            return true
        }
        return try ids.compactMap { id in try head(id).map { (id, $0) } }
    }

    /// How far finality trails the chain: latest, safe and finalized heads as indexed, and
    /// latest − finalized in blocks and in seconds (the two blocks' timestamps). nil until
    /// the chain has a latest head; the lags are nil until it has a finalized one.
    public struct Finality: Equatable, Sendable {
        public var latest: UInt64
        public var safe: UInt64?
        public var finalized: UInt64?
        public var lagBlocks: UInt64?
        public var lagSeconds: UInt64?
    }

    public func finality(_ cid: UInt64) throws -> Finality? {
        guard let latest = try head(cid) else { return nil }
        let safe = try head(cid, .safe)?.number, finalized = try head(cid, .finalized)?.number
        var f = Finality(latest: latest.number, safe: safe, finalized: finalized)
        if let fin = finalized {
            precondition(fin <= latest.number, "the finalized head is capped at the latest at apply")
            f.lagBlocks = latest.number - fin
            func time(_ n: UInt64) throws -> UInt64? {
                try block(cid, number: n, fullTransactions: false)?.objectValue.flatMap { try? $0.quantity("timestamp") }
            }
            if let t1 = try time(latest.number), let t0 = try time(fin) { f.lagSeconds = t1 >= t0 ? t1 - t0 : 0 }
        }
        return f
    }

    /// A block's timestamp, read without parsing the whole block (every scrape asks for the
    /// head's); nil when the block is not indexed.
    public func blockTimestamp(_ cid: UInt64, number: UInt64) throws -> UInt64? {
        guard let raw = try txn.get(index.tables.blocks, ChainKey.block(cid, number)) else { return nil }
        if let r = try? JSONSpans.member(raw, 0..<raw.count, "timestamp"), r.count > 4, raw[r.lowerBound] == UInt8(ascii: "\""),
           raw[r.lowerBound + 1] == UInt8(ascii: "0"), raw[r.lowerBound + 2] == UInt8(ascii: "x"),
           let t = UInt64(String(decoding: raw[(r.lowerBound + 3)..<(r.upperBound - 1)], as: UTF8.self), radix: 16) {
            return t
        }
        guard let o = try? JSON.parse(raw).objectValue, let t = try? o.quantity("timestamp") else {
            throw CorruptIndex(table: "chain_blocks", key: "chain \(cid) block \(number)", problem: "not a block object with a timestamp")
        }
        return t
    }

    public func blockNumber(_ cid: UInt64, hash: Hash32) throws -> UInt64? {
        try txn.get(index.tables.blockByHash, ChainKey.hash(cid, hash)).map { ChainIndex.u64($0) }
    }

    /// eth_getBlockByNumber / ByHash shape: full transaction objects or their hashes.
    public func block(_ cid: UInt64, number: UInt64, fullTransactions: Bool) throws -> JSONValue? {
        try blockJSON(cid, number: number, fullTransactions: fullTransactions).map { try JSON.parse($0) }
    }

    /// The same as JSON text, spliced from the stored bytes without parsing them: the
    /// stored block holds its transactions as hashes; the full form puts the stored
    /// transaction objects in their place.
    public func blockJSON(_ cid: UInt64, number: UInt64, fullTransactions: Bool) throws -> [UInt8]? {
        guard let raw = try txn.get(index.tables.blocks, ChainKey.block(cid, number)) else { return nil }
        guard fullTransactions else { return raw }
        guard let range = ChainIndex.transactionsArray(in: raw) else { throw FieldError(field: "transactions", problem: "stored block \(number) has no transactions array") }
        var out = [UInt8]()
        let txs = try txn.entries(in: index.tables.txs, prefix: ChainKey.block(cid, number))
        out.reserveCapacity(raw.count + txs.reduce(0) { $0 + $1.value.count + 1 })
        out += raw[..<range.lowerBound]
        out.append(UInt8(ascii: "["))
        for (i, t) in txs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += t.value
        }
        out.append(UInt8(ascii: "]"))
        out += raw[range.upperBound...]
        return out
    }

    public func transaction(_ cid: UInt64, hash: Hash32) throws -> JSONValue? {
        try transactionJSON(cid, hash: hash).map { try JSON.parse($0) }
    }

    public func transactionJSON(_ cid: UInt64, hash: Hash32) throws -> [UInt8]? {
        guard let loc = try txn.get(index.tables.txByHash, ChainKey.hash(cid, hash)), loc.count == 12 else { return nil }
        return try txn.get(index.tables.txs, ChainKey.block(cid, ChainIndex.u64(Array(loc[0..<8]))).appending(UInt32(ChainIndex.u64(Array(loc[8..<12])))))
    }

    public func transaction(_ cid: UInt64, block: UInt64, index position: UInt32) throws -> JSONValue? {
        try txn.get(index.tables.txs, ChainKey.position(cid, block, position)).map { try JSON.parse($0) }
    }

    public func receipt(_ cid: UInt64, hash: Hash32) throws -> JSONValue? {
        try receiptJSON(cid, hash: hash).map { try JSON.parse($0) }
    }

    public func receiptJSON(_ cid: UInt64, hash: Hash32) throws -> [UInt8]? {
        guard let loc = try txn.get(index.tables.txByHash, ChainKey.hash(cid, hash)), loc.count == 12 else { return nil }
        return try txn.get(index.tables.receipts, ChainKey.block(cid, ChainIndex.u64(Array(loc[0..<8]))).appending(UInt32(ChainIndex.u64(Array(loc[8..<12])))))
    }

    public func receipts(_ cid: UInt64, block: UInt64) throws -> [JSONValue]? {
        try receiptsJSON(cid, block: block).map { try $0.map { try JSON.parse($0) } }
    }

    /// Each receipt's stored JSON text, in transaction order; nil when the block is not indexed.
    public func receiptsJSON(_ cid: UInt64, block: UInt64) throws -> [[UInt8]]? {
        guard try txn.contains(index.tables.blocks, ChainKey.block(cid, block)) else { return nil }
        return try txn.entries(in: index.tables.receipts, prefix: ChainKey.block(cid, block)).map(\.value)
    }

    public func logs(_ cid: UInt64, _ f: ChainIndex.LogFilter, limit: Int = 10_000) throws -> [JSONValue] {
        try logsJSON(cid, f, limit: limit).map { try JSON.parse($0) }
    }

    /// Logs matching the filter, in (block, logIndex) order, as their stored JSON text.
    /// With two or more single-valued constraints (one address, a topic at a position),
    /// their index ranges are intersected by leapfrogging, so the work follows the most
    /// selective of them; otherwise candidates come from the address index when addresses
    /// are given, else from the topic index of the first constrained position, else from a
    /// scan of the range. Every other constraint is checked against the index keys too, so
    /// no log is parsed. Too many candidates is `TooManyResults`, never a short answer.
    public func logsJSON(_ cid: UInt64, _ f: ChainIndex.LogFilter, limit: Int = 10_000) throws -> [[UInt8]] {
        var positions = [(UInt64, UInt32)]()
        // Saturating: callers that want every log pass Int.max.
        let candidateCap = limit >= (Int.max - 1000) / 4 ? Int.max : limit * 4 + 1000
        func collect(_ table: Table, _ prefix: Key) throws {
            let lo = prefix.appending(f.fromBlock)
            let hi: [UInt8]? = f.toBlock == UInt64.max ? ChainIndex.increment(prefix.bytes) : prefix.appending(f.toBlock + 1).bytes
            try txn.forEach(in: table, KeyRange(from: lo, upTo: hi)) { key, _ in
                positions.append(Self.position(key))
                return positions.count <= candidateCap
            }
            if positions.count > candidateCap { throw ChainIndex.TooManyResults(limit: limit) }
        }
        let constrained = f.topics.enumerated().compactMap { p, options in options.map { (UInt8(p), Set($0)) } }
        let addresses = Set(f.addresses)
        var checkAddresses = !addresses.isEmpty
        var checkedTopics = Set<UInt8>()
        var streams = [LogStream]()
        if addresses.count == 1 { streams.append(LogStream(byAddress: true, prefix: Key(cid).appending(bytes: addresses.first!.bytes))) }
        for (pos, options) in constrained where options.count == 1 {
            streams.append(LogStream(byAddress: false, prefix: Key(cid).appending(pos).appending(bytes: options.first!.bytes)))
        }
        if streams.count >= 2 {
            positions = try intersect(streams, from: f.fromBlock, through: f.toBlock, cap: candidateCap, limit: limit)
            if addresses.count == 1 { checkAddresses = false }
            for (pos, options) in constrained where options.count == 1 { checkedTopics.insert(pos) }
        } else if !addresses.isEmpty {
            for a in addresses { try collect(index.tables.logsByAddress, Key(cid).appending(bytes: a.bytes)) }
            checkAddresses = false
        } else if let (pos, options) = constrained.first {
            for t in options { try collect(index.tables.logsByTopic, Key(cid).appending(pos).appending(bytes: t.bytes)) }
            checkedTopics.insert(pos)
        } else {
            try txn.forEach(in: index.tables.logs, KeyRange(from: ChainKey.block(cid, f.fromBlock),
                                                        upTo: f.toBlock == UInt64.max ? ChainIndex.increment(Key(cid).bytes) : ChainKey.block(cid, f.toBlock + 1).bytes)) { key, _ in
                positions.append(Self.position(key))
                return positions.count <= limit
            }
        }
        positions.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var out = [[UInt8]]()
        var last: (UInt64, UInt32)? = nil
        for p in positions {
            if let l = last, l == p { continue }
            last = p
            if checkAddresses {
                guard try addresses.contains(where: { try txn.contains(index.tables.logsByAddress, ChainKey.byAddress(cid, $0, p.0, p.1)) }) else { continue }
            }
            var ok = true
            for (pos, options) in constrained where !checkedTopics.contains(pos) {
                if try !options.contains(where: { try txn.contains(index.tables.logsByTopic, ChainKey.byTopic(cid, pos, $0, p.0, p.1)) }) { ok = false; break }
            }
            guard ok else { continue }
            guard let raw = try txn.get(index.tables.logs, ChainKey.position(cid, p.0, p.1)) else {
                throw CorruptIndex(table: "chain_logs", key: "\(p.0)/\(p.1)", problem: "a log index names a log that is not stored")
            }
            out.append(raw)
            if out.count > limit { throw ChainIndex.TooManyResults(limit: limit) }
        }
        return out
    }

    /// One index range a log filter constrains: the address index under one address, or the
    /// topic index under one (position, topic).
    struct LogStream {
        var byAddress: Bool
        var prefix: Key
    }

    /// Every index key ends in number(8) ‖ logIndex(4).
    static func position(_ key: UnsafeRawBufferPointer) -> (UInt64, UInt32) {
        precondition(key.count >= 12, "an index key ends in a log position")
        var n: UInt64 = 0, i: UInt32 = 0
        for b in key[(key.count - 12)..<(key.count - 4)] { n = n << 8 | UInt64(b) }
        for b in key[(key.count - 4)...] { i = i << 8 | UInt32(b) }
        return (n, i)
    }

    /// The log positions in blocks `from...through` present in every stream, in order. Each
    /// stream's cursor seeks to the largest position any stream has shown, so the cost
    /// is about (streams × the smallest stream's matches within the range) seeks.
    func intersect(_ streams: [LogStream], from: UInt64, through: UInt64, cap: Int, limit: Int) throws -> [(UInt64, UInt32)] {
        precondition(streams.count >= 2, "an intersection of one stream is the stream")
        var out = [(UInt64, UInt32)]()
        try txn.withCursor(index.tables.logsByAddress) { byAddress in
            try txn.withCursor(index.tables.logsByTopic) { byTopic in
                var target: (UInt64, UInt32) = (from, 0)
                var agreed = 0, k = 0
                while true {
                    let s = streams[k]
                    let cursor = s.byAddress ? byAddress : byTopic
                    guard try cursor.seek(atLeast: s.prefix.appending(target.0).appending(target.1)) else { return }
                    let found = cursor.withCurrent { key, _ -> (UInt64, UInt32)? in
                        guard key.count == s.prefix.bytes.count + 12, key.starts(with: s.prefix.bytes) else { return nil }
                        return Self.position(key)
                    }
                    guard let p = found, p.0 <= through else { return }
                    precondition(p.0 > target.0 || (p.0 == target.0 && p.1 >= target.1), "a seek lands at or after its target")
                    if p == target { agreed += 1 } else { target = p; agreed = 1 }
                    if agreed == streams.count {
                        out.append(p)
                        if out.count > cap { throw ChainIndex.TooManyResults(limit: limit) }
                        guard p.1 < UInt32.max || p.0 < UInt64.max else { return }
                        target = p.1 < UInt32.max ? (p.0, p.1 + 1) : (p.0 + 1, 0)
                        agreed = 0
                    }
                    k = (k + 1) % streams.count
                }
            }
        }
        return out
    }

    // MARK: state at a block
    // Internal: surfaces read state through `RequestView.read`, which applies the rule for
    // accounts the index never saw; these answer only what the index holds.

    func account(_ cid: UInt64, _ a: Address, at n: UInt64) throws -> AccountState? {
        try index.accountVersion(cid, a, atOrBelow: n, txn)
    }

    /// Code is stored whenever a non-empty code hash is, and never deleted (content-addressed,
    /// shared by rewound and kept blocks), so a missing entry is damage, not "no code".
    func code(hash: Hash32) throws -> [UInt8] {
        guard hash != AccountState.emptyCodeHash else { return [] }
        guard let code = try txn.get(index.tables.code, hash.bytes) else {
            throw CorruptIndex(table: "chain_code", key: hash.hex, problem: "no code stored for an account's code hash")
        }
        return code
    }

    /// The slot's value when the index has any record of it at or below the block.
    func knownStorage(_ cid: UInt64, _ a: Address, slot: Hash32, at n: UInt64) throws -> Hash32? {
        try index.slotVersion(cid, a, slot, atOrBelow: n, txn)
    }

    /// Whether the index has any record of the account at or below the block.
    func knowsAccount(_ cid: UInt64, _ a: Address, at n: UInt64) throws -> Bool { try account(cid, a, at: n) != nil }
}

extension ChainIndex {
    /// Runs `body` against one consistent snapshot of the index.
    public func view<R>(_ body: (ChainView) throws -> R) throws -> R {
        try env.read { txn in try body(ChainView(index: self, txn: txn)) }
    }

    /// The byte range of the `[...]` holding the transaction hashes in a stored block.
    static func transactionsArray(in raw: [UInt8]) -> Range<Int>? {
        try? JSONSpans.member(raw, 0..<raw.count, "transactions")
    }

    public struct LogFilter: Sendable {
        public var fromBlock: UInt64
        public var toBlock: UInt64
        public var addresses: [Address]
        /// Per position: nil matches anything, otherwise any of the listed topics.
        public var topics: [[Hash32]?]
        public init(fromBlock: UInt64, toBlock: UInt64, addresses: [Address] = [], topics: [[Hash32]?] = []) {
            self.fromBlock = fromBlock; self.toBlock = toBlock; self.addresses = addresses; self.topics = topics
        }
    }

    public struct TooManyResults: Error, CustomStringConvertible {
        public let limit: Int
        public var description: String { "query returned more than \(limit) results" }
    }

    static func u64(_ b: [UInt8]) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }

    /// The smallest byte string greater than every string with this prefix.
    static func increment(_ p: [UInt8]) -> [UInt8]? {
        var b = p
        while let last = b.last {
            if last < 0xff { b[b.count - 1] = last + 1; return b }
            b.removeLast()
        }
        return nil
    }
}
