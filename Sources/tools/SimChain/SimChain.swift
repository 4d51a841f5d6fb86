import Chain
import Foundation

/// A deterministic simulated EVM chain, the embedded default upstream for demos, tests,
/// chaos runs and benchmarks.
///
/// Each block carries ETH transfers (legacy, EIP-2930 and EIP-1559 transactions; some to
/// fresh addresses), ERC-20-style token transfers and mints that emit
/// `Transfer(address,address,uint256)` logs and update the tokens' balance mapping
/// (slot keccak(pad32(holder) ‖ pad32(0))) and total supply, key-value writes (some clearing
/// a slot) with a `Stored` log, contract creations (address keccak(rlp([sender, nonce]))[12...],
/// constructor storage at slot 0), failing calls (status 0), and two withdrawals.
///
/// What is simulated rather than real, on purpose:
/// - There is no EVM. The simulator decides each transaction's effects and gas directly.
/// - Signatures (v, r, s) are deterministic random numbers, not valid secp256k1
///   signatures; `from` is given in the JSON, as nodes do.
/// - `stateRoot` is a keccak chain over each block's state changes, not a state trie
///   root (see `SimBlockBuilder.commitment`). Everything else in the header is real:
///   transactions, receipts and withdrawals roots, blooms, sha3Uncles, and the hash is
///   keccak(rlp(header)) in the Cancun shape, so `BlockVerifier` accepts every block.
/// - The base fee wobbles deterministically instead of following EIP-1559's update rule.
///
/// Reorgs, scripted or random, replace the last d blocks with another branch (other
/// transactions and timestamps, hence other hashes) and never touch the finalized block.
/// The state answers "at block N" for the canonical block N (see `SimLedger`). Blocks of
/// abandoned branches are forgotten: by hash they are not found.
///
/// Thread-safe: one lock guards everything; mining holds it for the whole step so readers
/// never see half a reorg.
public final class SimChain: @unchecked Sendable {
    public let options: SimChainOptions
    let world = SimWorld()
    private let lock = NSLock()
    private var blocks: [SimBlock] = []
    private var ledger = SimLedger()
    private var blockByHash: [Hash32: UInt64] = [:]
    private var txByHash: [Hash32: (block: UInt64, index: Int)] = [:]
    private var branch: UInt64 = 0
    private var reorgHistory: [Reorg] = []

    public struct Reorg: Sendable, Equatable {
        /// The head before the reorg and the number of blocks replaced.
        public let oldHead: UInt64
        public let depth: Int
        public let replaced: [Hash32]
    }

    /// `mined` is told the count after each pregenerated block (a long history takes minutes).
    public init(options: SimChainOptions, mined: (Int) -> Void = { _ in }) {
        self.options = options
        lock.withLock {
            appendLocked(number: 0)
            for i in 0..<options.pregenerate {
                mineLocked()
                mined(i + 1)
            }
        }
    }

    // MARK: heads and queries

    public var headNumber: UInt64 { lock.withLock { UInt64(blocks.count - 1) } }
    public var safeNumber: UInt64 { let h = headNumber; return h > options.safeDistance ? h - options.safeDistance : 0 }
    public var finalizedNumber: UInt64 { let h = headNumber; return h > options.finalizedDistance ? h - options.finalizedDistance : 0 }
    public var reorgCount: Int { lock.withLock { reorgHistory.count } }
    public var reorgs: [Reorg] { lock.withLock { reorgHistory } }

    /// The well-known addresses, for tests and demos.
    public var eoas: [Address] { world.eoas }
    public var tokens: [Address] { world.tokens }
    public var store: Address { world.store }
    public var miner: Address { world.miner }
    public static var transferTopic: Hash32 { SimWorld.transferTopic }

    public func block(_ number: UInt64) -> SimBlock? {
        lock.withLock { number < UInt64(blocks.count) ? blocks[Int(number)] : nil }
    }
    public func block(hash: Hash32) -> SimBlock? {
        lock.withLock { blockByHash[hash].map { blocks[Int($0)] } }
    }
    /// The canonical chain now (a copy-on-write value; cheap to take).
    public var canonical: [SimBlock] { lock.withLock { blocks } }

