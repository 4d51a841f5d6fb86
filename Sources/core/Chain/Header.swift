/// A block header. The fields after `nonce` arrived with forks and are present exactly
/// when the block's fork has them: London baseFeePerGas; Shanghai (OP Canyon)
/// withdrawalsRoot; Cancun (OP Ecotone) blobGasUsed, excessBlobGas and
/// parentBeaconBlockRoot; Prague (OP Isthmus) requestsHash. Arbitrum Nitro headers are
/// London-shaped; its RPC-only fields (sendRoot, sendCount, l1BlockNumber) are derived
/// from extraData and mixHash and are not hashed separately.
public struct Header: Hashable, Sendable {
    public var parentHash: Hash32
    public var ommersHash: Hash32
    public var beneficiary: Address
    public var stateRoot: Hash32
    public var transactionsRoot: Hash32
    public var receiptsRoot: Hash32
    public var logsBloom: Bloom
    public var difficulty: U256
    public var number: UInt64
    public var gasLimit: UInt64
    public var gasUsed: UInt64
    public var timestamp: UInt64
    public var extraData: [UInt8]
    public var mixHash: Hash32
    public var nonce: [UInt8]
    public var baseFeePerGas: U256?
    public var withdrawalsRoot: Hash32?
    public var blobGasUsed: UInt64?
    public var excessBlobGas: UInt64?
    public var parentBeaconBlockRoot: Hash32?
    public var requestsHash: Hash32?

    /// The fork-dependent tail, in encoding order.
    public enum Fork: Int, Comparable, Sendable, CaseIterable {
        case frontier, london, shanghai, cancun, prague
        public static func < (a: Fork, b: Fork) -> Bool { a.rawValue < b.rawValue }
    }

    /// The newest fork whose fields this header carries.
    public var fork: Fork {
        if requestsHash != nil { return .prague }
        if parentBeaconBlockRoot != nil { return .cancun }
        if withdrawalsRoot != nil { return .shanghai }
        if baseFeePerGas != nil { return .london }
        return .frontier
    }

    public init(json o: JSONObject) throws(FieldError) {
        parentHash = try o.hash("parentHash")
        ommersHash = try o.hash("sha3Uncles")
        beneficiary = try o.address("miner")
        stateRoot = try o.hash("stateRoot")
        transactionsRoot = try o.hash("transactionsRoot")
        receiptsRoot = try o.hash("receiptsRoot")
        logsBloom = try o.bloom("logsBloom")
        difficulty = try o.u256("difficulty")
        number = try o.quantity("number")
        gasLimit = try o.quantity("gasLimit")
        gasUsed = try o.quantity("gasUsed")
        timestamp = try o.quantity("timestamp")
        extraData = try o.data("extraData")
        mixHash = try o.hash("mixHash")
        nonce = try o.data("nonce", length: 8)
        baseFeePerGas = o.has("baseFeePerGas") ? try o.u256("baseFeePerGas") : nil
        withdrawalsRoot = o.has("withdrawalsRoot") ? try o.hash("withdrawalsRoot") : nil
        blobGasUsed = o.has("blobGasUsed") ? try o.quantity("blobGasUsed") : nil
        excessBlobGas = o.has("excessBlobGas") ? try o.quantity("excessBlobGas") : nil
        parentBeaconBlockRoot = o.has("parentBeaconBlockRoot") ? try o.hash("parentBeaconBlockRoot") : nil
        requestsHash = o.has("requestsHash") ? try o.hash("requestsHash") : nil
        if let problem = tailProblem { throw FieldError(field: problem.field, problem: problem.message) }
    }

    /// Fork fields must form a prefix of the tail: a later fork's field without an earlier one's is malformed.
    var tailProblem: (field: String, message: String)? {
        let present: [(String, Bool)] = [
            ("baseFeePerGas", baseFeePerGas != nil), ("withdrawalsRoot", withdrawalsRoot != nil),
            ("blobGasUsed", blobGasUsed != nil), ("excessBlobGas", excessBlobGas != nil),
            ("parentBeaconBlockRoot", parentBeaconBlockRoot != nil), ("requestsHash", requestsHash != nil),
        ]
        var missing: String? = nil
        for (name, has) in present {
            if !has { missing = missing ?? name; continue }
            if let m = missing { return (m, "missing while the later fork field \(name) is present") }
        }
        return nil
    }

