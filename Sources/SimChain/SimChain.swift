import Chain
import Foundation
import Synchronization

/// A deterministic simulated EVM chain: ETH transfers (legacy, EIP-2930, EIP-1559), ERC-20
/// style token transfers with `Transfer` logs and storage changes, contract creations and
/// plain storage writes. There is no EVM: the simulator decides each transaction's
/// effects directly. Signatures are deterministic random numbers, not valid secp256k1
/// signatures (`from` is stated in the JSON, as nodes do). Every block is valid by the
/// `Chain` rules: header hash, transactions, receipts and withdrawals roots, blooms.
/// stateRoot is a deterministic commitment to the simulated state, not a state trie.
public final class SimChain: @unchecked Sendable {
    public let options: SimChainOptions
    private let lock = NSLock()
    private var blocks: [SimBlock] = []
    private var branch: UInt64 = 0
    public private(set) var reorgCount = 0

    static let transferTopic = Hash32.keccak(Array("Transfer(address,address,uint256)".utf8))
    let eoas: [Address]
    /// Withdrawal recipients, used for nothing else (like validators' withdrawal addresses).
    let validators: [Address]
    let token: Address
    let store: Address
    let miner: Address

    public init(options: SimChainOptions) {
        self.options = options
        func addr(_ s: String) -> Address { Address(unchecked: Array(keccak256(Array(s.utf8))[12...])) }
        eoas = (0..<64).map { addr("sim-eoa-\($0)") }
        validators = (0..<16).map { addr("sim-validator-\($0)") }
        token = addr("sim-token")
        store = addr("sim-store")
        miner = addr("sim-miner")
        var genesis = SimState()
        for a in eoas { genesis.accounts[a] = .init(balance: U256(1) << 80, nonce: 0, code: []) }
        genesis.accounts[token] = .init(balance: .zero, nonce: 1, code: Self.tokenCode)
        genesis.accounts[store] = .init(balance: .zero, nonce: 1, code: Self.storeCode)
        blocks.append(makeBlock(number: 0, parent: nil, state: genesis, rng: SimRandom(options.seed, 0, 0), txCount: 0))
        for _ in 0..<options.pregenerate { mineLocked() }
    }

    /// Marker bytecode for the simulated contracts (never executed).
    static let tokenCode: [UInt8] = [0x60, 0x80, 0x60, 0x40, 0x52, 0x00, 0x54, 0x4f, 0x4b]
    static let storeCode: [UInt8] = [0x60, 0x80, 0x60, 0x40, 0x52, 0x00, 0x53, 0x54]

    // MARK: queries

    public var headNumber: UInt64 { lock.withLock { blocks.last!.number } }

    /// The canonical chain as of now (a copy-on-write snapshot: readers never block mining for long).
    var snapshot: [SimBlock] { lock.withLock { blocks } }

    // MARK: production

    /// Mines one block (and, per the schedule, reorgs first). Returns the new head.
    @discardableResult
    public func mine() -> UInt64 {
        lock.withLock { mineLocked() }
    }

    private func mineLocked() -> UInt64 {
        let next = blocks.last!.number + 1
        var depth = options.reorgAt[next] ?? 0
        if depth == 0, options.reorgEvery > 0 {
            var r = SimRandom(options.seed, next, 0xEE)
            if r.next() % UInt64(options.reorgEvery) == 0 { depth = options.reorgDepth }
        }
        let limit = Int(min(UInt64(blocks.count - 1), options.safeDistance - 1))
        depth = min(depth, limit)
        if depth > 0 {
            // Replace the last `depth` blocks with another branch, then extend it.
            blocks.removeLast(depth)
            branch += 1
            reorgCount += 1
            for _ in 0..<depth { appendBlock() }
        }
        appendBlock()
        return blocks.last!.number
    }

