/// The RLP field layout of each transaction type, with the JSON-RPC name of every field.
///
/// Sources of the layouts: EIP-155 (legacy), EIP-2930 (0x01), EIP-1559 (0x02), EIP-4844
/// (0x03), EIP-7702 (0x04), the OP Stack deposit spec (0x7e) and Arbitrum Nitro's
/// transaction types (0x64–0x6a).
public struct TransactionLayout: Sendable {
    public struct Field: Sendable {
        public let json: String
        public let kind: TxFieldKind
    }
    public let type: UInt8
    public let name: String
    public let fields: [Field]

    init(_ type: UInt8, _ name: String, _ fields: [(String, TxFieldKind)]) {
        self.type = type
        self.name = name
        self.fields = fields.map { Field(json: $0.0, kind: $0.1) }
    }

    public static func forType(_ t: UInt8) -> TransactionLayout? { all[t] }

    static let all: [UInt8: TransactionLayout] = {
        var m = [UInt8: TransactionLayout]()
        for l in [legacy, accessList, dynamicFee, blob, setCode, opDeposit,
                  arbDeposit, arbUnsigned, arbContract, arbRetry, arbSubmitRetryable, arbInternal] {
            m[l.type] = l
        }
        return m
    }()

    static let legacy = TransactionLayout(0x00, "legacy", [
        ("nonce", .quantity), ("gasPrice", .quantity), ("gas", .quantity), ("to", .optionalAddress),
        ("value", .quantity), ("input", .data), ("v", .quantity), ("r", .quantity), ("s", .quantity),
    ])
    static let accessList = TransactionLayout(0x01, "accessList", [
        ("chainId", .quantity), ("nonce", .quantity), ("gasPrice", .quantity), ("gas", .quantity),
        ("to", .optionalAddress), ("value", .quantity), ("input", .data), ("accessList", .accessList),
        ("yParity", .yParity), ("r", .quantity), ("s", .quantity),
    ])
    static let dynamicFee = TransactionLayout(0x02, "dynamicFee", [
        ("chainId", .quantity), ("nonce", .quantity), ("maxPriorityFeePerGas", .quantity), ("maxFeePerGas", .quantity),
        ("gas", .quantity), ("to", .optionalAddress), ("value", .quantity), ("input", .data),
        ("accessList", .accessList), ("yParity", .yParity), ("r", .quantity), ("s", .quantity),
    ])
    static let blob = TransactionLayout(0x03, "blob", [
        ("chainId", .quantity), ("nonce", .quantity), ("maxPriorityFeePerGas", .quantity), ("maxFeePerGas", .quantity),
        ("gas", .quantity), ("to", .address), ("value", .quantity), ("input", .data),
        ("accessList", .accessList), ("maxFeePerBlobGas", .quantity), ("blobVersionedHashes", .hashList),
        ("yParity", .yParity), ("r", .quantity), ("s", .quantity),
    ])
    static let setCode = TransactionLayout(0x04, "setCode", [
        ("chainId", .quantity), ("nonce", .quantity), ("maxPriorityFeePerGas", .quantity), ("maxFeePerGas", .quantity),
        ("gas", .quantity), ("to", .address), ("value", .quantity), ("input", .data),
        ("accessList", .accessList), ("authorizationList", .authorizationList),
        ("yParity", .yParity), ("r", .quantity), ("s", .quantity),
    ])
    /// OP Stack deposit: hash = keccak(0x7e ‖ rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data])).
    static let opDeposit = TransactionLayout(0x7e, "opDeposit", [
        ("sourceHash", .hash), ("from", .address), ("to", .optionalAddress), ("mint", .optionalQuantity),
        ("value", .quantity), ("gas", .quantity), ("isSystemTx", .flag), ("input", .data),
    ])
    static let arbDeposit = TransactionLayout(0x64, "arbitrumDeposit", [
        ("chainId", .quantity), ("requestId", .hash), ("from", .address), ("to", .address), ("value", .quantity),
    ])
    static let arbUnsigned = TransactionLayout(0x65, "arbitrumUnsigned", [
        ("chainId", .quantity), ("from", .address), ("nonce", .quantity), ("maxFeePerGas", .quantity),
        ("gas", .quantity), ("to", .optionalAddress), ("value", .quantity), ("input", .data),
    ])
    static let arbContract = TransactionLayout(0x66, "arbitrumContract", [
        ("chainId", .quantity), ("requestId", .hash), ("from", .address), ("maxFeePerGas", .quantity),
        ("gas", .quantity), ("to", .optionalAddress), ("value", .quantity), ("input", .data),
    ])
    static let arbRetry = TransactionLayout(0x68, "arbitrumRetry", [
        ("chainId", .quantity), ("nonce", .quantity), ("from", .address), ("maxFeePerGas", .quantity),
        ("gas", .quantity), ("to", .optionalAddress), ("value", .quantity), ("input", .data),
        ("ticketId", .hash), ("refundTo", .address), ("maxRefund", .quantity), ("submissionFeeRefund", .quantity),
    ])
    static let arbSubmitRetryable = TransactionLayout(0x69, "arbitrumSubmitRetryable", [
        ("chainId", .quantity), ("requestId", .hash), ("from", .address), ("l1BaseFee", .quantity),
        ("depositValue", .quantity), ("maxFeePerGas", .quantity), ("gas", .quantity), ("retryTo", .optionalAddress),
        ("retryValue", .quantity), ("beneficiary", .address), ("maxSubmissionFee", .quantity),
        ("refundTo", .address), ("retryData", .data),
    ])
    /// Arbitrum internal (ArbOS) transaction: hash = keccak(0x6a ‖ rlp([chainId, data])).
    static let arbInternal = TransactionLayout(0x6a, "arbitrumInternal", [
        ("chainId", .quantity), ("input", .data),
    ])
}

