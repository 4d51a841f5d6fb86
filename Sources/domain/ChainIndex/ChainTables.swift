import Chain
import Storage

/// The chain-data tables of one LMDB environment and the layout of their keys. Every
/// key begins with the chain id (big-endian), so several chains share the tables and
/// LMDB's order is (chain, then numeric) order.
public struct ChainTables: Sendable {
    /// number → block object without transactions, plus "transactions" as hashes.
    let blocks: Table
    /// hash → number
    let blockByHash: Table
    /// number ‖ index → transaction object
    let txs: Table
    /// tx hash → number ‖ index
    let txByHash: Table
    /// number ‖ index → receipt object
    let receipts: Table
    /// number ‖ logIndex → log object
    let logs: Table
    /// address ‖ number ‖ logIndex → ∅
    let logsByAddress: Table
    /// position ‖ topic ‖ number ‖ logIndex → ∅
    let logsByTopic: Table
    /// address ‖ ^number → balance(32) ‖ nonce(8) ‖ codeHash(32)
    let accounts: Table
    /// address ‖ slot ‖ ^number → value(32)
    let storage: Table
    /// codeHash → code (shared by all chains: content-addressed)
    let code: Table
    /// kind → number ‖ hash
    let heads: Table
    /// number → the state keys written for that block (so a rewind can remove them)
    let undo: Table
    /// hash → `BlockContent` of a block a reorg removed (see `keepOrphan`)
    let orphans: Table
    /// number ‖ hash → ∅, so old orphans are found for pruning
    let orphansByNumber: Table

    public static let names = ["chain_blocks", "chain_blockByHash", "chain_txs", "chain_txByHash", "chain_receipts", "chain_logs",
                               "chain_logsByAddress", "chain_logsByTopic", "chain_accounts", "chain_storage", "chain_code",
                               "chain_heads", "chain_undo", "chain_orphans", "chain_orphansByNumber"]

    public init(env: Environment) throws {
        blocks = try env.table("chain_blocks")
        blockByHash = try env.table("chain_blockByHash")
        txs = try env.table("chain_txs")
        txByHash = try env.table("chain_txByHash")
        receipts = try env.table("chain_receipts")
        logs = try env.table("chain_logs")
        logsByAddress = try env.table("chain_logsByAddress")
        logsByTopic = try env.table("chain_logsByTopic")
        accounts = try env.table("chain_accounts")
        storage = try env.table("chain_storage")
        code = try env.table("chain_code")
        heads = try env.table("chain_heads")
        undo = try env.table("chain_undo")
        orphans = try env.table("chain_orphans")
        orphansByNumber = try env.table("chain_orphansByNumber")
    }

    var stateTables: [UInt8: Table] { [1: accounts, 2: storage] }

    /// The tables whose keys begin with a chain id: everything a chain owns (not `code`).
    var perChain: [Table] { [blocks, blockByHash, txs, txByHash, receipts, logs, logsByAddress, logsByTopic, accounts, storage, heads, undo, orphans, orphansByNumber] }
}

/// Key builders, one per table; `chain` is always first.
enum ChainKey {
    static func block(_ c: UInt64, _ n: UInt64) -> Key { Key(c).appending(n) }
    static func hash(_ c: UInt64, _ h: Hash32) -> Key { Key(c).appending(bytes: h.bytes) }
    static func position(_ c: UInt64, _ n: UInt64, _ i: UInt32) -> Key { Key(c).appending(n).appending(i) }
    static func byAddress(_ c: UInt64, _ a: Address, _ n: UInt64, _ i: UInt32) -> Key { Key(c).appending(bytes: a.bytes).appending(n).appending(i) }
    static func byTopic(_ c: UInt64, _ pos: UInt8, _ t: Hash32, _ n: UInt64, _ i: UInt32) -> Key {
        Key(c).appending(pos).appending(bytes: t.bytes).appending(n).appending(i)
    }
    static func account(_ c: UInt64, _ a: Address, _ n: UInt64) -> Key { Key(c).appending(bytes: a.bytes).appendingInverted(blockNumber: n) }
    static func slot(_ c: UInt64, _ a: Address, _ s: Hash32, _ n: UInt64) -> Key {
        Key(c).appending(bytes: a.bytes).appending(bytes: s.bytes).appendingInverted(blockNumber: n)
    }
    static func head(_ c: UInt64, _ kind: HeadKind) -> Key { Key(c).appending(kind.rawValue) }
}

public enum HeadKind: UInt8, Sendable, CaseIterable {
    case latest = 1, safe = 2, finalized = 3, earliest = 4
}
