import ByteCodec
import Chain
import Storage

/// Everything one block contributed to the index, as stored: what webhooks derive their
/// events from. A canonical block's content is read from the chain tables; a block a reorg
/// removed keeps its content in `chain_orphans` (by hash), so events it produced can be
/// retracted with the same data after a failover, when no memory of the rewind is left.
public struct BlockContent: Equatable, Sendable {
    public var number: UInt64
    public var hash: Hash32
    public var parentHash: Hash32
    /// The block object as stored: `transactions` holds the hashes.
    public var header: [UInt8]
    public var transactions: [[UInt8]]
    public var receipts: [[UInt8]]
    public var logs: [[UInt8]]
    public var accounts: [AccountChange]
    public var storage: [SlotChange]

    public struct AccountValues: Equatable, Sendable {
        public var balance: U256
        public var nonce: UInt64
        public var codeHash: Hash32
        public init(balance: U256, nonce: UInt64, codeHash: Hash32) { self.balance = balance; self.nonce = nonce; self.codeHash = codeHash }
    }

    /// An account the block wrote: `before` is nil when the index knew nothing of it.
    public struct AccountChange: Equatable, Sendable {
        public var address: Address
        public var before: AccountValues?
        public var after: AccountValues
    }

    public struct SlotChange: Equatable, Sendable {
        public var address: Address
        public var slot: Hash32
        public var before: Hash32?
        public var after: Hash32
    }

    /// What of a block a reader needs beyond its header: reading 1,000 transactions for a
    /// `new_block` event would be most of its cost.
    public struct Parts: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let transactions = Parts(rawValue: 1), receipts = Parts(rawValue: 2), logs = Parts(rawValue: 4), state = Parts(rawValue: 8)
        public static let all: Parts = [.transactions, .receipts, .logs, .state]
    }

    static let version: UInt8 = 1

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: header.count + transactions.reduce(0) { $0 + $1.count } + logs.reduce(0) { $0 + $1.count } + 256)
        w.u8(Self.version); w.u64(number); w.raw(hash.bytes); w.raw(parentHash.bytes); w.data(header)
        for list in [transactions, receipts, logs] {
            w.u32(UInt32(list.count))
            for x in list { w.data(x) }
        }
        func values(_ v: AccountValues) { w.raw(v.balance.bytes32); w.u64(v.nonce); w.raw(v.codeHash.bytes) }
        w.u32(UInt32(accounts.count))
        for a in accounts {
            w.raw(a.address.bytes); w.bool(a.before != nil)
            if let b = a.before { values(b) }
            values(a.after)
        }
        w.u32(UInt32(storage.count))
        for s in storage {
            w.raw(s.address.bytes); w.raw(s.slot.bytes); w.bool(s.before != nil)
            if let b = s.before { w.raw(b.bytes) }
            w.raw(s.after.bytes)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> BlockContent {
        var r = ByteReader(bytes, what: "orphaned block")
        let v = try r.u8()
        guard v == version else { throw DecodeError("orphaned block: unknown version \(v)") }
        let number = try r.u64(), hash = Hash32(unchecked: try r.raw(32)), parent = Hash32(unchecked: try r.raw(32)), header = try r.data()
        var lists = [[[UInt8]]]()
        for _ in 0..<3 {
            let n = Int(try r.u32())
            guard n <= r.remaining / 4 else { throw DecodeError("orphaned block: \(n) items cannot fit") }
            lists.append(try (0..<n).map { _ throws(DecodeError) in try r.data() })
        }
        func values() throws(DecodeError) -> AccountValues {
            AccountValues(balance: try! U256(bigEndian: try r.raw(32)), nonce: try r.u64(), codeHash: Hash32(unchecked: try r.raw(32)))
        }
        let na = Int(try r.u32())
        guard na <= r.remaining / 93 else { throw DecodeError("orphaned block: \(na) accounts cannot fit") }
        var accounts = [AccountChange]()
        for _ in 0..<na {
            let a = Address(unchecked: try r.raw(20))
            let before = try r.bool() ? try values() : nil
            accounts.append(AccountChange(address: a, before: before, after: try values()))
        }
        let ns = Int(try r.u32())
        guard ns <= r.remaining / 85 else { throw DecodeError("orphaned block: \(ns) slots cannot fit") }
        var storage = [SlotChange]()
        for _ in 0..<ns {
            let a = Address(unchecked: try r.raw(20)), slot = Hash32(unchecked: try r.raw(32))
            let before = try r.bool() ? Hash32(unchecked: try r.raw(32)) : nil
            storage.append(SlotChange(address: a, slot: slot, before: before, after: Hash32(unchecked: try r.raw(32))))
        }
        try r.expectEnd()
        return BlockContent(number: number, hash: hash, parentHash: parent, header: header, transactions: lists[0], receipts: lists[1], logs: lists[2],
                            accounts: accounts, storage: storage)
    }
}

extension ChainIndex {
    /// How many blocks below a rewind's ancestor orphaned blocks are kept: a webhook whose
    /// receiver is further behind than this cannot be sent its retractions.
    public static let orphanRetention: UInt64 = 65_536

