import Chain
import Foundation
import ChainIndex
import TestSupport

/// A synthetic chain that reorgs, built so every answer says which chain state it came
/// from: each block belongs to a branch (a label), its hash and transactions are derived
/// from (branch, number), and the one account every block touches holds
/// `balance = branch << 32 | number` and `nonce = branch << 20 | number`. Reorgs fork a new
/// branch off an ancestor; every new branch is applied in one entry, so its inner blocks
/// are never a head: a "latest" answer whose block is not in `heads` was not read from one
/// state. Driven by one writer thread; read by others only after it stopped.
final class BranchingChain: @unchecked Sendable {
    struct Block {
        let branch: UInt64
        let number: UInt64
        let hash: Hash32
        let parent: Hash32
        let txs: [Hash32]
    }

    let chainId: UInt64
    /// The account every block changes.
    let account = Address(unchecked: [UInt8](repeating: 0xa1, count: 20))
    private(set) var rng: SeededRandom
    private(set) var byHash: [Hash32: Block] = [:]
    /// The current branch from block 1.
    private(set) var current: [Block] = []
    /// Every latest head a committed entry left; recorded after the entry applied.
    private(set) var heads: Set<Hash32> = []
    private(set) var reorgs = 0
    private var nextBranch: UInt64 = 1

    init(chainId: UInt64, seed: UInt64) { self.chainId = chainId; rng = SeededRandom(seed: seed) }

    static func hash(branch: UInt64, number: UInt64) -> Hash32 { Hash32.keccak(Array("branch \(branch) block \(number)".utf8)) }
    static func balance(branch: UInt64, number: UInt64) -> U256 { U256(branch << 32 | number) }
    static func nonce(branch: UInt64, number: UInt64) -> UInt64 { branch << 20 | number }

    /// (branch, number) from a balance of the touched account.
    static func decode(balance: U256) -> (branch: UInt64, number: UInt64)? {
        guard let v = balance.uint64 else { return nil }
        return (v >> 32, v & 0xffff_ffff)
    }

    var head: Block { current[current.count - 1] }

    private func block(_ branch: UInt64, _ n: UInt64, parent: Hash32) -> (Block, ChainCommand.BlockPayload) {
        let hash = Self.hash(branch: branch, number: n)
        let txs = (0..<Int(n % 3) + 1).map { Hash32.keccak(Array("tx \(branch) \(n) \($0)".utf8)) }
        let q = { (v: UInt64) in JSONValue.string(Hex.encodeQuantity(v)) }
        let txObjects: [JSONValue] = txs.enumerated().map { i, h in
            .object(["hash": .string(h.hex), "blockHash": .string(hash.hex), "blockNumber": q(n), "transactionIndex": q(UInt64(i)),
                     "from": .string(account.hex), "to": .string(account.hex), "value": q(0), "nonce": q(UInt64(i))])
        }
        let json: JSONValue = .object(["number": q(n), "hash": .string(hash.hex), "parentHash": .string(parent.hex),
                                       "miner": .string(account.hex), "extraData": .string(Hex.encode(Array("branch \(branch)".utf8))),
                                       "transactions": .array(txObjects)])
        let state = StateChanges(post: [.init(address: account, balance: Self.balance(branch: branch, number: n), nonce: Self.nonce(branch: branch, number: n))],
                                 source: .probe)
        let b = Block(branch: branch, number: n, hash: hash, parent: parent, txs: txs)
        return (b, ChainCommand.BlockPayload(number: n, hash: hash, parentHash: parent, block: Array(JSON.serialize(json).utf8),
                                             receipts: Array("[]".utf8), state: state))
    }

    /// Blocks `count` past the head on the head's branch (from block 1 on an empty chain).
    func extend(_ count: Int) -> ChainCommand {
        let branch = current.last?.branch ?? 0
        var payloads = [ChainCommand.BlockPayload]()
        for _ in 0..<count { payloads.append(append(branch)) }
        return .blocks(chainId: chainId, blocks: payloads, safe: tags.safe, finalized: tags.finalized)
    }

    /// A reorg: the rewind to an ancestor up to `depth` blocks down, then the new branch
    /// from it, as long as what it replaces or up to two blocks longer, as one entry.
    func reorg(depth: Int) -> (rewind: ChainCommand, ancestor: Hash32, branch: ChainCommand) {
        let lowest = max(1, Int(head.number) - depth)
        let ancestor = UInt64(Int.random(in: lowest...Int(head.number) - 1, using: &rng))
        let replaced = Int(head.number - ancestor)
        current.removeAll { $0.number > ancestor }
        let rewind = ChainCommand.rewind(chainId: chainId, ancestor: ancestor, ancestorHash: head.hash)
        let ancestorHash = head.hash
        let branch = nextBranch
        nextBranch += 1
        var payloads = [ChainCommand.BlockPayload]()
        for _ in 0..<(replaced + Int.random(in: 0...2, using: &rng)) { payloads.append(append(branch)) }
        reorgs += 1
        return (rewind, ancestorHash, .blocks(chainId: chainId, blocks: payloads, safe: tags.safe, finalized: tags.finalized))
    }

    private func append(_ branch: UInt64) -> ChainCommand.BlockPayload {
        let (b, p) = block(branch, (current.last?.number ?? 0) + 1, parent: current.last?.hash ?? Hash32.keccak([0]))
        byHash[b.hash] = b
        current.append(b)
        return p
    }

    private var tags: (safe: UInt64?, finalized: UInt64?) {
        let top = head.number
        return (top > 2 ? top - 2 : nil, top > 4 ? top - 4 : nil)
    }

    /// The writer's own choices, from the same seed.
    func random(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }

    /// Called once an entry applied: the head it left is a state readers may see.
    func committed(head hash: Hash32) { heads.insert(hash) }

    /// Whether `ancestor` is `block` or lies below it on its chain.
    func isAncestor(_ ancestor: Hash32, of block: Hash32) -> Bool {
        var cur = byHash[block]
        while let c = cur {
            if c.hash == ancestor { return true }
            cur = byHash[c.parent]
        }
        return false
    }
}
