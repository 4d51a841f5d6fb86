/// CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), table-driven, streaming.
///
/// Guards frames against corruption the TCP checksum misses (and against bugs that
/// misalign the stream); it is not an authenticator.
public struct CRC32C: Sendable {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

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
        Self.table.withUnsafeBufferPointer { t in
            for b in bytes { r = t[Int(UInt8(truncatingIfNeeded: r) ^ b)] ^ (r >> 8) }
        }
        register = r
    }

    public mutating func update(byte: UInt8) {
        register = Self.table[Int(UInt8(truncatingIfNeeded: register) ^ byte)] ^ (register >> 8)
    }
}
