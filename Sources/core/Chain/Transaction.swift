/// A transaction of any supported type, held as the ordered fields of its canonical
/// RLP payload. The per-type layouts live in `TransactionLayout`; this type moves a
/// transaction between its three forms: JSON-RPC object, canonical envelope, hash.
public struct Transaction: Hashable, Sendable {
    /// EIP-2718 type byte; 0 is legacy (no envelope prefix).
    public let type: UInt8
    /// RLP items in the order of `layout.fields`.
    public let fields: [RLPItem]

    public var layout: TransactionLayout { TransactionLayout.forType(type)! }

    init(type: UInt8, fields: [RLPItem]) {
        precondition(TransactionLayout.forType(type)?.fields.count == fields.count, "field count does not match layout of type \(type)")
        self.type = type
        self.fields = fields
    }

    /// Canonical encoding: rlp(fields) for legacy, type ‖ rlp(fields) otherwise.
    /// This is what the transactions trie holds and what the hash covers.
    public var envelope: [UInt8] {
        let payload = RLP.encode(.list(fields))
        return type == 0 ? payload : [type] + payload
    }

    public var hash: Hash32 { Hash32.keccak(envelope) }

    public func field(_ name: String) -> RLPItem? {
        layout.fields.firstIndex { $0.json == name }.map { fields[$0] }
    }

    /// For legacy transactions: the EIP-155 chain id folded into v, nil before EIP-155 (v = 27/28).
    public var legacyChainId: UInt64? {
        guard type == 0, let v = try? field("v")?.uint64(), v >= 35 else { return nil }
        return (v - 35) / 2
    }

    // MARK: JSON-RPC object

    /// Decodes a JSON-RPC transaction object (as in eth_getBlockByNumber with full transactions).
    public init(json: JSONObject) throws(FieldError) {
        let type: UInt8
        if json.has("type") {
            let t = try json.quantity("type")
            guard t <= 0xff else { throw FieldError(field: "type", problem: "transaction type \(t) is not a byte") }
            type = UInt8(t)
        } else {
            type = 0
        }
        guard let layout = TransactionLayout.forType(type) else {
            throw FieldError(field: "type", problem: "unsupported transaction type \(Hex.encodeQuantity(UInt64(type)))")
        }
        var items = [RLPItem]()
        items.reserveCapacity(layout.fields.count)
        for f in layout.fields { items.append(try f.kind.rlp(from: json, key: f.json)) }
        self.init(type: type, fields: items)
    }

    /// The signed-transaction fields as JSON-RPC shows them (no block context, no sender
    /// for signed types: those need signature recovery and come from the index).
    public func jsonFields() -> JSONObject {
        var o = JSONObject()
        o["type"] = .string(Hex.encodeQuantity(UInt64(type)))
        for (f, item) in zip(layout.fields, fields) { f.kind.addJSON(item, key: f.json, to: &o) }
        if type == 0, let chainId = legacyChainId { o["chainId"] = .string(Hex.encodeQuantity(chainId)) }
        return o
    }

    // MARK: envelope

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case empty, unsupportedType(UInt8), rlp(RLPError), shape(String)
        public var description: String {
            switch self {
            case .empty: return "transaction envelope is empty"
            case .unsupportedType(let t): return "unsupported transaction type 0x\(String(t, radix: 16))"
            case .rlp(let e): return "transaction RLP: \(e)"
            case .shape(let m): return "transaction: \(m)"
            }
        }
    }

    /// Decodes a canonical envelope, checking every field's shape.
    public init(envelope: [UInt8]) throws(DecodeError) {
        guard let first = envelope.first else { throw .empty }
        let type: UInt8 = first >= 0xc0 ? 0 : first
        guard let layout = TransactionLayout.forType(type) else { throw .unsupportedType(first) }
        let payload = type == 0 ? envelope : Array(envelope.dropFirst())
        let item: RLPItem
        do { item = try RLP.decode(payload) } catch { throw .rlp(error) }
        guard case .list(let items) = item else { throw .shape("payload is not a list") }
        guard items.count == layout.fields.count else {
            throw .shape("type \(type) has \(layout.fields.count) fields, found \(items.count)")
        }
        for (f, it) in zip(layout.fields, items) {
            if let problem = f.kind.validate(it) { throw .shape("\(f.json): \(problem)") }
        }
        self.init(type: type, fields: items)
    }
}