    private func appendBlock() {
        let parent = blocks.last!
        let n = parent.number + 1
        blocks.append(makeBlock(number: n, parent: parent, state: parent.state, rng: SimRandom(options.seed, n, branch), txCount: options.txsPerBlock))
    }

    // MARK: block construction

    private struct PendingTx {
        var json: JSONObject
        var tx: Transaction
        var from: Address
        var to: Address?
        var created: Address?
        var gasUsed: UInt64
        var price: U256
        var logs: [Log]
        var pre: [Address: JSONObject]
        var post: [Address: JSONObject]
    }

    private func makeBlock(number: UInt64, parent: SimBlock?, state: SimState, rng: SimRandom, txCount: Int) -> SimBlock {
        var rng = rng
        var state = state
        let baseFee = U256(1_000_000_000 + (number % 7) * 1000)
        let timestamp = 1_700_000_000 + number * 2
        var pending = [PendingTx]()
        var touched = Set<Address>()
        for i in 0..<txCount {
            pending.append(makeTransaction(index: i, number: number, baseFee: baseFee, state: &state, rng: &rng))
            touched.insert(pending.last!.from)
            if let t = pending.last!.to { touched.insert(t) }
            if let c = pending.last!.created { touched.insert(c) }
            touched.insert(miner)
        }
        // Withdrawals credit a few EOAs (in gwei).
        var withdrawals = [JSONObject]()
        for w in 0..<2 where number > 0 {
            let who = validators[Int(rng.next() % UInt64(validators.count))]
            let gwei = rng.next() % 1_000_000 + 1
            state.accounts[who, default: .init()].balance += U256(gwei) * U256(1_000_000_000)
            touched.insert(who)
            withdrawals.append(["index": .string(Hex.encodeQuantity(number * 2 + UInt64(w))), "validatorIndex": .string(Hex.encodeQuantity(rng.next() % 100_000)),
                                "address": .string(who.hex), "amount": .string(Hex.encodeQuantity(gwei))])
        }
        // Receipts and blooms.
        var cumulative: UInt64 = 0
        var receiptsCore = [Receipt]()
        var blockBloom = Bloom()
        for p in pending {
            cumulative += p.gasUsed
            let r = Receipt(type: p.tx.type, outcome: .status(true), cumulativeGasUsed: cumulative, logsBloom: Bloom.of(logs: p.logs), logs: p.logs)
            blockBloom.formUnion(r.logsBloom)
            receiptsCore.append(r)
        }
        let txRoot = MerklePatriciaTrie(orderedValues: pending.map { $0.tx.envelope }).root
        let receiptRoot = MerklePatriciaTrie(orderedValues: receiptsCore.map(\.encoded)).root
        let withdrawalRoot = MerklePatriciaTrie(orderedValues: withdrawals.map { try! Withdrawal(json: $0).encoded }).root
        let parentHash = parent?.hash ?? .zero
        let stateRoot = state.commitment(after: parent?.stateRoot ?? .zero, touched: Array(touched))
        var header: JSONObject = [
            "parentHash": .string(parentHash.hex),
            "sha3Uncles": .string(Hash32.keccak(RLP.encode(.list([]))).hex),
            "miner": .string(miner.hex),
            "stateRoot": .string(stateRoot.hex),
            "transactionsRoot": .string(txRoot.hex),
            "receiptsRoot": .string(receiptRoot.hex),
            "logsBloom": .string(blockBloom.hex),
            "difficulty": .string("0x0"),
            "number": .string(Hex.encodeQuantity(number)),
            "gasLimit": .string(Hex.encodeQuantity(60_000_000)),
            "gasUsed": .string(Hex.encodeQuantity(cumulative)),
            "timestamp": .string(Hex.encodeQuantity(timestamp)),
            "extraData": .string(Hex.encode(Array("infrastack-sim".utf8))),
            "mixHash": .string(Hash32.keccak(Array("mix-\(number)-\(branch)".utf8)).hex),
            "nonce": .string("0x0000000000000000"),
            "baseFeePerGas": .string(baseFee.quantity),
            "withdrawalsRoot": .string(withdrawalRoot.hex),
            "blobGasUsed": .string("0x0"),
            "excessBlobGas": .string("0x0"),
            "parentBeaconBlockRoot": .string(Hash32.keccak(Array("beacon-\(number)".utf8)).hex),
        ]
        let h = try! Header(json: header)
        let hash = h.hash
        // Final JSON with block context.
        var txObjects = [JSONObject]()
        var receipts = [JSONObject]()
        var logIndex = 0
        var cum: UInt64 = 0
        var trace = [JSONValue]()
        for (i, p) in pending.enumerated() {
            var t = JSONObject()
            t["blockHash"] = .string(hash.hex)
            t["blockNumber"] = .string(Hex.encodeQuantity(number))
            t["transactionIndex"] = .string(Hex.encodeQuantity(UInt64(i)))
            for (k, v) in p.json.pairs { t[k] = v }
            txObjects.append(t)
            cum += p.gasUsed
            var logs = [JSONValue]()
            for l in p.logs {
                logs.append(.object(["address": .string(l.address.hex), "topics": .array(l.topics.map { .string($0.hex) }), "data": .string(Hex.encode(l.data)),
                                     "blockNumber": .string(Hex.encodeQuantity(number)), "transactionHash": .string(p.tx.hash.hex),
                                     "transactionIndex": .string(Hex.encodeQuantity(UInt64(i))), "blockHash": .string(hash.hex),
                                     "logIndex": .string(Hex.encodeQuantity(UInt64(logIndex))), "removed": .bool(false)]))
                logIndex += 1
            }
            receipts.append([
                "blockHash": .string(hash.hex), "blockNumber": .string(Hex.encodeQuantity(number)),
                "contractAddress": p.created.map { .string($0.hex) } ?? .null,
                "cumulativeGasUsed": .string(Hex.encodeQuantity(cum)), "effectiveGasPrice": .string(p.price.quantity),
                "from": .string(p.from.hex), "gasUsed": .string(Hex.encodeQuantity(p.gasUsed)), "logs": .array(logs),
                "logsBloom": .string(receiptsCore[i].logsBloom.hex), "status": .string("0x1"),
                "to": p.to.map { .string($0.hex) } ?? .null, "transactionHash": .string(p.tx.hash.hex),
                "transactionIndex": .string(Hex.encodeQuantity(UInt64(i))), "type": .string(Hex.encodeQuantity(UInt64(p.tx.type))),
            ])
            trace.append(.object(["txHash": .string(p.tx.hash.hex), "result": .object([
                "pre": .object(Self.sorted(p.pre)), "post": .object(Self.sorted(p.post))])]))
        }
        var full = header
        full["hash"] = .string(hash.hex)
        let body = RLP.encodeList(encodedItems: [h.encoded, RLP.encodeList(encodedItems: pending.map { $0.tx.type == 0 ? $0.tx.envelope : RLP.encode(bytes: $0.tx.envelope) }),
                                                 RLP.encode(.list([])), RLP.encodeList(encodedItems: withdrawals.map { try! Withdrawal(json: $0).encoded })])
        full["size"] = .string(Hex.encodeQuantity(UInt64(body.count)))
        full["uncles"] = .array([])
        full["withdrawals"] = .array(withdrawals.map { .object($0) })
        header = full
        full["transactions"] = .array(txObjects.map { .object($0) })
        var hashesOnly = header
        hashesOnly["transactions"] = .array(pending.map { .string($0.tx.hash.hex) })
        return SimBlock(number: number, hash: hash, full: full, hashesOnly: hashesOnly, transactions: txObjects, receipts: receipts,
                        trace: trace, state: state, stateRoot: stateRoot)
    }

