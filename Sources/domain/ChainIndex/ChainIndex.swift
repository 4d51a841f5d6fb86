import ByteCodec
import Chain
import Storage

/// The chain index: applies verified blocks and rewinds to LMDB (inside the caller's
/// write transaction, so the apply path commits them together with the applied index
/// and digest), and answers the read queries the RPC layer needs.
///
/// Apply is deterministic and total: an entry that does not extend the indexed head
/// (wrong number or parent) is skipped identically on every replica and reported, never
/// half-applied. That is what makes "nothing indexed twice" hold when a new leader
/// re-proposes blocks its predecessor already committed. Stored state that apply could
/// never have left (a vanished head, a rewound block without its undo record) is not
/// skipped but thrown as `CorruptIndex`, which stops apply on every replica alike.
public final class ChainIndex: Sendable {
    public let tables: ChainTables
    let env: Environment

    public init(env: Environment) throws {
        self.env = env
        tables = try ChainTables(env: env)
    }

    public struct ApplyOutcome: Equatable, Sendable {
        public var applied: [UInt64] = []
        public var rewoundTo: UInt64?
        public var skipped: [String] = []
        public var events: [ChainEvent] = []
    }

    // MARK: apply

    public func apply(_ command: ChainCommand, in txn: WriteTransaction) throws -> ApplyOutcome {
        var out = ApplyOutcome()
        switch command {
        case .blocks(let cid, let blocks, let safe, let finalized):
            for b in blocks {
                let head = try checkedLatest(cid, txn)
                if let head {
                    guard b.number == head.number + 1, b.parentHash == head.hash else {
                        out.skipped.append("block \(b.number) \(b.hash) does not extend head \(head.number) \(head.hash)")
                        continue
                    }
                }
                do {
                    try applyBlock(cid, b, txn)
                    out.applied.append(b.number)
                    out.events.append(.applied(chain: cid, number: b.number, hash: b.hash))
                } catch let e as FieldError {
                    // Verified by the leader before proposing, so this means a bug; skip identically everywhere.
                    out.skipped.append("block \(b.number): \(e)")
                } catch let e as JSONError {
                    out.skipped.append("block \(b.number): \(e)")
                }
            }
            if let latest = try head(cid, .latest, txn) {
                if let s = safe { try setHead(cid, .safe, min(s, latest.number), txn) }
                if let f = finalized { try setHead(cid, .finalized, min(f, latest.number), txn) }
            }
        case .rewind(let cid, let ancestor, let hash):
            guard let head = try checkedLatest(cid, txn), head.number > ancestor else {
                out.skipped.append("rewind to \(ancestor): nothing above it")
                return out
            }
            guard let stored = try blockHash(cid, ancestor, txn), stored == hash else {
                out.skipped.append("rewind to \(ancestor): ancestor hash \(hash) is not the indexed block there")
                return out
            }
            var removedLogs = [[JSONValue]]()
            for n in stride(from: head.number, to: ancestor, by: -1) { removedLogs.append(try removeBlock(cid, n, below: head, txn)) }
            out.events.append(.rewound(chain: cid, to: ancestor, removedLogs: removedLogs.reversed().flatMap { $0 }))
            try txn.put(tables.heads, ChainKey.head(cid, .latest), Self.headValue(ancestor, hash))
            for kind in [HeadKind.safe, .finalized] {
                if let h = try self.head(cid, kind, txn), h.number > ancestor { try setHead(cid, kind, ancestor, txn) }
            }
            out.rewoundTo = ancestor
        }
        return out
    }

    /// The latest head, asserted to be one the apply path could have left: heads move only
    /// by one block or by a rewind, so a head that is missing while blocks are indexed, or
    /// that names a block not stored at its number, is damage. Applying on top of it would
    /// restart the chain or build on a hole, so apply stops instead.
    private func checkedLatest(_ cid: UInt64, _ txn: WriteTransaction) throws -> Head? {
        guard let latest = try head(cid, .latest, txn) else {
            if let earliest = try head(cid, .earliest, txn) {
                throw CorruptIndex(table: "chain_heads", key: "chain \(cid) latest",
                                   problem: "missing while blocks from \(earliest.number) are indexed; applying would start the chain over")
            }
            return nil
        }
        let stored = try txn.get(tables.blockByHash, ChainKey.hash(cid, latest.hash))
        guard let stored, stored.count == 8, Self.u64(stored) == latest.number else {
            throw CorruptIndex(table: "chain_heads", key: "chain \(cid) latest",
                               problem: "names block \(latest.number) \(latest.hash), which is not indexed at that number")
        }
        return latest
    }

