import ByteCodec
import Chain

/// What the indexer proposes to the Raft log for one chain. Blocks travel as the verified
/// JSON the upstream returned (minified, key order kept), so every replica serves answers
/// byte-for-byte as the chain gave them; the entry envelope around them is binary.
///
/// Versions: 1 carries the JSON only; 2 (written now) adds each block's `BlockLayout`, so
/// replicas store it without parsing. Both decode, so entries logged before an upgrade
/// still apply.
public enum ChainCommand: Equatable, Sendable {
    /// Verified blocks `first...` in order, each with its receipts and state changes, plus
    /// the upstream's safe and finalized heads at fetch time.
    case blocks(chainId: UInt64, blocks: [BlockPayload], safe: UInt64?, finalized: UInt64?)
    /// Undo every block above `ancestor` (whose hash must be `ancestorHash`): a reorg.
    case rewind(chainId: UInt64, ancestor: UInt64, ancestorHash: Hash32)

    public struct BlockPayload: Equatable, Sendable {
        public var number: UInt64
        public var hash: Hash32
        public var parentHash: Hash32
        /// eth_getBlockByNumber(n, true) result, minified.
        public var block: [UInt8]
        /// eth_getBlockReceipts(n) result, minified.
        public var receipts: [UInt8]
        /// Per-account state after this block (and before, where known), see `StateChanges`.
        public var state: StateChanges
        /// Where apply's pieces sit in `block` and `receipts`: found by the leader (or read
        /// from a version-2 entry); nil until then. Derived, so not part of equality.
        public var layout: BlockLayout?

        public init(number: UInt64, hash: Hash32, parentHash: Hash32, block: [UInt8], receipts: [UInt8], state: StateChanges, layout: BlockLayout? = nil) {
            self.number = number; self.hash = hash; self.parentHash = parentHash
            self.block = block; self.receipts = receipts; self.state = state; self.layout = layout
        }

        public static func == (a: BlockPayload, b: BlockPayload) -> Bool {
            a.number == b.number && a.hash == b.hash && a.parentHash == b.parentHash
                && a.block == b.block && a.receipts == b.receipts && a.state == b.state
        }
    }

    public var chainId: UInt64 {
        switch self {
        case .blocks(let cid, _, _, _), .rewind(let cid, _, _): cid
        }
    }

    public static let tag: UInt8 = 0xC1   // distinguishes chain commands from the node's own command bytes
    static let version: UInt8 = 2

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.tag); w.u8(Self.version)
        switch self {
        case .blocks(let cid, let blocks, let safe, let finalized):
            w.u8(1); w.u64(cid)
            w.u64(safe ?? UInt64.max); w.u64(finalized ?? UInt64.max)
            w.u32(UInt32(blocks.count))
            for b in blocks {
                w.u64(b.number); w.raw(b.hash.bytes); w.raw(b.parentHash.bytes)
                w.data(b.block); w.data(b.receipts); b.state.encode(into: &w)
                // A block whose layout cannot be found goes without one: every replica then
                // fails to find it too and skips the block alike, as version 1 did.
                if let layout = b.layout ?? (try? BlockLayout(block: b.block, receipts: b.receipts)) {
                    w.u8(1); layout.encode(into: &w)
                } else {
                    w.u8(0)
                }
            }
        case .rewind(let cid, let ancestor, let hash):
            w.u8(2); w.u64(cid); w.u64(ancestor); w.raw(hash.bytes)
        }
        return w.bytes
    }


    public static func decode(_ bytes: [UInt8]) throws(ChainCommandError) -> ChainCommand {
        var r = ByteReader(bytes, what: "chain command")
        let (v, kind) = try format { () throws(DecodeError) -> (UInt8, UInt8) in
            guard try r.u8() == tag else { throw DecodeError("chain command: wrong tag") }
            let v = try r.u8()
            guard (1...version).contains(v) else { throw DecodeError("chain command: unsupported version \(v) (this node reads 1 to \(version))") }
            return (v, try r.u8())
        }
        switch kind {
        case 1:
            let (cid, safe, finalized, n) = try format { () throws(DecodeError) -> (UInt64, UInt64, UInt64, Int) in
                let cid = try r.u64()
                let safe = try r.u64(), finalized = try r.u64()
                let n = Int(try r.u32())
                guard n <= 100_000 else { throw DecodeError("chain command: \(n) blocks in one entry") }
                return (cid, safe, finalized, n)
            }
            var blocks = [BlockPayload]()
            for _ in 0..<n {
                let (number, hash, parent, block, receipts) = try format { () throws(DecodeError) -> (UInt64, Hash32, Hash32, [UInt8], [UInt8]) in
                    (try r.u64(), Hash32(unchecked: try r.raw(32)), Hash32(unchecked: try r.raw(32)), try r.data(), try r.data())
                }
                let state = try StateChanges.decode(&r)
                let layout = v < 2 ? nil : try format { () throws(DecodeError) -> BlockLayout? in
                    switch try r.u8() {
                    case 0: return nil
                    case 1: return try BlockLayout.decode(&r, blockBytes: block.count, receiptBytes: receipts.count)
                    case let f: throw DecodeError("chain command: block layout flag \(f)")
                    }
                }
                blocks.append(BlockPayload(number: number, hash: hash, parentHash: parent, block: block, receipts: receipts,
                                           state: state, layout: layout))
            }
            try format { () throws(DecodeError) in try r.expectEnd() }
            return .blocks(chainId: cid, blocks: blocks, safe: safe == .max ? nil : safe, finalized: finalized == .max ? nil : finalized)
        case 2:
            return try format { () throws(DecodeError) -> ChainCommand in
                let c = ChainCommand.rewind(chainId: try r.u64(), ancestor: try r.u64(), ancestorHash: Hash32(unchecked: try r.raw(32)))
                try r.expectEnd()
                return c
            }
        default:
            throw .malformed(DecodeError("chain command: unknown kind \(kind)"))
        }
    }
}