    static func sorted(_ m: [Address: JSONObject]) -> JSONObject {
        var o = JSONObject()
        for (a, v) in m.sorted(by: { $0.key < $1.key }) { o[a.hex] = .object(v) }
        return o
    }

    /// Chooses a transaction, applies its effects to `state`, and records the prestate diff.
    private func makeTransaction(index: Int, number: UInt64, baseFee: U256, state: inout SimState, rng: inout SimRandom) -> PendingTx {
        let from = eoas[Int(rng.next() % UInt64(eoas.count))]
        let before = state
        let kind = rng.next() % 10
        var to: Address? = nil
        var created: Address? = nil
        var value = U256.zero
        var input = [UInt8]()
        var gasUsed: UInt64 = 21_000
        var logs = [Log]()
        var sender = state.account(from)
        switch kind {
        case 0...3:   // ETH transfer
            to = eoas[Int(rng.next() % UInt64(eoas.count))]
            value = U256(rng.next() % 1_000_000_000_000_000 + 1)
        case 4...6:   // token transfer: Transfer log, balances in storage
            to = token
            let recipient = eoas[Int(rng.next() % UInt64(eoas.count))]
            let amount = U256(rng.next() % 1_000_000 + 1)
            input = [0xa9, 0x05, 0x9c, 0xbb] + Array(repeating: 0, count: 12) + recipient.bytes + amount.bytes32
            gasUsed = 52_000
            let fromSlot = Self.balanceSlot(from), toSlot = Self.balanceSlot(recipient)
            var fromBal = try! U256(bigEndian: state.slot(token, fromSlot).bytes)
            var logFrom = from
            if fromBal < amount { logFrom = .zero; fromBal = .zero } else { fromBal -= amount }   // mint when short
            if logFrom != .zero { state.storage[token, default: [:]][fromSlot] = Hash32(unchecked: fromBal.bytes32) }
            let toBal = try! U256(bigEndian: state.slot(token, toSlot).bytes) + amount
            state.storage[token, default: [:]][toSlot] = Hash32(unchecked: toBal.bytes32)
            logs.append(Log(address: token, topics: [Self.transferTopic, Hash32(unchecked: Array(repeating: 0, count: 12) + logFrom.bytes),
                                                     Hash32(unchecked: Array(repeating: 0, count: 12) + recipient.bytes)], data: amount.bytes32))
        case 7...8:   // plain storage write
            to = store
            let slot = Hash32(unchecked: U256(rng.next() % 64).bytes32)
            let v = Hash32(unchecked: rng.bytes(32))
            input = [0x55, 0x24, 0x10, 0xb3] + slot.bytes + v.bytes
            gasUsed = 43_000
            state.storage[store, default: [:]][slot] = v
        default:      // contract creation
            let addr = Address(unchecked: Array(keccak256(RLP.encode(.list([.bytes(from.bytes), .uint(sender.nonce)])))[12...]))
            created = addr
            input = [0x60, 0x0a, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x0a, 0x60, 0x00, 0xf3] + rng.bytes(10)
            gasUsed = 120_000
            state.accounts[addr] = .init(balance: .zero, nonce: 1, code: Array(input.suffix(10)))
        }
        // Fees: base fee burnt, tip to the miner.
        let type: UInt8 = [0, 1, 2, 2, 2][Int(rng.next() % 5)]
        let tip = U256(1_000_000_000)
        let price = baseFee + tip
        sender = state.account(from)
        sender.balance -= value + U256(gasUsed) * price
        sender.nonce += 1
        state.accounts[from] = sender
        if let to, value > .zero { state.accounts[to, default: .init()].balance += value }
        state.accounts[miner, default: .init()].balance += U256(gasUsed) * tip

        var json = JSONObject()
        json["from"] = .string(from.hex)
        json["gas"] = .string(Hex.encodeQuantity(gasUsed + 10_000))
        json["gasPrice"] = .string(price.quantity)
        if type == 2 {
            json["maxFeePerGas"] = .string((baseFee * U256(2) + tip).quantity)
            json["maxPriorityFeePerGas"] = .string(tip.quantity)
        }
        json["input"] = .string(Hex.encode(input))
        json["nonce"] = .string(Hex.encodeQuantity(sender.nonce - 1))
        json["to"] = to.map { .string($0.hex) } ?? .null
        json["value"] = .string(value.quantity)
        json["type"] = .string(Hex.encodeQuantity(UInt64(type)))
        let parity = rng.next() % 2
        if type != 0 {
            json["accessList"] = .array(type == 1 && rng.next() % 2 == 0 ? [.object(["address": .string(store.hex), "storageKeys": .array([.string(Hash32.zero.hex)])])] : [])
            json["chainId"] = .string(Hex.encodeQuantity(options.chainId))
            json["v"] = .string(Hex.encodeQuantity(parity))
            json["yParity"] = .string(Hex.encodeQuantity(parity))
        } else {
            json["chainId"] = .string(Hex.encodeQuantity(options.chainId))
            json["v"] = .string(Hex.encodeQuantity(options.chainId * 2 + 35 + parity))
        }
        json["r"] = .string(Hex.encodeQuantity(bytes: [1] + rng.bytes(31)))
        json["s"] = .string(Hex.encodeQuantity(bytes: [1] + rng.bytes(31)))
        let tx = try! Transaction(json: json)
        var ordered = JSONObject()
        for (k, v) in json.pairs where k != "type" && k != "accessList" && k != "chainId" && k != "v" && k != "r" && k != "s" && k != "yParity" { ordered[k] = v }
        ordered["hash"] = .string(tx.hash.hex)
        for k in ["type", "accessList", "chainId", "v", "r", "s", "yParity"] { if let v = json[k] { ordered[k] = v } }

        // Prestate diff (geth's diffMode shape): pre = touched accounts before; post = changed fields after.
        var pre = [Address: JSONObject](), post = [Address: JSONObject]()
        var involved = [from, miner]
        if let to { involved.append(to) }
        if let created { involved.append(created) }
        for a in Set(involved) {
            let b = before.account(a), n = state.account(a)
            var p = JSONObject()
            p["balance"] = .string(b.balance.quantity)
            if b.nonce > 0 { p["nonce"] = .number(String(b.nonce)) }
            if !b.code.isEmpty { p["code"] = .string(Hex.encode(b.code)) }
            var q = JSONObject()
            if n.balance != b.balance { q["balance"] = .string(n.balance.quantity) }
            if n.nonce != b.nonce { q["nonce"] = .number(String(n.nonce)) }
            if n.code != b.code { q["code"] = .string(Hex.encode(n.code)) }
            let changed = (state.storage[a] ?? [:]).filter { before.slot(a, $0.key) != $0.value }
            if !changed.isEmpty {
                var ps = JSONObject(), qs = JSONObject()
                for (k, v) in changed.sorted(by: { $0.key < $1.key }) {
                    let old = before.slot(a, k)
                    if old != .zero { ps[k.hex] = .string(old.hex) }
                    if v != .zero { qs[k.hex] = .string(v.hex) }
                }
                if ps.count > 0 { p["storage"] = .object(ps) }
                if qs.count > 0 { q["storage"] = .object(qs) }
            }
            if created == a && b == SimState.Account() && (before.storage[a] ?? [:]).isEmpty {
                // A new account has no pre state in geth's diff; only post.
            } else {
                pre[a] = p
            }
            if q.count > 0 { post[a] = q }
        }
        return PendingTx(json: ordered, tx: tx, from: from, to: to, created: created, gasUsed: gasUsed, price: price, logs: logs, pre: pre, post: post)
    }

    /// The storage slot of `holder`'s token balance (Solidity mapping at slot 0).
    static func balanceSlot(_ holder: Address) -> Hash32 {
        Hash32.keccak(Array(repeating: 0, count: 12) + holder.bytes + Array(repeating: 0, count: 32))
    }
}