    /// Parses everything it needs from the block before writing anything, so a block that
    /// fails (and is skipped) leaves no trace: no transaction findable by hash, no block by
    /// hash above the head.
    private func applyBlock(_ cid: UInt64, _ b: ChainCommand.BlockPayload, _ txn: WriteTransaction) throws {
        // Transactions, receipts and logs are stored as the exact bytes they arrived in; the
        // entry's layout says where they are (version 1 entries: found here, see BlockLayout).
        let raw = b.block
        let receipts = b.receipts
        let layout = try b.layout ?? BlockLayout(block: raw, receipts: receipts)
        let txsRange = layout.transactionsRange
        let txs = layout.transactions
        let receiptRanges = layout.receipts
        let logs = layout.logs
        precondition(txsRange.upperBound <= raw.count && receiptRanges.allSatisfy { $0.upperBound <= receipts.count },
                     "a block layout points inside its own block (decode checks every range)")

        var hashes = [UInt8]("[".utf8)
        for (i, t) in txs.enumerated() {
            if i > 0 { hashes.append(UInt8(ascii: ",")) }
            hashes.append(UInt8(ascii: "\""))
            hashes += Array(t.hash.hex.utf8)
            hashes.append(UInt8(ascii: "\""))
            try txn.put(tables.txs, ChainKey.position(cid, b.number, UInt32(i)), raw[t.range])
            var loc = ByteWriter(); loc.u64(b.number); loc.u32(UInt32(i))
            try txn.put(tables.txByHash, ChainKey.hash(cid, t.hash), loc.bytes)
        }
        hashes.append(UInt8(ascii: "]"))
        var header = [UInt8]()
        header.reserveCapacity(txsRange.lowerBound + hashes.count + raw.count - txsRange.upperBound)
        header += raw[..<txsRange.lowerBound]; header += hashes; header += raw[txsRange.upperBound...]
        try txn.put(tables.blocks, ChainKey.block(cid, b.number), header)
        var num = ByteWriter(); num.u64(b.number)
        try txn.put(tables.blockByHash, ChainKey.hash(cid, b.hash), num.bytes)
        for (i, rr) in receiptRanges.enumerated() {
            try txn.put(tables.receipts, ChainKey.position(cid, b.number, UInt32(i)), receipts[rr])
        }
        for log in logs {
            try txn.put(tables.logs, ChainKey.position(cid, b.number, log.index), receipts[log.range])
            try txn.put(tables.logsByAddress, ChainKey.byAddress(cid, log.address, b.number, log.index), [UInt8]())
            for topic in log.topics {
                try txn.put(tables.logsByTopic, ChainKey.byTopic(cid, topic.position, topic.value, b.number, log.index), [UInt8]())
            }
        }
        try applyState(cid, b.number, b.state, txn)
        try txn.put(tables.heads, ChainKey.head(cid, .latest), Self.headValue(b.number, b.hash))
        if try head(cid, .earliest, txn) == nil { try txn.put(tables.heads, ChainKey.head(cid, .earliest), Self.headValue(b.number, b.hash)) }
    }

    /// Writes account and storage versions at this block; `pre` values become a version at
    /// the start of indexing when nothing older is known, so earlier blocks answer too.
    private func applyState(_ cid: UInt64, _ n: UInt64, _ s: StateChanges, _ txn: WriteTransaction) throws {
        var written = ByteWriter()
        var count: UInt32 = 0
        func record(_ table: UInt8, _ key: Key) { written.u8(table); written.data(key.bytes); count += 1 }

        if n > 0 {
            // Nothing older known means the value held at every block since indexing began
            // (any change would have left a version), so it is recorded at the block before
            // the first indexed one, where every earlier query finds it.
            let since = max(try head(cid, .earliest, txn)?.number ?? n, 1) - 1
            for a in s.pre {
                if try accountVersion(cid, a.address, atOrBelow: n - 1, txn) == nil {
                    let st = AccountState(balance: a.balance ?? .zero, nonce: a.nonce ?? 0, codeHash: try storeCode(a.code ?? [], txn))
                    let k = ChainKey.account(cid, a.address, since)
                    try txn.put(tables.accounts, k, st.encoded); record(1, k)
                }
                for slot in a.storage where try slotVersion(cid, a.address, slot.slot, atOrBelow: n - 1, txn) == nil {
                    let k = ChainKey.slot(cid, a.address, slot.slot, since)
                    try txn.put(tables.storage, k, slot.value.bytes); record(2, k)
                }
            }
        }
        for a in s.post {
            let prev = try accountVersion(cid, a.address, atOrBelow: n, txn) ?? AccountState(balance: .zero, nonce: 0, codeHash: AccountState.emptyCodeHash)
            var next = prev
            if let b = a.balance { next.balance = b }
            if let nn = a.nonce { next.nonce = nn }
            if let c = a.code { next.codeHash = try storeCode(c, txn) }
            let k = ChainKey.account(cid, a.address, n)
            try txn.put(tables.accounts, k, next.encoded); record(1, k)
            for slot in a.storage {
                let sk = ChainKey.slot(cid, a.address, slot.slot, n)
                try txn.put(tables.storage, sk, slot.value.bytes); record(2, sk)
            }
        }
        // Zeroed slots arrive explicitly in post (StateDiff resolves geth's omission per
        // transaction). No account deletion is inferred: since EIP-6780 a pre-existing account
        // is never destroyed, and a pre-only account may simply have had a slot cleared.
        if s.source.appliesWithdrawals {
            for wd in s.withdrawals {
                var st = try accountVersion(cid, wd.address, atOrBelow: n, txn) ?? AccountState(balance: .zero, nonce: 0, codeHash: AccountState.emptyCodeHash)
                st.balance = st.balance &+ wd.wei
                let k = ChainKey.account(cid, wd.address, n)
                try txn.put(tables.accounts, k, st.encoded); record(1, k)
            }
        }
        var w = ByteWriter(); w.u32(count); w.raw(written.bytes)
        try txn.put(tables.undo, ChainKey.block(cid, n), w.bytes)
    }

