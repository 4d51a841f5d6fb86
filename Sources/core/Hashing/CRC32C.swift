/// CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), table-driven, streaming.
///
/// Guards frames against corruption the TCP checksum misses (and against bugs that
/// misalign the stream); it is not an authenticator.
public struct CRC32C: Sendable {
    /// `tables[k][b]` is the CRC of byte `b` followed by `k` zero bytes (slicing-by-8): eight
    /// lookups fold eight input bytes at once, about five times the bytewise loop, which
    /// mattered once every replicated megabyte passed through here.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[n] = c
        }
        for k in 1..<8 {
            for n in 0..<256 {
                let prev = t[(k - 1) * 256 + n]
                t[k * 256 + n] = t[Int(UInt8(truncatingIfNeeded: prev))] ^ (prev >> 8)
            }
        }
        return t
    }()

    private var register: UInt32 = 0xFFFF_FFFF

    public init() {}

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c = CRC32C()
        c.update(bytes)
        return c.value
    }

    public var value: UInt32 { ~register }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var r = register
        let n = bytes.count
        var i = 0
        Self.tables.withUnsafeBufferPointer { t in
            if n >= 8 {
                while i + 8 <= n {
                    let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ UInt64(r)
                    r = t[7 * 256 + Int(word & 0xFF)] ^ t[6 * 256 + Int((word >> 8) & 0xFF)]
                        ^ t[5 * 256 + Int((word >> 16) & 0xFF)] ^ t[4 * 256 + Int((word >> 24) & 0xFF)]
                        ^ t[3 * 256 + Int((word >> 32) & 0xFF)] ^ t[2 * 256 + Int((word >> 40) & 0xFF)]
                        ^ t[1 * 256 + Int((word >> 48) & 0xFF)] ^ t[Int(word >> 56)]
                    i += 8
                }
            }
            while i < n {
                r = t[Int(UInt8(truncatingIfNeeded: r) ^ bytes[i])] ^ (r >> 8)
                i += 1
            }
        }
        register = r
    }

    public mutating func update(byte: UInt8) {
        register = Self.tables[Int(UInt8(truncatingIfNeeded: register) ^ byte)] ^ (register >> 8)
    }
}
