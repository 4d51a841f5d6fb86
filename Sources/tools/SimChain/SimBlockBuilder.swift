import Hashing
import Chain

/// The fixed cast of the simulated world: who sends, which contracts exist, who mines.
struct SimWorld: Sendable {
    let eoas: [Address]
    /// Withdrawal recipients (validators' withdrawal addresses); they never send transactions.
    let validators: [Address]
    /// Two ERC-20-style tokens: balances in a mapping at slot 0, total supply at slot 2.
    let tokens: [Address]
    /// A key-value contract: slot i holds the last value written to key i.
    let store: Address
    let miner: Address

    static let transferTopic = Hash32.keccak(Array("Transfer(address,address,uint256)".utf8))
    static let storedTopic = Hash32.keccak(Array("Stored(uint256,bytes32)".utf8))
    /// Marker runtime code for the genesis contracts. The simulator never executes code; it
    /// decides each call's effects itself, so these only need to be stable and non-empty.
    static let tokenCode: [UInt8] = [0x60, 0x80, 0x60, 0x40, 0x52, 0x00, 0x54, 0x4f, 0x4b]
    static let storeCode: [UInt8] = [0x60, 0x80, 0x60, 0x40, 0x52, 0x00, 0x53, 0x54]
    static let totalSupplySlot = Hash32(unchecked: U256(2).bytes32)

    init() {
        func addr(_ s: String) -> Address { Address(unchecked: Array(keccak256(Array(s.utf8))[12...])) }
        eoas = (0..<64).map { addr("sim-eoa-\($0)") }
        validators = (0..<16).map { addr("sim-validator-\($0)") }
        tokens = [addr("sim-token"), addr("sim-token-b")]
        store = addr("sim-store")
        miner = addr("sim-miner")
    }

    /// Genesis allocations.
    var genesis: [Address: SimAccount] {
        var g = [Address: SimAccount]()
        for a in eoas { g[a] = SimAccount(balance: U256(1) << 80) }
        for t in tokens { g[t] = SimAccount(nonce: 1, code: Self.tokenCode) }
        g[store] = SimAccount(nonce: 1, code: Self.storeCode)
        return g
    }

    /// Solidity's slot for `balances[holder]` with the mapping at slot 0:
    /// keccak(pad32(holder) ‖ pad32(0)).
    static func balanceSlot(_ holder: Address) -> Hash32 {
        Hash32.keccak(pad32(holder) + [UInt8](repeating: 0, count: 32))
    }
    static func pad32(_ a: Address) -> [UInt8] { [UInt8](repeating: 0, count: 12) + a.bytes }
}

/// Builds one block: chooses transactions from the block's random stream, applies their
/// effects to a `WorkingState` (no EVM: the simulator decides what each call does), then
/// computes receipts, roots, bloom and header hash with `Chain`, and the JSON geth would serve.
struct SimBlockBuilder {
    let world: SimWorld
    let options: SimChainOptions
    let number: UInt64
    let branch: UInt64
    var rng: SimRandom
    var state: WorkingState
    let baseFee: U256
    let timestamp: UInt64

    static func gasLimit(_ o: SimChainOptions) -> UInt64 { max(30_000_000, UInt64(o.txsPerBlock) * 150_000) }

    /// Timestamps rise by 2 s per block plus 0 or 1 s chosen by the branch, so a replacement
    /// block differs from the one it replaces and timestamps still strictly increase.
    static func timestamp(number: UInt64, branch: UInt64, seed: UInt64) -> UInt64 {
        var r = SimRandom(seed, number, branch, 0x7157)
        return 1_700_000_000 + number * 2 + (number == 0 ? 0 : r.next() % 2)
    }

    init(world: SimWorld, options: SimChainOptions, number: UInt64, branch: UInt64, ledger: SimLedger) {
        self.world = world
        self.options = options
        self.number = number
        self.branch = branch
        rng = SimRandom(options.seed, number, branch)
        state = WorkingState(ledger: ledger, parent: number == 0 ? 0 : number - 1)
        // A deterministic wobble around 1 gwei rather than EIP-1559's update rule: nothing
        // downstream recomputes it, and a fixed rule would drive it to 7 wei on a chain this empty.
        baseFee = U256(1_000_000_000 + rng.next() % 100_000_000)
        timestamp = Self.timestamp(number: number, branch: branch, seed: options.seed)
    }

