import Chain

/// One field of an account's state at a block, read the same way by every surface.
///
/// The index learns accounts from the blocks it applies, so an account no indexed block
/// touched (funded at genesis, idle since) or a slot never written has no record here. Its
/// value is not zero but unknown to this node: with an upstream configured it is read there,
/// pinned to the same block number; without one the answer is what JSON-RPC has always
/// given (zero, empty code).
public struct AccountField<Value: Sendable>: Sendable {
    /// The JSON-RPC method that reads this field from the upstream.
    public let method: String
    let slot: Hash32?
    /// The index's value; nil when it has no record at or below the block.
    let indexed: @Sendable (ChainView, UInt64, Address, UInt64) throws -> Value?
    let unknown: Value
    let decode: @Sendable (JSONValue) -> Value?
    /// The value as JSON-RPC (and REST) encode it.
    public let encode: @Sendable (Value) -> JSONValue
}

extension AccountField where Value == U256 {
    public static var balance: AccountField {
        AccountField(method: "eth_getBalance", slot: nil, indexed: { v, c, a, n in try v.account(c, a, at: n)?.balance }, unknown: .zero,
                     decode: { $0.stringValue.flatMap { try? U256(quantity: $0) } }, encode: { .string($0.quantity) })
    }
}

extension AccountField where Value == UInt64 {
    public static var nonce: AccountField {
        AccountField(method: "eth_getTransactionCount", slot: nil, indexed: { v, c, a, n in try v.account(c, a, at: n)?.nonce }, unknown: 0,
                     decode: { $0.stringValue.flatMap { try? Hex.decodeQuantity($0) } }, encode: { .string(Hex.encodeQuantity($0)) })
    }
}

extension AccountField where Value == [UInt8] {
    public static var code: AccountField {
        AccountField(method: "eth_getCode", slot: nil, indexed: { v, c, a, n in
            guard let st = try v.account(c, a, at: n) else { return nil }
            return try v.code(hash: st.codeHash)
        }, unknown: [], decode: { $0.stringValue.flatMap { try? Hex.decodeData($0) } }, encode: { .string(Hex.encode($0)) })
    }
}

extension AccountField where Value == Hash32 {
    public static func storage(_ slot: Hash32) -> AccountField {
        AccountField(method: "eth_getStorageAt", slot: slot, indexed: { v, c, a, n in try v.knownStorage(c, a, slot: slot, at: n) }, unknown: .zero,
                     decode: { answer in
                         // A 32-byte word; shorter answers are left-padded as geth pads keys.
                         guard let b = answer.stringValue.flatMap({ try? Hex.decodeData($0) }), b.count <= 32 else { return nil }
                         return Hash32(unchecked: [UInt8](repeating: 0, count: 32 - b.count) + b)
                     }, encode: { .string($0.hex) })
    }
}

/// Where one state read is answered from, decided inside the snapshot without I/O, so a
/// surface can close the snapshot before it waits on the upstream.
public enum StateRead<Value: Sendable>: Sendable {
    case indexed(Value)
    /// Never seen by the index; the upstream answers, pinned to the block.
    case upstream(UpstreamStateCall<Value>)

    public func answer() throws -> Value {
        switch self {
        case .indexed(let v): return v
        case .upstream(let call): return try call.call()
        }
    }
}

public struct UpstreamStateCall<Value: Sendable>: Sendable {
    public let method: String
    public let params: [JSONValue]
    let upstream: UpstreamRead
    let decode: @Sendable (JSONValue) -> Value?

    /// Errors from the upstream itself pass through unchanged (a surface may show them as
    /// they came); an answer that does not decode is `UpstreamAnswerInvalid`.
    public func call() throws -> Value {
        let answer = try upstream(method, params)
        guard let v = decode(answer) else { throw UpstreamAnswerInvalid(method: method, answer: answer) }
        return v
    }
}

/// The upstream answered a state read with something that is not the field's encoding.
public struct UpstreamAnswerInvalid: Error, CustomStringConvertible, Sendable {
    public let method: String
    public let answer: JSONValue
    public var description: String {
        let text = JSON.serialize(answer)
        let shown = text.count > 64 ? String(text.prefix(64)) + "… (\(text.utf8.count) bytes)" : text
        return "the upstream answered \(method) with \(shown), which is not a valid value for it"
    }
}

extension RequestView {
    /// The field at block `n` (already resolved, see `stateBlock`): the index's value, or
    /// for an account or slot it never saw, the upstream call that answers it.
    public func read<Value>(_ field: AccountField<Value>, of a: Address, at n: UInt64) throws -> StateRead<Value> {
        if let v = try field.indexed(view, chain, a, n) { return .indexed(v) }
        guard let upstream else { return .indexed(field.unknown) }
        var params: [JSONValue] = [.string(a.hex)]
        if let slot = field.slot { params.append(.string(slot.hex)) }
        params.append(.string(Hex.encodeQuantity(n)))
        return .upstream(UpstreamStateCall(method: field.method, params: params, upstream: upstream, decode: field.decode))
    }

    /// `read` answered at once, asking the upstream while the snapshot is still open: for
    /// surfaces whose whole request runs inside one (GraphQL's resolvers).
    public func state<Value>(_ field: AccountField<Value>, of a: Address, at n: UInt64) throws -> Value {
        try read(field, of: a, at: n).answer()
    }
}
