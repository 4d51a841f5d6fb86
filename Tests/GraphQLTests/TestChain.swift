import Chain
import Foundation
import ChainIndex
import Storage
import TestSupport
@testable import GraphQL

/// A seeded synthetic chain applied to a fresh index in a temporary LMDB environment:
/// geth-shaped blocks, transactions (some contract creations), receipts with logs, and
/// account state, so resolvers can be compared with the stored JSON-RPC objects.
struct TestChain {
    static let chainId: UInt64 = 31337
    let index: ChainIndex
    let first: UInt64
    let last: UInt64
    /// Full blocks and receipts as applied, by number.
    let blocks: [UInt64: JSONObject]
    let receipts: [UInt64: [JSONValue]]
    let addresses: [Address]
    let topics: [Hash32]
    /// Balance and nonce of each address after each block.
    let balances: [UInt64: [Address: (U256, UInt64)]]

    static func make(seed: UInt64, blocks count: Int = 40, first: UInt64 = 100) throws -> TestChain {
        var rng = SeededRandom(seed: seed)
        let dir = NSTemporaryDirectory() + "gql-\(UUID().uuidString.prefix(8))"
        let env = try Environment(path: dir)
        let index = try ChainIndex(env: env)
        let addresses = (0..<8).map { _ in Address(unchecked: rng.bytes(20)) }
        let topics = (0..<5).map { _ in Hash32(unchecked: rng.bytes(32)) }
        var parent = Hash32(unchecked: rng.bytes(32))
        var blocks = [UInt64: JSONObject]()
        var receiptsByBlock = [UInt64: [JSONValue]]()
        var balances = [UInt64: [Address: (U256, UInt64)]]()
        var state = [Address: (U256, UInt64)]()
        for a in addresses { state[a] = (U256(UInt64.random(in: 1_000_000...9_000_000, using: &rng)), 0) }
        var payloads = [ChainCommand.BlockPayload]()
        var prestate = [StateChanges.Account]()
        for a in addresses { prestate.append(.init(address: a, balance: state[a]!.0, nonce: 0)) }

        for k in 0..<count {
            let n = first + UInt64(k)
            let hash = Hash32(unchecked: rng.bytes(32))
            let q = { (v: UInt64) in JSONValue.string(Hex.encodeQuantity(v)) }
            var txs = [JSONValue]()
            var receipts = [JSONValue]()
            var cumulative: UInt64 = 0
            var logIndex: UInt64 = 0
            let txCount = Int.random(in: 0...6, using: &rng)
            for i in 0..<txCount {
                let from = addresses[Int.random(in: 0..<addresses.count, using: &rng)]
                let creates = Int.random(in: 0..<8, using: &rng) == 0
                let to = creates ? nil : addresses[Int.random(in: 0..<addresses.count, using: &rng)]
                let txHash = Hash32(unchecked: rng.bytes(32))
                let value = UInt64.random(in: 0...1000, using: &rng)
                let gasUsed = UInt64.random(in: 21_000...90_000, using: &rng)
                cumulative += gasUsed
                var (fb, fnonce) = state[from]!
                let nonce = fnonce
                fnonce += 1
                fb = fb - U256(value)
                state[from] = (fb, fnonce)
                if let to { state[to] = (state[to]!.0 + U256(value), state[to]!.1) }
                let tx: JSONObject = [
                    "blockHash": .string(hash.hex), "blockNumber": q(n), "from": .string(from.hex), "gas": q(100_000),
                    "gasPrice": q(7_000_000_000), "maxFeePerGas": q(9_000_000_000), "maxPriorityFeePerGas": q(1_000_000_000),
                    "hash": .string(txHash.hex), "input": .string(Hex.encode(rng.bytes(Int.random(in: 0...8, using: &rng)))),
                    "nonce": q(nonce), "to": to.map { .string($0.hex) } ?? .null, "transactionIndex": q(UInt64(i)), "value": q(value),
                    "type": .string("0x2"), "accessList": .array([]), "chainId": q(chainId), "v": q(1), "yParity": q(1),
                    "r": .string(Hex.encodeQuantity(bytes: rng.bytes(32))), "s": .string(Hex.encodeQuantity(bytes: rng.bytes(32))),
                ]
                txs.append(.object(tx))
                var logs = [JSONValue]()
                for _ in 0..<Int.random(in: 0...3, using: &rng) {
                    let t = (0..<Int.random(in: 0...3, using: &rng)).map { _ in JSONValue.string(topics[Int.random(in: 0..<topics.count, using: &rng)].hex) }
                    logs.append(.object([
                        "address": .string(addresses[Int.random(in: 0..<addresses.count, using: &rng)].hex), "topics": .array(t),
                        "data": .string(Hex.encode(rng.bytes(Int.random(in: 0...4, using: &rng) * 32))), "blockNumber": q(n),
                        "transactionHash": .string(txHash.hex), "transactionIndex": q(UInt64(i)), "blockHash": .string(hash.hex),
                        "logIndex": q(logIndex), "removed": .bool(false),
                    ]))
                    logIndex += 1
                }
                receipts.append(.object([
                    "blockHash": .string(hash.hex), "blockNumber": q(n),
                    "contractAddress": creates ? .string(Address(unchecked: rng.bytes(20)).hex) : .null,
                    "cumulativeGasUsed": q(cumulative), "effectiveGasPrice": q(7_000_000_000), "from": .string(from.hex),
                    "gasUsed": q(gasUsed), "logs": .array(logs), "logsBloom": .string(Hex.encode([UInt8](repeating: 0, count: 256))),
                    "status": q(Int.random(in: 0..<10, using: &rng) == 0 ? 0 : 1), "to": to.map { .string($0.hex) } ?? .null,
                    "transactionHash": .string(txHash.hex), "transactionIndex": q(UInt64(i)), "type": .string("0x2"),
                ]))
            }
            let block: JSONObject = [
                "baseFeePerGas": q(UInt64.random(in: 1_000_000_000...5_000_000_000, using: &rng)), "difficulty": q(0),
                "extraData": .string("0x"), "gasLimit": q(30_000_000), "gasUsed": q(cumulative), "hash": .string(hash.hex),
                "logsBloom": .string(Hex.encode([UInt8](repeating: 0, count: 256))), "miner": .string(addresses[k % addresses.count].hex),
                "mixHash": .string(Hash32(unchecked: rng.bytes(32)).hex), "nonce": .string("0x0000000000000000"), "number": q(n),
                "parentHash": .string(parent.hex), "receiptsRoot": .string(Hash32(unchecked: rng.bytes(32)).hex),
                "sha3Uncles": .string(Hash32.keccak(RLP.encodeList(encodedItems: [])).hex), "size": q(1000),
                "stateRoot": .string(Hash32(unchecked: rng.bytes(32)).hex), "timestamp": q(1_700_000_000 + n * 12),
                "totalDifficulty": q(58_750_000_000_000), "transactions": .array(txs),
                "transactionsRoot": .string(Hash32(unchecked: rng.bytes(32)).hex), "uncles": .array([]),
                "withdrawals": .array([.object(["index": q(n * 2), "validatorIndex": q(7), "address": .string(addresses[0].hex), "amount": q(12)])]),
                "withdrawalsRoot": .string(Hash32(unchecked: rng.bytes(32)).hex),
            ]
            blocks[n] = block
            receiptsByBlock[n] = receipts
            var post = [StateChanges.Account]()
            for a in addresses { post.append(.init(address: a, balance: state[a]!.0, nonce: state[a]!.1)) }
            balances[n] = state
            payloads.append(ChainCommand.BlockPayload(number: n, hash: hash, parentHash: parent, block: Array(JSON.serialize(.object(block)).utf8),
                                                      receipts: Array(JSON.serialize(.array(receipts)).utf8),
                                                      state: StateChanges(pre: k == 0 ? prestate : [], post: post, source: .probe)))
            parent = hash
        }
        let cmd = ChainCommand.blocks(chainId: chainId, blocks: payloads, safe: nil, finalized: nil)
        let outcome = try env.write { txn in try index.apply(cmd, in: txn) }
        guard outcome.skipped.isEmpty else { throw TestFailure("test chain not applied: \(outcome.skipped)") }
        return TestChain(index: index, first: first, last: first + UInt64(count) - 1, blocks: blocks, receipts: receiptsByBlock,
                         addresses: addresses, topics: topics, balances: balances)
    }

    func service(limits: GraphQLLimits = .init(), forward: UpstreamForwarder? = nil) -> GraphQLService {
        GraphQLService(index: index, chainId: Self.chainId, limits: limits, forward: forward)
    }
}

/// Runs a query and returns `data`, failing with the errors if there were any.
func data(_ service: GraphQLService, _ query: String, _ variables: JSONObject? = nil) throws -> JSONValue {
    let r = service.execute(query: query, operationName: nil, variables: variables)
    if let errors = r["errors"] { throw TestFailure("errors: \(JSON.serialize(errors)) for \(query)") }
    guard let d = r["data"] else { throw TestFailure("no data for \(query)") }
    return d
}

extension JSONValue {
    /// `value["a.b.0.c"]`-style access for expectations.
    func at(_ path: String) -> JSONValue? {
        var cur: JSONValue? = self
        for part in path.split(separator: ".") {
            if let i = Int(part) { cur = cur?.arrayValue.flatMap { i < $0.count ? $0[i] : nil } } else { cur = cur?[String(part)] }
        }
        return cur
    }
    var number: UInt64? { if case .number(let n) = self { return UInt64(n) }; return nil }
}
