import Chain

/// One generated block with everything the RPC layer serves for it, already serialized in
/// geth's JSON shapes, so a request is a lookup and a copy, not a rebuild.
///
/// Kept as bytes, not `JSONValue` trees: a tree costs about four times its text (an
/// enum, an array slot and a heap string per field), and a million-transaction history
/// held as trees took 12.7 GB. The tree accessors parse on demand for tests and cold paths.
public struct SimBlock: Sendable {
    public let number: UInt64
    public let hash: Hash32
    public let parentHash: Hash32
    /// eth_getBlockByNumber result with transaction hashes only.
    public let hashesOnlyText: [UInt8]
    /// Where its `transactions` array is, so the full block is composed from it and the
    /// transaction texts rather than stored twice.
    let transactionsArray: Range<Int>
    public let transactionTexts: [[UInt8]]
    public let transactionHashes: [Hash32]
    public let receiptTexts: [[UInt8]]
    /// Every log of the block in order, with the typed fields eth_getLogs filters on.
    public let logs: [SimLog]
    /// debug_traceBlockByNumber with prestateTracer in diffMode: one {txHash, result} per transaction.
    public let traceTexts: [[UInt8]]
    /// Not Ethereum's state trie root: see `SimChain`.
    public let stateRoot: Hash32
    public let baseFeePerGas: U256

    init(number: UInt64, hash: Hash32, parentHash: Hash32, full: JSONObject, hashesOnly: JSONObject, transactions: [JSONObject],
         transactionHashes: [Hash32], receipts: [JSONObject], logs: [SimLog], trace: [JSONValue], stateRoot: Hash32) {
        precondition(transactions.count == transactionHashes.count && receipts.count == transactions.count && trace.count == transactions.count,
                     "one transaction object, receipt and trace per transaction")
        precondition(full["number"]?.stringValue == Hex.encodeQuantity(number), "the block object is block \(number)")
        self.number = number
        self.hash = hash
        self.parentHash = parentHash
        // JSON.write's object layout, noting where the transactions array lies.
        var text: [UInt8] = [UInt8(ascii: "{")], array: Range<Int>?
        for (i, (k, v)) in hashesOnly.pairs.enumerated() {
            if i > 0 { text.append(UInt8(ascii: ",")) }
            JSON.writeString(k, to: &text)
            text.append(UInt8(ascii: ":"))
            let start = text.count
            JSON.write(v, to: &text)
            if k == "transactions" { array = start..<text.count }
        }
        text.append(UInt8(ascii: "}"))
        precondition(array != nil, "block \(number) has a transactions array")
        hashesOnlyText = text
        transactionsArray = array!
        transactionTexts = transactions.map { JSON.serializedBytes(.object($0)) }
        self.transactionHashes = transactionHashes
        receiptTexts = receipts.map { JSON.serializedBytes(.object($0)) }
        self.logs = logs
        traceTexts = trace.map(JSON.serializedBytes)
        self.stateRoot = stateRoot
        baseFeePerGas = try! U256(quantity: full["baseFeePerGas"]!.stringValue!)
        assert(hashesOnlyText == JSON.serializedBytes(.object(hashesOnly)), "the hashes-only text is JSON.write's")
        assert(fullText == JSON.serializedBytes(.object(full)), "the composed full block is JSON.write's")
    }

    /// eth_getBlockByNumber result with full transaction objects.
    public var fullText: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(hashesOnlyText.count + transactionTexts.reduce(0) { $0 + $1.count + 1 })
        out += hashesOnlyText[..<transactionsArray.lowerBound]
        out += JSON.arrayText(transactionTexts)
        out += hashesOnlyText[transactionsArray.upperBound...]
        return out
    }

    public var transactionCount: Int { transactionHashes.count }
    public var full: JSONObject { SimBlock.tree(fullText).objectValue! }
    public var hashesOnly: JSONObject { SimBlock.tree(hashesOnlyText).objectValue! }
    public var transactions: [JSONObject] { transactionTexts.map { SimBlock.tree($0).objectValue! } }
    public var receipts: [JSONObject] { receiptTexts.map { SimBlock.tree($0).objectValue! } }
    public var trace: [JSONValue] { traceTexts.map(SimBlock.tree) }

    /// Our own serialization parsed back; failing would be a bug in JSON.write or JSON.parse.
    static func tree(_ text: [UInt8]) -> JSONValue {
        do { return try JSON.parse(text) } catch { preconditionFailure("SimBlock holds JSON it wrote itself: \(error)") }
    }
}

public struct SimLog: Sendable {
    public let address: Address
    public let topics: [Hash32]
    public let text: [UInt8]

    init(address: Address, topics: [Hash32], json: JSONValue) {
        self.address = address
        self.topics = topics
        text = JSON.serializedBytes(json)
    }
    public var json: JSONValue { SimBlock.tree(text) }
}

extension JSON {
    /// `[a,b,…]` from already serialized elements.
    static func arrayText<S: Sequence>(_ elements: S) -> [UInt8] where S.Element == [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, e) in elements.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += e
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}