    struct Tx {
        var fields: JSONObject      // the signed fields, as Transaction(json:) reads them
        var tx: Transaction
        var from: Address
        var to: Address?
        var created: Address?
        var gasUsed: UInt64
        var effectivePrice: U256
        var success: Bool
        var logs: [Log]
        var pre: JSONObject
        var post: JSONObject
    }

    /// Returns the block and this block's changes for the ledger.
    mutating func build(parentHash: Hash32, parentStateRoot: Hash32) -> (SimBlock, [Address: SimAccount], [SlotKey: Hash32]) {
        var txs = [Tx]()
        if number == 0 {
            for (a, v) in world.genesis { state.update(a) { $0 = v } }
            _ = state.finishTransaction()
        } else {
            for i in 0..<options.txsPerBlock { txs.append(makeTransaction(index: i)) }
        }
        // Withdrawals are credited after the transactions, outside them (tracers don't see them).
        var withdrawals = [JSONObject]()
        if number > 0 {
            for w in 0..<2 {
                let v = rng.below(world.validators.count)
                let gwei = rng.next() % 1_000_000 + 1
                state.credit(world.validators[v], U256(gwei) * U256(1_000_000_000))
                withdrawals.append(["index": .string(Hex.encodeQuantity(number * 2 + UInt64(w))),
                                    "validatorIndex": .string(Hex.encodeQuantity(UInt64(1000 + v))),
                                    "address": .string(world.validators[v].hex),
                                    "amount": .string(Hex.encodeQuantity(gwei))])
            }
        }
        let withdrawalItems = withdrawals.map { try! Withdrawal(json: $0).encoded }

        var cumulative: UInt64 = 0
        var receipts = [Receipt]()
        var bloom = Bloom()
        for t in txs {
            cumulative += t.gasUsed
            let r = Receipt(type: t.tx.type, outcome: .status(t.success), cumulativeGasUsed: cumulative, logsBloom: Bloom.of(logs: t.logs), logs: t.logs)
            bloom.formUnion(r.logsBloom)
            receipts.append(r)
        }
        let stateRoot = Self.commitment(parent: parentStateRoot, accounts: state.accounts, slots: state.slots)
        let header: JSONObject = [
            "parentHash": .string(parentHash.hex),
            "sha3Uncles": .string(Hash32.keccak(RLP.encode(.list([]))).hex),
            "miner": .string(world.miner.hex),
            "stateRoot": .string(stateRoot.hex),
            "transactionsRoot": .string(MerklePatriciaTrie(orderedValues: txs.map { $0.tx.envelope }).root.hex),
            "receiptsRoot": .string(MerklePatriciaTrie(orderedValues: receipts.map(\.encoded)).root.hex),
            "logsBloom": .string(bloom.hex),
            "difficulty": .string("0x0"),
            "number": .string(Hex.encodeQuantity(number)),
            "gasLimit": .string(Hex.encodeQuantity(Self.gasLimit(options))),
            "gasUsed": .string(Hex.encodeQuantity(cumulative)),
            "timestamp": .string(Hex.encodeQuantity(timestamp)),
            "extraData": .string(Hex.encode(Array("infrastack-sim".utf8))),
            "mixHash": .string(Hash32.keccak(Array("mix-\(options.seed)-\(number)-\(branch)".utf8)).hex),
            "nonce": .string("0x0000000000000000"),
            "baseFeePerGas": .string(baseFee.quantity),
            "withdrawalsRoot": .string(MerklePatriciaTrie(orderedValues: withdrawalItems).root.hex),
            "blobGasUsed": .string("0x0"),
            "excessBlobGas": .string("0x0"),
            "parentBeaconBlockRoot": .string(Hash32.keccak(Array("beacon-\(options.seed)-\(number)-\(branch)".utf8)).hex),
        ]
        let h = try! Header(json: header)
        let hash = h.hash
        let numberHex = Hex.encodeQuantity(number), hashHex = hash.hex, timeHex = Hex.encodeQuantity(timestamp)

        var txObjects = [JSONObject](), receiptObjects = [JSONObject](), logs = [SimLog](), trace = [JSONValue]()
        for (i, t) in txs.enumerated() {
            let txHash = t.tx.hash.hex, indexHex = Hex.encodeQuantity(UInt64(i))
            // geth's RPCTransaction field order.
            var o = JSONObject()
            o["blockHash"] = .string(hashHex)
            o["blockNumber"] = .string(numberHex)
            o["blockTimestamp"] = .string(timeHex)
            o["from"] = t.fields["from"]!
            o["gas"] = t.fields["gas"]!
            // For a mined EIP-1559 transaction geth reports the price actually paid.
            o["gasPrice"] = t.tx.type == 2 ? .string(t.effectivePrice.quantity) : t.fields["gasPrice"]!
            for k in ["maxFeePerGas", "maxPriorityFeePerGas"] { if let v = t.fields[k] { o[k] = v } }
            o["hash"] = .string(txHash)
            for k in ["input", "nonce", "to"] { o[k] = t.fields[k]! }
            o["transactionIndex"] = .string(indexHex)
            for k in ["value", "type", "accessList", "chainId", "v", "r", "s", "yParity"] { if let v = t.fields[k] { o[k] = v } }
            txObjects.append(o)

            var logJSON = [JSONValue]()
            for l in t.logs {
                let v: JSONValue = .object([
                    "address": .string(l.address.hex), "topics": .array(l.topics.map { .string($0.hex) }), "data": .string(Hex.encode(l.data)),
                    "blockNumber": .string(numberHex), "transactionHash": .string(txHash), "transactionIndex": .string(indexHex),
                    "blockHash": .string(hashHex), "blockTimestamp": .string(timeHex),
                    "logIndex": .string(Hex.encodeQuantity(UInt64(logs.count))), "removed": .bool(false)])
                logs.append(SimLog(address: l.address, topics: l.topics, json: v))
                logJSON.append(v)
            }
            // geth marshals receipts from a map, so its keys come out sorted.
            receiptObjects.append([
                "blockHash": .string(hashHex), "blockNumber": .string(numberHex),
                "contractAddress": t.created.map { .string($0.hex) } ?? .null,
                "cumulativeGasUsed": .string(Hex.encodeQuantity(receipts[i].cumulativeGasUsed)),
                "effectiveGasPrice": .string(t.effectivePrice.quantity),
                "from": .string(t.from.hex), "gasUsed": .string(Hex.encodeQuantity(t.gasUsed)), "logs": .array(logJSON),
                "logsBloom": .string(receipts[i].logsBloom.hex), "status": .string(t.success ? "0x1" : "0x0"),
                "to": t.to.map { .string($0.hex) } ?? .null, "transactionHash": .string(txHash),
                "transactionIndex": .string(indexHex), "type": .string(Hex.encodeQuantity(UInt64(t.tx.type))),
            ])
            trace.append(.object(["txHash": .string(txHash), "result": .object(["pre": .object(t.pre), "post": .object(t.post)])]))
        }

        // The block's RLP ([header, transactions, uncles, withdrawals]) gives geth's `size`.
        let body = RLP.encodeList(encodedItems: [
            h.encoded,
            RLP.encodeList(encodedItems: txs.map { $0.tx.type == 0 ? $0.tx.envelope : RLP.encode(bytes: $0.tx.envelope) }),
            RLP.encode(.list([])),
            RLP.encodeList(encodedItems: withdrawalItems),
        ])
        var extra = header
        extra["hash"] = .string(hashHex)
        extra["size"] = .string(Hex.encodeQuantity(UInt64(body.count)))
        extra["uncles"] = .array([])
        extra["withdrawals"] = .array(withdrawals.map { .object($0) })
        // geth marshals blocks from a map too: keys sorted.
        func blockObject(_ transactions: JSONValue) -> JSONObject {
            extra["transactions"] = transactions
            var o = JSONObject()
            for k in extra.keys.sorted() { o[k] = extra[k]! }
            return o
        }
        let txHashes = txs.map { $0.tx.hash }
        let block = SimBlock(number: number, hash: hash, parentHash: parentHash,
                             full: blockObject(.array(txObjects.map { .object($0) })),
                             hashesOnly: blockObject(.array(txHashes.map { .string($0.hex) })),
                             transactions: txObjects, transactionHashes: txHashes, receipts: receiptObjects,
                             logs: logs, trace: trace, stateRoot: stateRoot)
        return (block, state.accounts, state.slots)
    }

