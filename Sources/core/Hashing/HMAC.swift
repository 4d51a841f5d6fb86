/// HMAC-SHA-256 (RFC 2104), one-shot or streaming. Proves knowledge of the cluster secret
/// in the peer handshake without sending it.
public struct HMACSHA256: Sendable {
    public static let byteCount = SHA256.digestByteCount

    private var inner = SHA256()
    /// Already fed with the key xor opad, so `finalized` only has to add the inner digest.
    private var outer = SHA256()

    public init(key: [UInt8]) {
        // RFC 2104 §2: keys longer than the block are hashed first; shorter ones are zero-padded.
        var block = key.count > SHA256.blockByteCount ? SHA256.hash(key) : key
        block.append(contentsOf: repeatElement(0, count: SHA256.blockByteCount - block.count))
        inner.update(block.map { $0 ^ 0x36 })
        outer.update(block.map { $0 ^ 0x5c })
    }

    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var mac = HMACSHA256(key: key)
        mac.update(message)
        return mac.finalized()
    }

    public mutating func update(_ bytes: [UInt8]) { inner.update(bytes) }

    public func finalized() -> [UInt8] {
        var o = outer
        o.update(inner.finalized())
        return o.finalized()
    }
}

public enum ConstantTime {
    /// Compares two byte strings in time that depends only on their lengths (which are
    /// public — a MAC's length is fixed), so an attacker timing the comparison of a forged
    /// proof learns nothing about how many leading bytes were right.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
