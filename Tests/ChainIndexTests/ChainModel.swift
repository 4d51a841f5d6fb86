import Chain
import Foundation
import TestSupport
@testable import ChainIndex

/// What the index should answer, kept as plain dictionaries next to a seeded generator of
/// chain commands: blocks (some malformed, some not extending the head), reorgs (a rewind
/// and a new branch that re-includes some of the undone transactions), bad rewinds and
/// re-proposed blocks. `expect` predicts each command's outcome; the state the model holds
/// is only what the command sequence implies, never read back from the index.
struct ChainModel {
    static let cid: UInt64 = 9

    struct Block {
        var number: UInt64
        var hash: Hash32
        var parent: Hash32
        /// The eth_getBlockByNumber(n, true) object as proposed.
        var full: JSONValue
        var txs: [JSONValue]
        var receipts: [JSONValue]
        /// In logIndex order, as served (removed: false).
        var logs: [JSONValue]
        var state: StateChanges
        /// Apply must skip it whole (a log without a logIndex).
        var malformed = false

        var txHashes: [Hash32] { txs.map { try! Hash32(hex: $0["hash"]!.stringValue!) } }
        /// The stored form: transactions as their hashes.
        var hashesForm: JSONValue {
            var o = full.objectValue!
            o["transactions"] = .array(txHashes.map { .string($0.hex) })
            return .object(o)
        }
        var payload: ChainCommand.BlockPayload {
            ChainCommand.BlockPayload(number: number, hash: hash, parentHash: parent, block: Array(JSON.serialize(full).utf8),
                                      receipts: Array(JSON.serialize(.array(receipts)).utf8), state: state)
        }
    }

    struct Account: Equatable {
        var balance: U256
        var nonce: UInt64
        var code: [UInt8]
        static let empty = Account(balance: .zero, nonce: 0, code: [])
    }

    var rng: SeededRandom
    let addresses: [Address]
    let slots: [Hash32]
    let topics: [Hash32]
    let codes: [[UInt8]] = [[], [0x60, 0x00], [0x60, 0x01, 0x60, 0x02], Array(repeating: 0x5b, count: 40)]

    /// The current branch, oldest first.
    var chain: [Block] = []
    /// The first block ever applied: the earliest head never moves.
    var earliest: (number: UInt64, hash: Hash32)?
    var safe: UInt64?
    var finalized: UInt64?
    /// Every block and transaction ever generated, so reads of undone ones are checked too.
    var everBlocks: [Hash32: Block] = [:]
    var everTxs: Set<Hash32> = []
    /// Transactions of undone blocks, which a new branch may include again.
    var undoneTxs: [JSONValue] = []
    var firstNumber: UInt64

    init(seed: UInt64) {
        var g = SeededRandom(seed: seed)
        addresses = (0..<5).map { _ in Address(unchecked: g.bytes(20)) }
        slots = (0..<3).map { _ in Hash32(unchecked: g.bytes(32)) }
        topics = (0..<3).map { _ in Hash32(unchecked: g.bytes(32)) }
        // Block 0 is a genesis (no pre state applies to it); otherwise anywhere.
        firstNumber = Bool.random(using: &g) ? 0 : UInt64.random(in: 1...40, using: &g)
        rng = g
    }

    var head: Block? { chain.last }
    func block(at n: UInt64) -> Block? {
        guard let first = chain.first, n >= first.number, n - first.number < UInt64(chain.count) else { return nil }
        return chain[Int(n - first.number)]
    }

    // MARK: generation

    static func q(_ n: UInt64) -> JSONValue { .string(Hex.encodeQuantity(n)) }

    /// An address in any letter case: apply and rewind must both find it.
    mutating func anyCase(_ a: Address) -> String {
        "0x" + String(a.hex.dropFirst(2).map { Bool.random(using: &rng) ? Character($0.uppercased()) : $0 })
    }