/// Account and storage values touched by a block: `post` is the value after the block;
/// `pre` the value before it where the source knows it (prestate tracer), so history
/// before an account's first change can be answered too.
public struct StateChanges: Equatable, Sendable {
    public struct Account: Equatable, Sendable {
        public var address: Address
        public var balance: U256?
        public var nonce: UInt64?
        public var code: [UInt8]?
        public var storage: [(slot: Hash32, value: Hash32)]

        public init(address: Address, balance: U256? = nil, nonce: UInt64? = nil, code: [UInt8]? = nil, storage: [(slot: Hash32, value: Hash32)] = []) {
            self.address = address; self.balance = balance; self.nonce = nonce; self.code = code; self.storage = storage
        }

        public static func == (a: Account, b: Account) -> Bool {
            a.address == b.address && a.balance == b.balance && a.nonce == b.nonce && a.code == b.code
                && a.storage.map(\.slot) == b.storage.map(\.slot) && a.storage.map(\.value) == b.storage.map(\.value)
        }
    }

    public var pre: [Account]
    public var post: [Account]
    /// How the changes were obtained; decides whether apply credits withdrawals.
    public var source: StateDiffSource
    /// Beacon withdrawals (address, wei) credited after the transactions. Tracers do not
    /// report them, so apply adds them to the traced state; probed state already has them.
    public var withdrawals: [(address: Address, wei: U256)]

    public init(pre: [Account] = [], post: [Account] = [], source: StateDiffSource = .unrecorded, withdrawals: [(address: Address, wei: U256)] = []) {
        self.pre = pre; self.post = post; self.source = source; self.withdrawals = withdrawals
    }

    public static func == (a: StateChanges, b: StateChanges) -> Bool {
        a.pre == b.pre && a.post == b.post && a.source == b.source
            && a.withdrawals.map(\.address) == b.withdrawals.map(\.address) && a.withdrawals.map(\.wei) == b.withdrawals.map(\.wei)
    }

    func encode(into w: inout ByteWriter) {
        w.string(source.rawValue)
        w.u32(UInt32(withdrawals.count))
        for x in withdrawals { w.raw(x.address.bytes); w.raw(x.wei.bytes32) }
        for list in [pre, post] {
            w.u32(UInt32(list.count))
            for a in list {
                w.raw(a.address.bytes)
                var flags: UInt8 = 0
                if a.balance != nil { flags |= 1 }
                if a.nonce != nil { flags |= 2 }
                if a.code != nil { flags |= 4 }
                w.u8(flags)
                if let b = a.balance { w.raw(b.bytes32) }
                if let n = a.nonce { w.u64(n) }
                if let c = a.code { w.data(c) }
                w.u32(UInt32(a.storage.count))
                for s in a.storage { w.raw(s.slot.bytes); w.raw(s.value.bytes) }
            }
        }
    }

    static func decode(_ r: inout ByteReader) throws(ChainCommandError) -> StateChanges {
        let raw = try format { () throws(DecodeError) -> String in try r.string() }
        guard let source = StateDiffSource(rawValue: raw) else { throw .unknownStateDiffSource(raw) }
        return try format { () throws(DecodeError) -> StateChanges in try decodeChanges(&r, source: source) }
    }

    private static func decodeChanges(_ r: inout ByteReader, source: StateDiffSource) throws(DecodeError) -> StateChanges {
        let wn = Int(try r.u32())
        guard wn <= r.remaining / 52 else { throw DecodeError("state changes: \(wn) withdrawals cannot fit") }
        var withdrawals = [(address: Address, wei: U256)]()
        for _ in 0..<wn { withdrawals.append((Address(unchecked: try r.raw(20)), try! U256(bigEndian: try r.raw(32)))) }
        var lists = [[Account]]()
        for _ in 0..<2 {
            let n = Int(try r.u32())
            guard n <= r.remaining / 25 else { throw DecodeError("state changes: \(n) accounts cannot fit") }
            var list = [Account]()
            for _ in 0..<n {
                var a = Account(address: Address(unchecked: try r.raw(20)))
                let flags = try r.u8()
                if flags & 1 != 0 { a.balance = try! U256(bigEndian: try r.raw(32)) }
                if flags & 2 != 0 { a.nonce = try r.u64() }
                if flags & 4 != 0 { a.code = try r.data() }
                let m = Int(try r.u32())
                guard m <= r.remaining / 64 else { throw DecodeError("state changes: \(m) slots cannot fit") }
                for _ in 0..<m { a.storage.append((Hash32(unchecked: try r.raw(32)), Hash32(unchecked: try r.raw(32)))) }
                list.append(a)
            }
            lists.append(list)
        }
        return StateChanges(pre: lists[0], post: lists[1], source: source, withdrawals: withdrawals)
    }
}
