import Chain

/// Checks an eth_getProof (EIP-1186) answer against a state root we trust: the account
/// proof must resolve, under `stateRoot`, to exactly the nonce, balance, storage root and
/// code hash the answer states, and every storage proof must resolve under that storage
/// root to its stated value. Anything else means the answer was not for our chain.
public enum AccountProofCheck {
    public struct Mismatch: Error, CustomStringConvertible {
        public let description: String
    }

    static let emptyCodeHash = Hash32.keccak([UInt8]())

    public static func verify(_ answer: JSONValue, address: Address, stateRoot: Hash32) throws(Mismatch) {
        do {
            guard let o = answer.objectValue else { throw Mismatch(description: "answer is not an object") }
            let stated = try o.address("address")
            guard stated == address else { throw Mismatch(description: "answer is for \(stated), asked for \(address)") }
            let nonce = try o.quantity("nonce")
            let balance = try o.u256("balance")
            let storageHash = try o.hash("storageHash")
            let codeHash = try o.hash("codeHash")
            let proof = try nodes(o.array("accountProof"), "accountProof")
            let leaf: [UInt8]?
            do { leaf = try MerklePatriciaTrie.verifyProof(root: stateRoot, key: Hash32.keccak(address.bytes).bytes, proof: proof) } catch {
                throw Mismatch(description: "accountProof: \(error)")
            }
            if let leaf {
                let expected = RLP.encode(.list([.uint(nonce), .uint(balance), .bytes(storageHash.bytes), .bytes(codeHash.bytes)]))
                guard leaf == expected else { throw Mismatch(description: "accountProof leaf does not encode the stated nonce/balance/storageHash/codeHash") }
            } else {
                guard nonce == 0, balance.isZero, codeHash == emptyCodeHash || codeHash == .zero else {
                    throw Mismatch(description: "accountProof shows no account, but the answer states a non-empty one")
                }
            }
            for (i, sv) in try o.array("storageProof").enumerated() {
                let s = try sv.object(at: "storageProof[\(i)]")
                let key = try storageSlot(try s.string("key"))
                let value = try s.u256("value")
                let sp = try nodes(try s.array("proof"), "storageProof[\(i)].proof")
                let got: [UInt8]?
                do { got = try MerklePatriciaTrie.verifyProof(root: storageHash, key: Hash32.keccak(key).bytes, proof: sp) } catch {
                    throw Mismatch(description: "storageProof[\(i)]: \(error)")
                }
                let expected: [UInt8]? = value.isZero ? nil : RLP.encode(.uint(value))
                guard got == expected else { throw Mismatch(description: "storageProof[\(i)] does not prove the stated value of slot \(Hex.encode(key))") }
            }
        } catch let e as Mismatch {
            throw e
        } catch {
            throw Mismatch(description: "malformed answer: \(error)")
        }
    }

    static func nodes(_ a: [JSONValue], _ what: String) throws -> [[UInt8]] {
        try a.enumerated().map { (i, v) in
            guard let s = v.stringValue else { throw Mismatch(description: "\(what)[\(i)] is not a hex string") }
            return try Hex.decodeData(s)
        }
    }

    /// Storage keys as geth echoes them: any hex up to 32 bytes ("0x", "0x0" allowed), left-padded.
    static func storageSlot(_ s: String) throws -> [UInt8] {
        var digits = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
        if digits.utf8.count % 2 == 1 { digits = "0" + digits }
        let b = try Hex.decodeData("0x" + digits)
        guard b.count <= 32 else { throw Mismatch(description: "storage key \(s) is longer than 32 bytes") }
        return [UInt8](repeating: 0, count: 32 - b.count) + b
    }
}