    mutating func makeBlock(_ n: UInt64, parent: Hash32, malformed: Bool = false) -> Block {
        let hash = Hash32(unchecked: rng.bytes(32))
        var txs = [JSONValue]()
        var receipts = [JSONValue]()
        var logs = [JSONValue]()
        var logIndex: UInt64 = 0
        for i in 0..<Int.random(in: 0...3, using: &rng) {
            // A reorg's new branch often carries transactions of the branch it replaced.
            var tx: JSONObject
            if !malformed, !undoneTxs.isEmpty, Int.random(in: 0..<3, using: &rng) == 0 {
                tx = undoneTxs.remove(at: Int.random(in: 0..<undoneTxs.count, using: &rng)).objectValue!
            } else {
                tx = ["hash": .string(Hash32(unchecked: rng.bytes(32)).hex), "from": .string(addresses.randomElement(using: &rng)!.hex),
                      "nonce": Self.q(UInt64.random(in: 0...99, using: &rng))]
            }
            tx["blockHash"] = .string(hash.hex); tx["blockNumber"] = Self.q(n); tx["transactionIndex"] = Self.q(UInt64(i))
            let txHash = tx["hash"]!
            txs.append(.object(tx))
            var receiptLogs = [JSONValue]()
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                var log: JSONObject = ["address": .string(anyCase(addresses.randomElement(using: &rng)!)),
                                       "topics": .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in .string(topics.randomElement(using: &rng)!.hex) }),
                                       "data": .string(Hex.encode(rng.bytes(Int.random(in: 0...2, using: &rng) * 32))),
                                       "blockNumber": Self.q(n), "transactionHash": txHash, "transactionIndex": Self.q(UInt64(i)),
                                       "blockHash": .string(hash.hex), "logIndex": Self.q(logIndex), "removed": .bool(false)]
                if malformed && logIndex == 0 { log["logIndex"] = nil }
                logIndex += 1
                receiptLogs.append(.object(log))
            }
            logs += receiptLogs
            receipts.append(.object(["transactionHash": txHash, "transactionIndex": Self.q(UInt64(i)), "blockHash": .string(hash.hex),
                                     "blockNumber": Self.q(n), "status": .string("0x1"), "logs": .array(receiptLogs)]))
        }
        if malformed && logs.isEmpty {
            // Make sure there is a bad log, after a transaction the block would have made findable.
            let txHash = JSONValue.string(Hash32(unchecked: rng.bytes(32)).hex)
            txs.append(.object(["hash": txHash, "blockHash": .string(hash.hex), "blockNumber": Self.q(n), "transactionIndex": Self.q(UInt64(txs.count))]))
            receipts.append(.object(["transactionHash": txHash, "logs": .array([.object(["address": .string(addresses[0].hex), "topics": .array([])])])]))
        }
        let full: JSONValue = .object(["number": Self.q(n), "hash": .string(hash.hex), "parentHash": .string(parent.hex),
                                       "stateRoot": .string(Hash32(unchecked: rng.bytes(32)).hex), "transactions": .array(txs)])
        let b = Block(number: n, hash: hash, parent: parent, full: full, txs: txs, receipts: receipts, logs: logs,
                      state: makeState(), malformed: malformed)
        everBlocks[hash] = b
        for h in b.txHashes { everTxs.insert(h) }
        return b
    }

    mutating func makeState() -> StateChanges {
        func account(_ a: Address, full: Bool) -> StateChanges.Account {
            var acc = StateChanges.Account(address: a)
            if full || Bool.random(using: &rng) { acc.balance = U256(UInt64.random(in: 0...1_000_000, using: &rng)) }
            if full || Bool.random(using: &rng) { acc.nonce = UInt64.random(in: 0...50, using: &rng) }
            if Int.random(in: 0..<3, using: &rng) == 0 { acc.code = codes.randomElement(using: &rng)! }
            for s in slots where Int.random(in: 0..<3, using: &rng) == 0 {
                acc.storage.append((s, Int.random(in: 0..<4, using: &rng) == 0 ? .zero : Hash32(unchecked: rng.bytes(32))))
            }
            return acc
        }
        let pre = addresses.shuffled(using: &rng).prefix(Int.random(in: 0...2, using: &rng)).map { account($0, full: true) }
        let post = addresses.shuffled(using: &rng).prefix(Int.random(in: 0...3, using: &rng)).map { account($0, full: false) }
        let withdrawals = (0..<Int.random(in: 0...1, using: &rng)).map { _ in (address: addresses.randomElement(using: &rng)!, wei: U256(UInt64.random(in: 1...100, using: &rng))) }
        return StateChanges(pre: Array(pre), post: Array(post), source: Bool.random(using: &rng) ? .prestateTracer : .probe, withdrawals: withdrawals)
    }

    /// The next command, with the blocks it proposes registered in the model's history.
    mutating func nextCommand() -> ChainCommand {
        let cid = Self.cid
        let roll = Int.random(in: 0..<100, using: &rng)
        guard let head else {
            let count = Int.random(in: 1...3, using: &rng)
            var parent = Hash32(unchecked: rng.bytes(32))
            var blocks = [Block]()
            for k in 0..<count {
                let b = makeBlock(firstNumber + UInt64(k), parent: parent)
                blocks.append(b); parent = b.hash
            }
            return .blocks(chainId: cid, blocks: blocks.map(\.payload), safe: nil, finalized: nil)
        }
        let first = chain[0].number
        switch roll {
        case 0..<50:
            var blocks = [Block]()
            var parent = head.hash
            for k in 0..<Int.random(in: 1...4, using: &rng) {
                let bad = Int.random(in: 0..<15, using: &rng) == 0
                let b = makeBlock(head.number + 1 + UInt64(k), parent: parent, malformed: bad)
                blocks.append(b); parent = b.hash
            }
            if Int.random(in: 0..<10, using: &rng) == 0 {
                // A block whose parent is not the head (another leader's stale proposal).
                blocks.insert(makeBlock(head.number + 1, parent: Hash32(unchecked: rng.bytes(32))), at: 0)
            }
            let top = head.number + UInt64(blocks.count)
            func tag() -> UInt64? { Bool.random(using: &rng) ? nil : UInt64.random(in: (top > 6 ? top - 6 : 0)...(top + 1), using: &rng) }
            return .blocks(chainId: cid, blocks: blocks.map(\.payload), safe: tag(), finalized: tag())
        case 50..<78 where chain.count > 1:
            let ancestor = UInt64.random(in: first...(head.number - 1), using: &rng)
            return .rewind(chainId: cid, ancestor: ancestor, ancestorHash: block(at: ancestor)!.hash)
        case 78..<88:
            // Refused rewinds: a wrong hash, the head itself, or below the first indexed block.
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: return .rewind(chainId: cid, ancestor: head.number > first ? head.number - 1 : head.number, ancestorHash: Hash32(unchecked: rng.bytes(32)))
            case 1: return .rewind(chainId: cid, ancestor: head.number, ancestorHash: head.hash)
            default: return .rewind(chainId: cid, ancestor: first > 0 ? first - 1 : 0, ancestorHash: Hash32(unchecked: rng.bytes(32)))
            }
        default:
            // A block already applied, proposed again (as after a leader change).
            let again = chain[Int.random(in: 0..<chain.count, using: &rng)]
            return .blocks(chainId: cid, blocks: [again.payload], safe: nil, finalized: nil)
        }
    }

    // MARK: the model's apply

    /// Applies the command to the model and returns the outcome the index must report.
    mutating func expect(_ command: ChainCommand) -> ChainIndex.ApplyOutcome {
        var out = ChainIndex.ApplyOutcome()
        switch command {
        case .blocks(_, let payloads, let s, let f):
            for p in payloads {
                let b = everBlocks[p.hash]!
                if let head {
                    guard b.number == head.number + 1, b.parent == head.hash else { out.skipped.append("not extending"); continue }
                }
                guard !b.malformed else { out.skipped.append("malformed"); continue }
                chain.append(b)
                if earliest == nil { earliest = (b.number, b.hash) }
                out.applied.append(b.number)
                out.events.append(.applied(chain: Self.cid, number: b.number, hash: b.hash))
            }
            // A tag is clamped to the head, and kept when no indexed block carries that number.
            if let head {
                if let s, block(at: min(s, head.number)) != nil { safe = min(s, head.number) }
                if let f, block(at: min(f, head.number)) != nil { finalized = min(f, head.number) }
            }
        case .rewind(_, let ancestor, let hash):
            guard let head, head.number > ancestor, let a = block(at: ancestor), a.hash == hash else {
                out.skipped.append("refused rewind")
                return out
            }
            let removed = chain.filter { $0.number > ancestor }
            chain.removeAll { $0.number > ancestor }
            undoneTxs += removed.flatMap(\.txs)
            let removedLogs = removed.flatMap(\.logs).map { log -> JSONValue in
                var o = log.objectValue!
                o["removed"] = .bool(true)
                return .object(o)
            }
            out.events.append(.rewound(chain: Self.cid, to: ancestor, removedLogs: removedLogs))
            if let s = safe, s > ancestor { safe = ancestor }
            if let f = finalized, f > ancestor { finalized = ancestor }
            out.rewoundTo = ancestor
        }
        return out
    }

    // MARK: the model's state

    /// Account and slot versions the current branch implies, replayed from its first block
    /// by the documented rules: a block's `post` values are versions at its number; a `pre`
    /// value is a version at the block before the first indexed one when nothing at or
    /// below the block before it is known; tracer withdrawals are credited after `post`.
    struct State {
        var accounts: [Address: [(at: UInt64, value: Account)]] = [:]
        var slots: [Address: [Hash32: [(at: UInt64, value: Hash32)]]] = [:]

        func account(_ a: Address, atOrBelow n: UInt64) -> Account? { accounts[a]?.last { $0.at <= n }?.value }
        func slot(_ a: Address, _ s: Hash32, atOrBelow n: UInt64) -> Hash32? { slots[a]?[s]?.last { $0.at <= n }?.value }

        mutating func setAccount(_ a: Address, _ at: UInt64, _ v: Account) {
            var list = accounts[a] ?? []
            list.removeAll { $0.at == at }
            list.append((at, v)); list.sort { $0.at < $1.at }
            accounts[a] = list
        }
        mutating func setSlot(_ a: Address, _ s: Hash32, _ at: UInt64, _ v: Hash32) {
            var list = slots[a]?[s] ?? []
            list.removeAll { $0.at == at }
            list.append((at, v)); list.sort { $0.at < $1.at }
            slots[a, default: [:]][s] = list
        }
    }

    func state() -> State {
        var st = State()
        guard let earliest else { return st }
        let since = max(earliest.number, 1) - 1
        for b in chain {
            let n = b.number
            if n > 0 {
                for a in b.state.pre {
                    if st.account(a.address, atOrBelow: n - 1) == nil {
                        st.setAccount(a.address, since, Account(balance: a.balance ?? .zero, nonce: a.nonce ?? 0, code: a.code ?? []))
                    }
                    for s in a.storage where st.slot(a.address, s.slot, atOrBelow: n - 1) == nil { st.setSlot(a.address, s.slot, since, s.value) }
                }
            }
            for a in b.state.post {
                var next = st.account(a.address, atOrBelow: n) ?? .empty
                if let v = a.balance { next.balance = v }
                if let v = a.nonce { next.nonce = v }
                if let v = a.code { next.code = v }
                st.setAccount(a.address, n, next)
                for s in a.storage { st.setSlot(a.address, s.slot, n, s.value) }
            }
            if b.state.source == .prestateTracer {
                for w in b.state.withdrawals {
                    var next = st.account(w.address, atOrBelow: n) ?? .empty
                    next.balance = next.balance &+ w.wei
                    st.setAccount(w.address, n, next)
                }
            }
        }
        return st
    }

    /// The logs a filter matches on the current branch, in (block, logIndex) order.
    func logs(from: UInt64, to: UInt64, addresses: [Address] = [], topics: [[Hash32]?] = []) -> [JSONValue] {
        chain.filter { $0.number >= from && $0.number <= to }.flatMap(\.logs).filter { log in
            if !addresses.isEmpty {
                guard let a = try? Address(hex: log["address"]!.stringValue!.lowercased()), addresses.contains(a) else { return false }
            }
            let have = log["topics"]!.arrayValue!.map { try! Hash32(hex: $0.stringValue!) }
            for (i, options) in topics.enumerated() {
                guard let options else { continue }
                guard i < have.count, options.contains(have[i]) else { return false }
            }
            return true
        }
    }
}
