import Chain
import ChainIndex

/// Account state at any indexed block (archive reads from the versioned state tables).
///
/// The index learns an account from the blocks it applies; an account no indexed block
/// ever touched (funded at genesis and idle since) has no record here. Rather than
/// answer zero for it, such reads go to the upstream, pinned to the same block, when
/// forwarding is on.
extension EthAPI {
    /// The upstream's answer for an account or slot this index has never seen, or nil
    /// when the local answer stands.
    func unseen(_ method: String, _ params: [JSONValue], known: Bool) throws -> JSONValue? {
        guard !known, let forwarder else { return nil }
        return try forwarder.call(method, params)
    }

    func getBalance(_ p: RPCParams) throws -> JSONValue {
        try accountField(p, "eth_getBalance") { v, a, n in .string(try v.balance(self.cid, a, at: n).quantity) }
    }

    func getTransactionCount(_ p: RPCParams) throws -> JSONValue {
        try accountField(p, "eth_getTransactionCount") { v, a, n in .string(Hex.encodeQuantity(try v.nonce(self.cid, a, at: n))) }
    }

    func getCode(_ p: RPCParams) throws -> JSONValue {
        try accountField(p, "eth_getCode") { v, a, n in .string(Hex.encode(try v.code(self.cid, a, at: n))) }
    }

    /// (address, block = latest) → one field of the account at that block, read in one
    /// snapshot; the upstream is asked (outside it) only for an account never seen.
    private func accountField(_ p: RPCParams, _ method: String, _ local: (ChainView, Address, UInt64) throws -> JSONValue) throws -> JSONValue {
        try p.allow(atMost: 2)
        let a = try p.address(0)
        let sel = try p.block(1, default: .latest)
        let (n, answer) = try index.view { v -> (UInt64, JSONValue?) in
            let n = try stateBlock(sel, v)
            return (n, try v.knowsAccount(cid, a, at: n) || forwarder == nil ? try local(v, a, n) : nil)
        }
        if let answer { return answer }
        return try unseen(method, [.string(a.hex), .string(Hex.encodeQuantity(n))], known: false) ?? .null
    }

    func getStorageAt(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 3)
        let a = try p.address(0)
        let slot = try Self.storageKey(try p.string(1, "slot"))
        let sel = try p.block(2, default: .latest)
        let (n, known) = try index.view { v in
            let n = try stateBlock(sel, v)
            return (n, try v.knownStorage(cid, a, slot: slot, at: n))
        }
        if let known { return .string(known.hex) }
        if let v = try unseen("eth_getStorageAt", [.string(a.hex), .string(slot.hex), .string(Hex.encodeQuantity(n))], known: false) { return v }
        return .string(Hash32.zero.hex)
    }

    /// Storage keys are lenient as in geth: odd digit counts and short keys are
    /// left-padded to 32 bytes; bad hex or more than 32 bytes is refused.
    static func storageKey(_ s: String) throws -> Hash32 {
        var digits = s.hasPrefix("0x") || s.hasPrefix("0X") ? String(s.dropFirst(2)) : s
        if digits.utf8.count % 2 == 1 { digits = "0" + digits }
        guard let bytes = try? Hex.decodeData("0x" + digits) else { throw RPCError.invalidParams("invalid hex in storage key: \(JSON.serialize(.string(s)))") }
        guard bytes.count <= 32 else { throw RPCError.invalidParams("storage key too long (want at most 32 bytes): \(JSON.serialize(.string(s)))") }
        return Hash32(unchecked: [UInt8](repeating: 0, count: 32 - bytes.count) + bytes)
    }
}
