import Chain
import Storage

/// Read queries over the chain index, each in one LMDB read transaction (a consistent
/// snapshot; never blocks the writer). Answers are the stored upstream JSON.
extension ChainIndex {
    public func head(_ cid: UInt64, _ kind: HeadKind = .latest) throws -> Head? {
        try env.read { txn in try self.head(cid, kind, txn) }
    }

    public func blockNumber(_ cid: UInt64, hash: Hash32) throws -> UInt64? {
        try env.read { txn in try txn.get(self.tables.blockByHash, ChainKey.hash(cid, hash)).map { Self.u64($0) } }
    }

    /// eth_getBlockByNumber / ByHash shape: full transaction objects or their hashes.
    public func block(_ cid: UInt64, number: UInt64, fullTransactions: Bool) throws -> JSONValue? {
        try env.read { txn in
            guard let raw = try txn.get(self.tables.blocks, ChainKey.block(cid, number)), var o = try JSON.parse(raw).objectValue else { return nil }
            if fullTransactions {
                o["transactions"] = .array(try txn.entries(in: self.tables.txs, prefix: ChainKey.block(cid, number)).map { try JSON.parse($0.value) })
            }
            return .object(o)
        }
    }

    public func transaction(_ cid: UInt64, hash: Hash32) throws -> JSONValue? {
        try env.read { txn in
            guard let loc = try txn.get(self.tables.txByHash, ChainKey.hash(cid, hash)), loc.count == 12 else { return nil }
            return try txn.get(self.tables.txs, ChainKey.block(cid, Self.u64(Array(loc[0..<8]))).appending(UInt32(Self.u64(Array(loc[8..<12])))))
                .map { try JSON.parse($0) }
        }
    }

    public func transaction(_ cid: UInt64, block: UInt64, index: UInt32) throws -> JSONValue? {
        try env.read { txn in try txn.get(self.tables.txs, ChainKey.position(cid, block, index)).map { try JSON.parse($0) } }
    }

    public func receipt(_ cid: UInt64, hash: Hash32) throws -> JSONValue? {
        try env.read { txn in
            guard let loc = try txn.get(self.tables.txByHash, ChainKey.hash(cid, hash)), loc.count == 12 else { return nil }
            return try txn.get(self.tables.receipts, ChainKey.block(cid, Self.u64(Array(loc[0..<8]))).appending(UInt32(Self.u64(Array(loc[8..<12])))))
                .map { try JSON.parse($0) }
        }
    }

    public func receipts(_ cid: UInt64, block: UInt64) throws -> [JSONValue]? {
        try env.read { txn in
            guard try txn.contains(self.tables.blocks, ChainKey.block(cid, block)) else { return nil }
            return try txn.entries(in: self.tables.receipts, prefix: ChainKey.block(cid, block)).map { try JSON.parse($0.value) }
        }
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

    /// Logs matching the filter, in (block, logIndex) order. Uses the address index when
    /// addresses are given, else the topic index for the first constrained position, and
    /// only scans the logs table when the filter constrains neither.
    public func logs(_ cid: UInt64, _ f: LogFilter, limit: Int = 10_000) throws -> [JSONValue] {
        try env.read { txn in
            var positions = [(UInt64, UInt32)]()
            func collect(_ table: Table, _ prefix: Key) throws {
                let lo = prefix.appending(f.fromBlock)
                let hi: [UInt8]? = f.toBlock == UInt64.max ? Self.increment(prefix.bytes) : prefix.appending(f.toBlock + 1).bytes
                try txn.forEach(in: table, KeyRange(from: lo, upTo: hi)) { key, _ in
                    let tail = Array(key[(key.count - 12)...])
                    positions.append((Self.u64(Array(tail[0..<8])), UInt32(Self.u64(Array(tail[8..<12])))))
                    return positions.count <= limit * 4 + 1000
                }
            }
            if !f.addresses.isEmpty {
                for a in Set(f.addresses) { try collect(self.tables.logsByAddress, Key(cid).appending(bytes: a.bytes)) }
            } else if let (pos, options) = f.topics.enumerated().first(where: { $0.element != nil }).map({ ($0.offset, $0.element!) }) {
                for t in Set(options) { try collect(self.tables.logsByTopic, Key(cid).appending(UInt8(pos)).appending(bytes: t.bytes)) }
            } else {
                try txn.forEach(in: self.tables.logs, KeyRange(from: ChainKey.block(cid, f.fromBlock),
                                                            upTo: f.toBlock == UInt64.max ? Self.increment(Key(cid).bytes) : ChainKey.block(cid, f.toBlock + 1).bytes)) { key, _ in
                    let tail = Array(key[(key.count - 12)...])
                    positions.append((Self.u64(Array(tail[0..<8])), UInt32(Self.u64(Array(tail[8..<12])))))
                    return positions.count <= limit
                }
            }
            positions.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var out = [JSONValue]()
            var last: (UInt64, UInt32)? = nil
            for p in positions {
                if let l = last, l == p { continue }
                last = p
                guard let raw = try txn.get(self.tables.logs, ChainKey.position(cid, p.0, p.1)) else { continue }
                let log = try JSON.parse(raw)
                if Self.matches(log, f) {
                    out.append(log)
                    if out.count > limit { throw TooManyResults(limit: limit) }
                }
            }
            return out
        }
    }

    static func matches(_ log: JSONValue, _ f: LogFilter) -> Bool {
        if !f.addresses.isEmpty {
            guard let a = log["address"]?.stringValue, let addr = try? Address(hex: a.lowercased()), f.addresses.contains(addr) else { return false }
        }
        let topics = (log["topics"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { try? Hash32(hex: $0) } }
        for (i, options) in f.topics.enumerated() {
            guard let options else { continue }
            guard i < topics.count, options.contains(topics[i]) else { return false }
        }
        return true
    }

    // MARK: state at a block

    public func balance(_ cid: UInt64, _ a: Address, at n: UInt64) throws -> U256 {
        try env.read { txn in try self.accountVersion(cid, a, atOrBelow: n, txn)?.balance ?? .zero }
    }

    public func nonce(_ cid: UInt64, _ a: Address, at n: UInt64) throws -> UInt64 {
        try env.read { txn in try self.accountVersion(cid, a, atOrBelow: n, txn)?.nonce ?? 0 }
    }

    public func code(_ cid: UInt64, _ a: Address, at n: UInt64) throws -> [UInt8] {
        try env.read { txn in
            guard let st = try self.accountVersion(cid, a, atOrBelow: n, txn), st.codeHash != AccountState.emptyCodeHash else { return [] }
            return try txn.get(self.tables.code, st.codeHash.bytes) ?? []
        }
    }

    public func storage(_ cid: UInt64, _ a: Address, slot: Hash32, at n: UInt64) throws -> Hash32 {
        try env.read { txn in try self.slotVersion(cid, a, slot, atOrBelow: n, txn) ?? .zero }
    }

    /// The slot's value when the index has any record of it at or below the block.
    public func knownStorage(_ cid: UInt64, _ a: Address, slot: Hash32, at n: UInt64) throws -> Hash32? {
        try env.read { txn in try self.slotVersion(cid, a, slot, atOrBelow: n, txn) }
    }

    /// Whether the index has any record of the account at or below the block (for callers
    /// that must tell "zero" from "never seen").
    public func knowsAccount(_ cid: UInt64, _ a: Address, at n: UInt64) throws -> Bool {
        try env.read { txn in try self.accountVersion(cid, a, atOrBelow: n, txn) != nil }
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
