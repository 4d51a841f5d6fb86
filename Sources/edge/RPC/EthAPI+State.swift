import Chain
import ChainIndex

/// Account state at any indexed block (archive reads from the versioned state tables),
/// with `RequestView`'s rule for accounts and slots the index never saw. The block is
/// resolved and the index read in one snapshot; the upstream, when it must answer, is
/// asked after the snapshot is closed.
extension EthAPI {
    func getBalance(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 2)
        return try accountField(.balance, try p.address(0), try p.block(1, default: .latest))
    }

    func getTransactionCount(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 2)
        return try accountField(.nonce, try p.address(0), try p.block(1, default: .latest))
    }

    func getCode(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 2)
        return try accountField(.code, try p.address(0), try p.block(1, default: .latest))
    }

    func getStorageAt(_ p: RPCParams) throws -> JSONValue {
        try p.allow(atMost: 3)
        let a = try p.address(0)
        let slot = try Self.storageKey(try p.string(1, "slot"))
        return try accountField(.storage(slot), a, try p.block(2, default: .latest))
    }

    private func accountField<Value>(_ field: AccountField<Value>, _ a: Address, _ sel: BlockSelector) throws -> JSONValue {
        let read = try request { r in try r.read(field, of: a, at: try r.stateBlock(sel)) }
        return field.encode(try read.answer())
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
