/// An event log as receipts carry it.
public struct Log: Hashable, Sendable {
    public let address: Address
    public let topics: [Hash32]
    public let data: [UInt8]

    public init(address: Address, topics: [Hash32], data: [UInt8]) {
        self.address = address; self.topics = topics; self.data = data
    }

    public init(json o: JSONObject) throws(FieldError) {
        address = try o.address("address")
        var ts = [Hash32]()
        for (i, t) in try o.array("topics").enumerated() {
            guard let s = t.stringValue else { throw FieldError(field: "topics[\(i)]", problem: "expected a hash string") }
            do { ts.append(try Hash32(hex: s)) } catch { throw FieldError(field: "topics[\(i)]", problem: error.description) }
        }
        topics = ts
        data = try o.data("data")
    }

    var rlp: RLPItem { .list([.bytes(address.bytes), .list(topics.map { .bytes($0.bytes) }), .bytes(data)]) }
}

/// A receipt in its consensus form: what the receipts trie commits to.
public struct Receipt: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        /// Byzantium and later: 1 success, 0 failure.
        case status(Bool)
        /// Before Byzantium: the intermediate state root.
        case root(Hash32)
    }

    public let type: UInt8
    public let outcome: Outcome
    public let cumulativeGasUsed: UInt64
    public let logsBloom: Bloom
    public let logs: [Log]
    /// OP Stack deposit receipts since Canyon commit to these two extra fields.
    public let depositNonce: UInt64?
    public let depositReceiptVersion: UInt64?

    public init(type: UInt8, outcome: Outcome, cumulativeGasUsed: UInt64, logsBloom: Bloom, logs: [Log],
                depositNonce: UInt64? = nil, depositReceiptVersion: UInt64? = nil) {
        self.type = type; self.outcome = outcome; self.cumulativeGasUsed = cumulativeGasUsed
        self.logsBloom = logsBloom; self.logs = logs
        self.depositNonce = depositNonce; self.depositReceiptVersion = depositReceiptVersion
    }

    /// From a JSON-RPC receipt object (eth_getTransactionReceipt / eth_getBlockReceipts).
    public init(json o: JSONObject) throws(FieldError) {
        type = o.has("type") ? UInt8(truncatingIfNeeded: try o.quantity("type")) : 0
        if o.has("status") {
            let s = try o.quantity("status")
            guard s <= 1 else { throw FieldError(field: "status", problem: "must be 0x0 or 0x1, got \(Hex.encodeQuantity(s))") }
            outcome = .status(s == 1)
        } else if o.has("root") {
            outcome = .root(try o.hash("root"))
        } else {
            throw FieldError(field: "status", problem: "missing (and no pre-Byzantium root either)")
        }
        cumulativeGasUsed = try o.quantity("cumulativeGasUsed")
        logsBloom = try o.bloom("logsBloom")
        var ls = [Log]()
        for (i, l) in try o.array("logs").enumerated() {
            let path = "logs[\(i)]"
            do { ls.append(try Log(json: try l.object(at: path))) } catch { throw error.field.hasPrefix(path) ? error : error.within(path) }
        }
        logs = ls
        // Pre-Canyon deposit receipts show depositNonce over RPC but do not commit to it;
        // the version field is what marks the Canyon encoding.
        if type == 0x7e, o.has("depositReceiptVersion") {
            depositNonce = try o.quantity("depositNonce")
            depositReceiptVersion = try o.quantity("depositReceiptVersion")
        } else {
            depositNonce = nil; depositReceiptVersion = nil
        }
    }

    /// The bloom recomputed from the logs; a verified receipt has `logsBloom == computedBloom`.
    public var computedBloom: Bloom { Bloom.of(logs: logs) }

    /// Consensus encoding: rlp(payload) for legacy, type ‖ rlp(payload) for typed receipts.
    public var encoded: [UInt8] {
        var items: [RLPItem] = []
        switch outcome {
        case .status(let ok): items.append(.bytes(ok ? [1] : []))
        case .root(let r): items.append(.bytes(r.bytes))
        }
        items.append(.uint(cumulativeGasUsed))
        items.append(.bytes(logsBloom.bytes))
        items.append(.list(logs.map(\.rlp)))
        if let n = depositNonce, let v = depositReceiptVersion {
            items.append(.uint(n)); items.append(.uint(v))
        }
        let payload = RLP.encode(.list(items))
        return type == 0 ? payload : [type] + payload
    }
}