/// How one transaction field maps between JSON-RPC and RLP.
public enum TxFieldKind: Sendable {
    case quantity, optionalQuantity, data, address, optionalAddress, hash, flag
    case accessList, hashList, authorizationList, yParity

    func rlp(from o: JSONObject, key: String) throws(FieldError) -> RLPItem {
        switch self {
        case .quantity: return .uint(try o.u256(key))
        case .optionalQuantity: return o.has(key) ? .uint(try o.u256(key)) : .bytes([])
        case .data: return .bytes(try o.data(key))
        case .address: return .bytes(try o.address(key).bytes)
        case .optionalAddress: return .bytes(try o.optionalAddress(key)?.bytes ?? [])
        case .hash: return .bytes(try o.hash(key).bytes)
        case .flag:
            let set = o.has(key) ? try o.bool(key) : false
            return .bytes(set ? [1] : [])
        case .yParity:
            // Typed transactions carry yParity; older nodes only send v (equal for typed txs).
            return .uint(o.has(key) ? try o.u256(key) : try o.u256("v"))
        case .hashList:
            var out = [RLPItem]()
            for (i, v) in try o.array(key).enumerated() {
                guard let s = v.stringValue else { throw FieldError(field: "\(key)[\(i)]", problem: "expected a hash string") }
                do { out.append(.bytes(try Hex.decodeData(s, length: 32))) } catch { throw FieldError(field: "\(key)[\(i)]", problem: error.description) }
            }
            return .list(out)
        case .accessList:
            guard o.has(key) else { return .list([]) }
            var out = [RLPItem]()
            for (i, v) in try o.array(key).enumerated() {
                let path = "\(key)[\(i)]"
                do {
                    let e = try v.object(at: path)
                    let keys = try TxFieldKind.hashList.rlp(from: e, key: "storageKeys")
                    out.append(.list([.bytes(try e.address("address").bytes), keys]))
                } catch { throw error.field.hasPrefix(path) ? error : error.within(path) }
            }
            return .list(out)
        case .authorizationList:
            var out = [RLPItem]()
            for (i, v) in try o.array(key).enumerated() {
                let path = "\(key)[\(i)]"
                do {
                    let a = try v.object(at: path)
                    out.append(.list([
                        .uint(try a.u256("chainId")), .bytes(try a.address("address").bytes), .uint(try a.u256("nonce")),
                        .uint(try a.u256(a.has("yParity") ? "yParity" : "v")), .uint(try a.u256("r")), .uint(try a.u256("s")),
                    ]))
                } catch { throw error.field.hasPrefix(path) ? error : error.within(path) }
            }
            return .list(out)
        }
    }