    public var rlpItems: [RLPItem] {
        var items: [RLPItem] = [
            .bytes(parentHash.bytes), .bytes(ommersHash.bytes), .bytes(beneficiary.bytes), .bytes(stateRoot.bytes),
            .bytes(transactionsRoot.bytes), .bytes(receiptsRoot.bytes), .bytes(logsBloom.bytes), .uint(difficulty),
            .uint(number), .uint(gasLimit), .uint(gasUsed), .uint(timestamp), .bytes(extraData),
            .bytes(mixHash.bytes), .bytes(nonce),
        ]
        if let v = baseFeePerGas { items.append(.uint(v)) }
        if let v = withdrawalsRoot { items.append(.bytes(v.bytes)) }
        if let v = blobGasUsed { items.append(.uint(v)) }
        if let v = excessBlobGas { items.append(.uint(v)) }
        if let v = parentBeaconBlockRoot { items.append(.bytes(v.bytes)) }
        if let v = requestsHash { items.append(.bytes(v.bytes)) }
        return items
    }

    public var encoded: [UInt8] { RLP.encode(.list(rlpItems)) }
    public var hash: Hash32 { Hash32.keccak(encoded) }

    /// Decodes a header from its RLP (for example from a raw block).
    public init(rlp item: RLPItem) throws(RLPError) {
        let f = try item.list()
        guard (15...21).contains(f.count) else { throw .expected("a header of 15 to 21 fields, found \(f.count)") }
        func h(_ i: Int) throws(RLPError) -> Hash32 {
            let b = try f[i].bytes()
            guard b.count == 32 else { throw .expected("a 32-byte hash in header field \(i)") }
            return Hash32(unchecked: b)
        }
        parentHash = try h(0); ommersHash = try h(1)
        let miner = try f[2].bytes()
        guard miner.count == 20 else { throw .expected("a 20-byte beneficiary") }
        beneficiary = Address(unchecked: miner)
        stateRoot = try h(3); transactionsRoot = try h(4); receiptsRoot = try h(5)
        let bloom = try f[6].bytes()
        guard bloom.count == 256 else { throw .expected("a 256-byte logs bloom") }
        logsBloom = try! Bloom(bloom)
        difficulty = try f[7].u256(); number = try f[8].uint64(); gasLimit = try f[9].uint64()
        gasUsed = try f[10].uint64(); timestamp = try f[11].uint64(); extraData = try f[12].bytes()
        mixHash = try h(13); nonce = try f[14].bytes()
        guard nonce.count == 8 else { throw .expected("an 8-byte nonce") }
        baseFeePerGas = f.count > 15 ? try f[15].u256() : nil
        withdrawalsRoot = f.count > 16 ? try h(16) : nil
        blobGasUsed = f.count > 17 ? try f[17].uint64() : nil
        excessBlobGas = f.count > 18 ? try f[18].uint64() : nil
        parentBeaconBlockRoot = f.count > 19 ? try h(19) : nil
        requestsHash = f.count > 20 ? try h(20) : nil
    }

    /// Arbitrum Nitro's RPC-only fields, packed into extraData and mixHash.
    public var arbitrumSendRoot: Hash32? { extraData.count == 32 ? Hash32(unchecked: extraData) : nil }
    public var arbitrumSendCount: UInt64 { mixHash.bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) } }
    public var arbitrumL1BlockNumber: UInt64 { mixHash.bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) } }
}

/// A beacon-chain withdrawal (EIP-4895), committed to by withdrawalsRoot.
public struct Withdrawal: Hashable, Sendable {
    public let index: UInt64
    public let validatorIndex: UInt64
    public let address: Address
    /// In gwei.
    public let amount: UInt64

    public init(json o: JSONObject) throws(FieldError) {
        index = try o.quantity("index")
        validatorIndex = try o.quantity("validatorIndex")
        address = try o.address("address")
        amount = try o.quantity("amount")
    }

    public var encoded: [UInt8] { RLP.encode(.list([.uint(index), .uint(validatorIndex), .bytes(address.bytes), .uint(amount)])) }
}