    /// The header's stateRoot: keccak over the parent's value and this block's changes
    /// (sorted). Deterministic and sensitive to every change on the branch, but NOT the root
    /// of Ethereum's state trie: rebuilding a secure trie over every account each block
    /// costs too much at benchmark sizes, and nothing downstream recomputes state roots.
    static func commitment(parent: Hash32, accounts: [Address: SimAccount], slots: [SlotKey: Hash32]) -> Hash32 {
        var h = Keccak256()
        h.update(parent.bytes)
        for a in accounts.keys.sorted() {
            let v = accounts[a]!
            h.update(a.bytes); h.update(v.balance.bytes32); h.update(U256(v.nonce).bytes32); h.update(keccak256(v.code))
        }
        for k in slots.keys.sorted() { h.update(k.address.bytes); h.update(k.slot.bytes); h.update(slots[k]!.bytes) }
        return Hash32(unchecked: h.finalize())
    }

    // MARK: transactions

    /// Chooses a transaction, applies its effects, and records its prestate diff.
    mutating func makeTransaction(index: Int) -> Tx {
        let from = world.eoas[rng.below(world.eoas.count)]
        let nonce = state.account(from).nonce
        var to: Address? = nil, created: Address? = nil
        var value = U256.zero, input = [UInt8](), gasUsed: UInt64 = 21_000, gasLimit: UInt64 = 0
        var success = true
        var logs = [Log]()
        let kind = rng.below(100)
        switch kind {
        case 0..<30:   // ETH transfer, now and then to an address never seen before
            if rng.below(8) == 0 {
                to = Address(unchecked: Array(keccak256(Array("sim-fresh-\(options.seed)-\(number)-\(branch)-\(index)".utf8))[12...]))
            } else {
                to = world.eoas[rng.below(world.eoas.count)]
            }
            value = U256(rng.next() % 1_000_000_000_000_000 + 1)
        case 30..<60:  // token transfer (or a mint when the sender holds too little)
            let token = world.tokens[rng.below(world.tokens.count)]
            to = token
            let recipient = world.eoas[rng.below(world.eoas.count)]
            let amount = U256(rng.next() % 1_000_000 + 1)
            let fromSlot = SimWorld.balanceSlot(from), toSlot = SimWorld.balanceSlot(recipient)
            let held = try! U256(bigEndian: state.slot(token, fromSlot).bytes)
            var source = from
            if held >= amount {
                input = [0xa9, 0x05, 0x9c, 0xbb] + SimWorld.pad32(recipient) + amount.bytes32   // transfer(address,uint256)
                state.setSlot(token, fromSlot, Hash32(unchecked: (held - amount).bytes32))
                gasUsed = 51_000
            } else {
                input = [0x40, 0xc1, 0x0f, 0x19] + SimWorld.pad32(recipient) + amount.bytes32   // mint(address,uint256)
                source = .zero
                let supply = try! U256(bigEndian: state.slot(token, SimWorld.totalSupplySlot).bytes)
                state.setSlot(token, SimWorld.totalSupplySlot, Hash32(unchecked: (supply + amount).bytes32))
                gasUsed = 68_000
            }
            // Read after the debit: a transfer to oneself must end where it started.
            let got = try! U256(bigEndian: state.slot(token, toSlot).bytes)
            state.setSlot(token, toSlot, Hash32(unchecked: (got + amount).bytes32))
            logs.append(Log(address: token, topics: [SimWorld.transferTopic, Hash32(unchecked: SimWorld.pad32(source)), Hash32(unchecked: SimWorld.pad32(recipient))],
                            data: amount.bytes32))
        case 60..<75:  // key-value write; one in five clears the slot
            to = world.store
            let slot = Hash32(unchecked: U256(rng.next() % 64).bytes32)
            let v = rng.below(5) == 0 ? Hash32.zero : Hash32(unchecked: rng.bytes(32))
            input = [0x55, 0x24, 0x10, 0xb3] + slot.bytes + v.bytes
            gasUsed = v == .zero ? 26_000 : 44_000
            state.setSlot(world.store, slot, v)
            logs.append(Log(address: world.store, topics: [SimWorld.storedTopic, slot], data: v.bytes))
        case 75..<87:  // contract creation: the constructor stores its deployer at slot 0
            let addr = Address(unchecked: Array(keccak256(RLP.encode(.list([.bytes(from.bytes), .uint(nonce)])))[12...]))
            created = addr
            let runtime = rng.bytes(10)
            // Real init code: CODECOPY the 10 bytes after it and RETURN them.
            input = [0x60, 0x0a, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x0a, 0x60, 0x00, 0xf3] + runtime
            if rng.below(3) == 0 { value = U256(rng.next() % 1_000_000_000 + 1) }
            gasUsed = 120_000
            state.markCreated(addr)
            state.update(addr) { $0.nonce = 1; $0.code = runtime }
            state.setSlot(addr, .zero, Hash32(unchecked: SimWorld.pad32(from)))
        default:       // a failing call: a token transfer far beyond any balance reverts
            let token = world.tokens[rng.below(world.tokens.count)]
            to = token
            input = [0xa9, 0x05, 0x9c, 0xbb] + SimWorld.pad32(world.eoas[rng.below(world.eoas.count)]) + (U256(1) << 200).bytes32
            gasUsed = 29_000
            gasLimit = 29_000 + 20_000
            success = false
        }
        if gasLimit == 0 { gasLimit = gasUsed + 10_000 * UInt64(1 + rng.below(3)) }

        // Fees: the base fee is burnt, the tip goes to the miner.
        let type = UInt8([0, 1, 2, 2, 2][rng.below(5)])
        let tip = U256(1_000_000_000 + 500_000_000 * UInt64(rng.below(3)))
        let price = baseFee + tip
        let valueMoves = success ? value : .zero
        state.update(from) { $0.balance -= valueMoves + U256(gasUsed) * price; $0.nonce += 1 }
        if let dest = created ?? to, valueMoves > .zero { state.update(dest) { $0.balance += valueMoves } }
        state.update(world.miner) { $0.balance += U256(gasUsed) * tip }

        var f = JSONObject()
        f["from"] = .string(from.hex)
        f["gas"] = .string(Hex.encodeQuantity(gasLimit))
        if type == 2 {
            f["maxFeePerGas"] = .string((baseFee * U256(2) + tip).quantity)
            f["maxPriorityFeePerGas"] = .string(tip.quantity)
        } else {
            f["gasPrice"] = .string(price.quantity)
        }
        f["input"] = .string(Hex.encode(input))
        f["nonce"] = .string(Hex.encodeQuantity(nonce))
        f["to"] = to.map { .string($0.hex) } ?? .null
        f["value"] = .string(value.quantity)
        f["type"] = .string(Hex.encodeQuantity(UInt64(type)))
        // Signatures are deterministic random numbers, not secp256k1 signatures: `from` is
        // stated in the JSON, and nothing downstream recovers senders.
        let parity = rng.next() % 2
        if type != 0 {
            var list = [JSONValue]()
            if type == 1 || rng.below(4) == 0, let target = to {
                list.append(.object(["address": .string(target.hex), "storageKeys": .array([.string(Hash32.zero.hex)])]))
            }
            f["accessList"] = .array(list)
        }
        f["chainId"] = .string(Hex.encodeQuantity(options.chainId))
        f["v"] = .string(Hex.encodeQuantity(type == 0 ? options.chainId * 2 + 35 + parity : parity))
        f["r"] = .string(Hex.encodeQuantity(bytes: [1] + rng.bytes(31)))
        f["s"] = .string(Hex.encodeQuantity(bytes: [1] + rng.bytes(31)))
        if type != 0 { f["yParity"] = .string(Hex.encodeQuantity(parity)) }
        let tx = try! Transaction(json: f)
        let diff = state.finishTransaction()
        return Tx(fields: f, tx: tx, from: from, to: to, created: created, gasUsed: gasUsed, effectivePrice: price,
                  success: success, logs: logs, pre: diff.pre, post: diff.post)
    }
}