    private func storeCode(_ code: [UInt8], _ txn: WriteTransaction) throws -> Hash32 {
        let h = Hash32.keccak(code)
        if !code.isEmpty { try txn.put(tables.code, h.bytes, code) }
        return h
    }

    /// Removes one block and its state versions; returns its logs marked removed. Every
    /// block below the head was applied by `applyBlock`, which stored it whole with its undo
    /// record, so anything missing or unreadable here is damage: a rewind that skipped it
    /// would leave that block's transactions, logs or state versions behind on the new branch.
    private func removeBlock(_ cid: UInt64, _ n: UInt64, below head: Head, _ txn: WriteTransaction) throws -> [JSONValue] {
        let where_ = "chain \(cid) block \(n)"
        func corrupt(_ table: String, _ problem: String) -> CorruptIndex {
            CorruptIndex(table: table, key: where_, problem: "\(problem) (rewinding from head \(head.number))")
        }
        guard let raw = try txn.get(tables.blocks, ChainKey.block(cid, n)) else { throw corrupt("chain_blocks", "missing below the latest head") }
        try keepOrphan(cid, n, txn)
        guard let block = try? JSON.parse(raw).objectValue, let h = try? block.hash("hash"), let txs = block["transactions"]?.arrayValue else {
            throw corrupt("chain_blocks", "not a block object with a hash and a transactions array")
        }
        _ = try txn.delete(tables.blockByHash, ChainKey.hash(cid, h))
        for (i, tv) in txs.enumerated() {
            guard let s = tv.stringValue, let th = try? Hash32(hex: s) else { throw corrupt("chain_blocks", "transactions[\(i)] is not a transaction hash") }
            _ = try txn.delete(tables.txByHash, ChainKey.hash(cid, th))
        }
        _ = try txn.delete(tables.blocks, ChainKey.block(cid, n))
        let prefix = ChainKey.block(cid, n)
        for e in try txn.entries(in: tables.txs, prefix: prefix) { _ = try txn.delete(tables.txs, e.key) }
        for e in try txn.entries(in: tables.receipts, prefix: prefix) { _ = try txn.delete(tables.receipts, e.key) }
        var removedLogs = [JSONValue]()
        for e in try txn.entries(in: tables.logs, prefix: prefix) {
            // Parsed as apply parsed it (any letter case), so the index keys found are the ones apply wrote.
            guard var log = try? JSON.parse(e.value).objectValue, let li = try? log.quantity("logIndex"), li <= UInt64(UInt32.max),
                  let a = log["address"]?.stringValue.flatMap({ try? Address(hex: $0.lowercased()) }) else {
                throw corrupt("chain_logs", "a log without a hex logIndex and address")
            }
            log["removed"] = .bool(true)
            removedLogs.append(.object(log))
            _ = try txn.delete(tables.logsByAddress, ChainKey.byAddress(cid, a, n, UInt32(li)))
            for (pos, t) in (log["topics"]?.arrayValue ?? []).enumerated() where pos < 4 {
                if let ts = t.stringValue, let topic = try? Hash32(hex: ts) {
                    _ = try txn.delete(tables.logsByTopic, ChainKey.byTopic(cid, UInt8(pos), topic, n, UInt32(li)))
                }
            }
            _ = try txn.delete(tables.logs, e.key)
        }
        guard let u = try txn.get(tables.undo, ChainKey.block(cid, n)) else {
            throw corrupt("chain_undo", "no undo record, so the block's state versions cannot be removed")
        }
        do {
            var r = ByteReader(u, what: "undo record")
            let count = try r.u32()
            for _ in 0..<count {
                let t = try r.u8()
                let key = try r.data()
                guard let table = tables.stateTables[t] else { throw corrupt("chain_undo", "names state table \(t), which does not exist") }
                _ = try txn.delete(table, key)
            }
            try r.expectEnd()
        } catch let e as DecodeError {
            throw corrupt("chain_undo", "\(e)")
        }
        _ = try txn.delete(tables.undo, ChainKey.block(cid, n))
        return removedLogs
    }

