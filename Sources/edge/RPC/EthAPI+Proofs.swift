import Chain
import ChainIndex

/// infra_getTransactionProof / infra_getReceiptProof: a Merkle-Patricia proof that a
/// transaction (or its receipt) sits at its index in its block, with the block header,
/// so anyone can check it without trusting this node:
///   keccak(header) == blockHash; header's transactionsRoot (or receiptsRoot) is `root`;
///   walking `proof` from `root` along `key` (= RLP(index)) yields `value`;
///   and for a transaction, keccak(value) == its hash.
extension EthAPI {
    func transactionProof(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 1)
        return try inclusionProof(try p.hash(0, "transactionHash"), receipt: false)
    }

    func receiptProof(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 1)
        return try inclusionProof(try p.hash(0, "transactionHash"), receipt: true)
    }

    func inclusionProof(_ txHash: Hash32, receipt: Bool) throws -> JSONValue {
        // The transaction, its block and the block's receipts from one snapshot; the trie is built after it closes.
        let found = try request { r -> (number: UInt64, position: UInt64, block: JSONObject, receipts: [JSONValue])? in
            guard let tx = try r.view.transaction(cid, hash: txHash)?.objectValue,
                  let number = try? tx.quantity("blockNumber"), let position = try? tx.quantity("transactionIndex"),
                  let block = try r.view.block(cid, number: number, fullTransactions: true)?.objectValue else { return nil }
            return (number, position, block, receipt ? try r.view.receipts(cid, block: number) ?? [] : [])
        }
        guard let found else { throw RPCError.server("transaction not found") }
        let (number, position, block, receipts) = found
        let header = try Header(json: block)
        var leaves = [[UInt8]]()
        if receipt {
            for (i, r) in receipts.enumerated() {
                leaves.append(try Receipt(json: try r.object(at: "receipts[\(i)]")).encoded)
            }
        } else {
            for (i, t) in try block.array("transactions").enumerated() {
                leaves.append(try Transaction(json: try t.object(at: "transactions[\(i)]")).envelope)
            }
        }
        let trie = MerklePatriciaTrie(orderedValues: leaves)
        let root = receipt ? header.receiptsRoot : header.transactionsRoot
        guard trie.root == root, Int(position) < leaves.count else {
            throw RPCError.internalError("stored block \(number) does not reproduce its \(receipt ? "receiptsRoot" : "transactionsRoot")")
        }
        let key = RLP.encode(.uint(position))
        return .object([
            "blockHash": .string(header.hash.hex),
            "blockNumber": .string(Hex.encodeQuantity(number)),
            "transactionHash": .string(txHash.hex),
            "transactionIndex": .string(Hex.encodeQuantity(position)),
            "root": .string(root.hex),
            "rootField": .string(receipt ? "receiptsRoot" : "transactionsRoot"),
            "key": .string(Hex.encode(key)),
            "value": .string(Hex.encode(leaves[Int(position)])),
            "proof": .array(trie.proof(for: key).map { .string(Hex.encode($0)) }),
            "header": .string(Hex.encode(header.encoded)),
        ])
    }
}