    /// The block and position of a canonical transaction.
    public func transaction(_ hash: Hash32) -> (block: SimBlock, index: Int)? {
        lock.withLock { txByHash[hash].map { (blocks[Int($0.block)], $0.index) } }
    }

    /// Account state after canonical block `n` (nil if n is beyond the head).
    public func account(_ a: Address, at n: UInt64) -> SimAccount? {
        lock.withLock { n < UInt64(blocks.count) ? ledger.account(a, at: n) : nil }
    }
    public func storage(_ a: Address, slot: Hash32, at n: UInt64) -> Hash32? {
        lock.withLock { n < UInt64(blocks.count) ? ledger.slot(a, slot, at: n) : nil }
    }

    /// One consistent view of the chain, for answers that consult several parts of it.
    struct View {
        let blocks: [SimBlock]
        let ledger: SimLedger
        let blockByHash: [Hash32: UInt64]
        let txByHash: [Hash32: (block: UInt64, index: Int)]
    }

    /// Runs `body` under the lock (so it must not call back into the chain's public API).
    func read<T>(_ body: (View) throws -> T) rethrows -> T {
        try lock.withLock { try body(View(blocks: blocks, ledger: ledger, blockByHash: blockByHash, txByHash: txByHash)) }
    }

    // MARK: production

    /// Mines `count` blocks (each first performing the reorg the schedule calls for at its
    /// height, if any). Returns the new head.
    @discardableResult
    public func mine(_ count: Int = 1) -> UInt64 {
        lock.withLock {
            for _ in 0..<count { mineLocked() }
            return UInt64(blocks.count - 1)
        }
    }

    /// Replaces the last `depth` blocks with a new branch of the same length, then mines one
    /// more on top (so the new branch is longer, as a real fork choice would need). The
    /// depth is cut so the finalized block is never replaced. Returns the new head.
    @discardableResult
    public func reorg(depth: Int) -> UInt64 {
        lock.withLock {
            reorgLocked(depth: depth)
            appendLocked(number: UInt64(blocks.count))
            return UInt64(blocks.count - 1)
        }
    }

    private func mineLocked() {
        let next = UInt64(blocks.count)
        var depth = options.reorgAt[next] ?? 0
        if depth == 0, options.reorgEvery > 0 {
            // Drawn from the height alone, so the schedule does not depend on the branch.
            var r = SimRandom(options.seed, next, 0xEE)
            if r.next() % UInt64(options.reorgEvery) == 0 { depth = 1 + Int(r.next() % UInt64(options.reorgDepth)) }
        }
        if depth > 0 { reorgLocked(depth: depth) }
        appendLocked(number: UInt64(blocks.count))
    }

    private func reorgLocked(depth requested: Int) {
        let head = UInt64(blocks.count - 1)
        // Never below the finalized block (and never the genesis block).
        let depth = Int(min(UInt64(max(requested, 0)), head, options.finalizedDistance))
        guard depth > 0 else { return }
        let ancestor = head - UInt64(depth)
        let removed = blocks[(Int(ancestor) + 1)...]
        for b in removed {
            blockByHash[b.hash] = nil
            for h in b.transactionHashes { txByHash[h] = nil }
        }
        reorgHistory.append(Reorg(oldHead: head, depth: depth, replaced: removed.map(\.hash)))
        blocks.removeLast(depth)
        ledger.rollback(to: ancestor)
        branch += 1
        for n in (ancestor + 1)...head { appendLocked(number: n) }
    }

    private func appendLocked(number: UInt64) {
        // The builder holds a copy of the ledger; it is gone when build returns, so the
        // commit below mutates the ledger in place instead of copying it.
        let (block, accounts, slots) = build(number: number)
        ledger.commit(block: number, accounts: accounts, slots: slots)
        blocks.append(block)
        blockByHash[block.hash] = number
        for (i, h) in block.transactionHashes.enumerated() { txByHash[h] = (number, i) }
    }

    private func build(number: UInt64) -> (SimBlock, [Address: SimAccount], [SlotKey: Hash32]) {
        let parent = blocks.last
        var builder = SimBlockBuilder(world: world, options: options, number: number, branch: branch, ledger: ledger)
        return builder.build(parentHash: parent?.hash ?? .zero, parentStateRoot: parent?.stateRoot ?? .zero)
    }
}