    // MARK: heads

    public struct Head: Equatable, Sendable { public var number: UInt64; public var hash: Hash32 }

    static func headValue(_ n: UInt64, _ h: Hash32) -> [UInt8] { var w = ByteWriter(); w.u64(n); w.raw(h.bytes); return w.bytes }

    func head(_ cid: UInt64, _ kind: HeadKind, _ txn: ReadTransaction) throws -> Head? {
        guard let v = try txn.get(tables.heads, ChainKey.head(cid, kind)) else { return nil }
        guard v.count == 40 else { throw CorruptIndex(table: "chain_heads", key: "chain \(cid) \(kind)", problem: "\(v.count) bytes, not 40") }
        var r = ByteReader(v, what: "head")
        return Head(number: try r.u64(), hash: Hash32(unchecked: try r.raw(32)))
    }

    private func setHead(_ cid: UInt64, _ kind: HeadKind, _ n: UInt64, _ txn: WriteTransaction) throws {
        guard let h = try blockHash(cid, n, txn) else { return }
        try txn.put(tables.heads, ChainKey.head(cid, kind), Self.headValue(n, h))
    }

    func blockHash(_ cid: UInt64, _ n: UInt64, _ txn: ReadTransaction) throws -> Hash32? {
        guard let raw = try txn.get(tables.blocks, ChainKey.block(cid, n)) else { return nil }
        // The member's bytes are `"0x…"`: read without parsing the whole block.
        if let r = try? JSONSpans.member(raw, 0..<raw.count, "hash"), r.count == 68, raw[r.lowerBound] == UInt8(ascii: "\""),
           let h = try? Hash32(hex: String(decoding: raw[(r.lowerBound + 1)..<(r.upperBound - 1)], as: UTF8.self)) {
            return h
        }
        guard let o = try? JSON.parse(raw).objectValue, let h = try? o.hash("hash") else {
            throw CorruptIndex(table: "chain_blocks", key: "chain \(cid) block \(n)", problem: "not a block object with a hash")
        }
        return h
    }

    // MARK: state lookups

    func accountVersion(_ cid: UInt64, _ a: Address, atOrBelow n: UInt64, _ txn: ReadTransaction) throws -> AccountState? {
        guard let v = try txn.latestVersion(in: tables.accounts, prefix: Key(cid).appending(bytes: a.bytes), atOrBelow: n) else { return nil }
        guard let st = AccountState(decoding: v.value) else {
            throw CorruptIndex(table: "chain_accounts", key: "chain \(cid) \(a.hex) at or below \(n)", problem: "\(v.value.count) bytes, not 72")
        }
        return st
    }

    func slotVersion(_ cid: UInt64, _ a: Address, _ s: Hash32, atOrBelow n: UInt64, _ txn: ReadTransaction) throws -> Hash32? {
        guard let v = try txn.latestVersion(in: tables.storage, prefix: Key(cid).appending(bytes: a.bytes).appending(bytes: s.bytes), atOrBelow: n) else { return nil }
        guard v.value.count == 32 else {
            throw CorruptIndex(table: "chain_storage", key: "chain \(cid) \(a.hex) slot \(s.hex) at or below \(n)", problem: "\(v.value.count) bytes, not 32")
        }
        return Hash32(unchecked: v.value)
    }
}

/// The account fields kept per version.
struct AccountState: Equatable {
    var balance: U256
    var nonce: UInt64
    var codeHash: Hash32
    static let emptyCodeHash = Hash32.keccak([UInt8]())

    init(balance: U256, nonce: UInt64, codeHash: Hash32) { self.balance = balance; self.nonce = nonce; self.codeHash = codeHash }

    init?(decoding b: [UInt8]) {
        guard b.count == 72 else { return nil }
        balance = try! U256(bigEndian: b[0..<32])
        nonce = b[32..<40].reduce(0) { $0 << 8 | UInt64($1) }
        codeHash = Hash32(unchecked: Array(b[40..<72]))
    }

    var encoded: [UInt8] {
        var w = ByteWriter(capacity: 72)
        w.raw(balance.bytes32); w.u64(nonce); w.raw(codeHash.bytes)
        return w.bytes
    }
}