    /// Nil when the item has the shape this kind needs, else what is wrong.
    func validate(_ item: RLPItem) -> String? {
        func integer(_ i: RLPItem) -> String? {
            guard case .bytes(let b) = i else { return "expected an integer, found a list" }
            if b.first == 0 { return "integer has a leading zero" }
            return b.count > 32 ? "integer longer than 32 bytes" : nil
        }
        func fixed(_ i: RLPItem, _ n: Int) -> String? {
            guard case .bytes(let b) = i, b.count == n else { return "expected \(n) bytes" }
            return nil
        }
        switch self {
        case .quantity, .optionalQuantity, .yParity: return integer(item)
        case .data: return item.bytesValue == nil ? "expected bytes, found a list" : nil
        case .address: return fixed(item, 20)
        case .optionalAddress:
            guard case .bytes(let b) = item, b.isEmpty || b.count == 20 else { return "expected 20 bytes or empty" }
            return nil
        case .hash: return fixed(item, 32)
        case .flag:
            guard case .bytes(let b) = item, b.isEmpty || b == [1] else { return "expected a boolean (0x80 or 0x01)" }
            return nil
        case .hashList:
            guard case .list(let l) = item else { return "expected a list" }
            return l.lazy.compactMap { fixed($0, 32) }.first
        case .accessList:
            guard case .list(let l) = item else { return "expected a list" }
            for e in l {
                guard case .list(let pair) = e, pair.count == 2 else { return "access-list entry must be [address, keys]" }
                if let p = fixed(pair[0], 20) ?? TxFieldKind.hashList.validate(pair[1]) { return p }
            }
            return nil
        case .authorizationList:
            guard case .list(let l) = item else { return "expected a list" }
            for e in l {
                guard case .list(let a) = e, a.count == 6 else { return "authorization must have 6 fields" }
                if let p = integer(a[0]) ?? fixed(a[1], 20) ?? integer(a[2]) ?? integer(a[3]) ?? integer(a[4]) ?? integer(a[5]) { return p }
            }
            return nil
        }
    }

    func addJSON(_ item: RLPItem, key: String, to o: inout JSONObject) {
        func q(_ i: RLPItem) -> JSONValue { .string(Hex.encodeQuantity(bytes: i.bytesValue ?? [])) }
        func d(_ i: RLPItem) -> JSONValue { .string(Hex.encode(i.bytesValue ?? [])) }
        switch self {
        case .quantity, .optionalQuantity: o[key] = q(item)
        case .yParity: o[key] = q(item); o["v"] = q(item)
        case .data, .address, .hash: o[key] = d(item)
        case .optionalAddress: o[key] = (item.bytesValue ?? []).isEmpty ? .null : d(item)
        case .flag: o[key] = .bool(item.bytesValue == [1])
        case .hashList: o[key] = .array((item.listValue ?? []).map(d))
        case .accessList:
            o[key] = .array((item.listValue ?? []).map { e in
                let pair = e.listValue ?? []
                return .object(["address": d(pair[0]), "storageKeys": .array((pair[1].listValue ?? []).map(d))])
            })
        case .authorizationList:
            o[key] = .array((item.listValue ?? []).map { e in
                let a = e.listValue ?? []
                return .object(["chainId": q(a[0]), "address": d(a[1]), "nonce": q(a[2]), "yParity": q(a[3]), "r": q(a[4]), "s": q(a[5])])
            })
        }
    }
}