    /// The content of canonical block `n`, read from the chain tables (nil when not indexed):
    /// the header and the `parts` asked for (the others left empty). Anything the apply path
    /// always writes and that is missing or unreadable is damage.
    func content(_ cid: UInt64, _ n: UInt64, _ txn: ReadTransaction, parts: BlockContent.Parts = .all) throws -> BlockContent? {
        guard let header = try txn.get(tables.blocks, ChainKey.block(cid, n)) else { return nil }
        let where_ = "chain \(cid) block \(n)"
        guard let o = try? JSON.parse(header).objectValue, let hash = try? o.hash("hash"), let parent = try? o.hash("parentHash") else {
            throw CorruptIndex(table: "chain_blocks", key: where_, problem: "not a block object with a hash and a parentHash")
        }
        let prefix = ChainKey.block(cid, n)
        var c = BlockContent(number: n, hash: hash, parentHash: parent, header: header,
                             transactions: parts.contains(.transactions) ? try txn.entries(in: tables.txs, prefix: prefix).map(\.value) : [],
                             receipts: parts.contains(.receipts) ? try txn.entries(in: tables.receipts, prefix: prefix).map(\.value) : [],
                             logs: parts.contains(.logs) ? try txn.entries(in: tables.logs, prefix: prefix).map(\.value) : [], accounts: [], storage: [])
        guard parts.contains(.state) else { return c }
        guard let u = try txn.get(tables.undo, prefix) else { throw CorruptIndex(table: "chain_undo", key: where_, problem: "no undo record for an indexed block") }
        do {
            var r = ByteReader(u, what: "undo record")
            let count = try r.u32()
            for _ in 0..<count {
                let table = try r.u8(), key = try r.data()
                guard tables.stateTables[table] != nil else { throw CorruptIndex(table: "chain_undo", key: where_, problem: "names state table \(table), which does not exist") }
                guard key.count == (table == 1 ? 36 : 68) else { throw CorruptIndex(table: "chain_undo", key: where_, problem: "a state key of \(key.count) bytes") }
                // Versions at an earlier number are the "known since" seeds of first-seen accounts, not this block's changes.
                guard Self.inverted(key.suffix(8)) == n else { continue }
                guard let value = try txn.get(table == 1 ? tables.accounts : tables.storage, key) else {
                    throw CorruptIndex(table: "chain_undo", key: where_, problem: "names a state version that is not stored")
                }
                let address = Address(unchecked: Array(key[8..<28]))
                if table == 1 {
                    guard let after = AccountState(decoding: value) else { throw CorruptIndex(table: "chain_accounts", key: where_, problem: "\(value.count) bytes, not 72") }
                    let before = n == 0 ? nil : try accountVersion(cid, address, atOrBelow: n - 1, txn)
                    c.accounts.append(.init(address: address, before: before.map(\.values), after: after.values))
                } else {
                    guard value.count == 32 else { throw CorruptIndex(table: "chain_storage", key: where_, problem: "a slot version of \(value.count) bytes") }
                    let slot = Hash32(unchecked: Array(key[28..<60]))
                    let before = n == 0 ? nil : try slotVersion(cid, address, slot, atOrBelow: n - 1, txn)
                    c.storage.append(.init(address: address, slot: slot, before: before, after: Hash32(unchecked: value)))
                }
            }
            try r.expectEnd()
        } catch let e as DecodeError {
            throw CorruptIndex(table: "chain_undo", key: where_, problem: "\(e)")
        }
        return c
    }

    /// Keeps a block being rewound (called before its rows are deleted, so the versions below
    /// it are still the ones its branch saw) and drops orphans far below the new head.
    func keepOrphan(_ cid: UInt64, _ n: UInt64, _ txn: WriteTransaction) throws {
        guard let c = try content(cid, n, txn) else { return }
        try txn.put(tables.orphans, ChainKey.hash(cid, c.hash), c.encoded())
        try txn.put(tables.orphansByNumber, ChainKey.block(cid, n).appending(bytes: c.hash.bytes), [UInt8]())
        guard n > Self.orphanRetention else { return }
        for e in try txn.entries(in: tables.orphansByNumber, KeyRange(from: ChainKey.block(cid, 0), upTo: ChainKey.block(cid, n - Self.orphanRetention))) {
            _ = try txn.delete(tables.orphans, Key(cid).appending(bytes: e.key.suffix(32)))
            _ = try txn.delete(tables.orphansByNumber, e.key)
        }
    }

    static func inverted(_ b: some Collection<UInt8>) -> UInt64 { UInt64.max - b.reduce(0) { $0 << 8 | UInt64($1) } }
}

extension AccountState {
    var values: BlockContent.AccountValues { .init(balance: balance, nonce: nonce, codeHash: codeHash) }
}

extension ChainView {
    /// The content of canonical block `number` (the header and `parts`), or nil when it is not indexed.
    public func content(_ cid: UInt64, number: UInt64, parts: BlockContent.Parts = .all) throws -> BlockContent? {
        try index.content(cid, number, txn, parts: parts)
    }

    /// A block a reorg removed from this chain, kept for `ChainIndex.orphanRetention` blocks.
    public func orphan(_ cid: UInt64, hash: Hash32) throws -> BlockContent? {
        guard let raw = try txn.get(index.tables.orphans, ChainKey.hash(cid, hash)) else { return nil }
        do { return try BlockContent.decode(raw) } catch {
            throw CorruptIndex(table: "chain_orphans", key: "chain \(cid) \(hash)", problem: "\(error)")
        }
    }

    /// The hash of canonical block `number`.
    public func blockHash(_ cid: UInt64, number: UInt64) throws -> Hash32? { try index.blockHash(cid, number, txn) }
}
