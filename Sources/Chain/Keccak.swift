/// Keccak-256 as Ethereum uses it: the original Keccak padding (domain bits 0x01),
/// not FIPS-202 SHA3-256 (0x06). Rate 136 bytes, capacity 512 bits.
public struct Keccak256: Sendable {
    public static let rateBytes = 136
    private var state = [UInt64](repeating: 0, count: 25)
    private var buffer = [UInt8](repeating: 0, count: 136)
    private var buffered = 0

    public init() {}

    /// Hash of the bytes in one call; the state lives on the stack.
    public static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        if let direct = bytes.withContiguousStorageIfAvailable({ oneShot(UnsafeRawBufferPointer($0)) }) {
            return direct
        }
        let copy = Array(bytes)
        return copy.withUnsafeBytes { oneShot($0) }
    }

    public static func oneShot(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { st in
            let a = st.baseAddress!
            a.initialize(repeating: 0, count: 25)
            var offset = 0
            while input.count - offset >= rateBytes {
                absorbBlock(a, input.baseAddress! + offset)
                offset += rateBytes
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rateBytes) { last in
                let tail = input.count - offset
                let l = last.baseAddress!
                l.initialize(repeating: 0, count: rateBytes)
                if tail > 0 { UnsafeMutableRawPointer(l).copyMemory(from: input.baseAddress! + offset, byteCount: tail) }
                l[tail] ^= 0x01
                l[rateBytes - 1] ^= 0x80
                absorbBlock(a, UnsafeRawPointer(l))
            }
            return squeeze(a)
        }
    }

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ update(raw: UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update(raw: $0) }
        }
    }

    public mutating func update(raw input: UnsafeRawBufferPointer) {
        guard input.count > 0 else { return }
        var offset = 0
        state.withUnsafeMutableBufferPointer { st in
            buffer.withUnsafeMutableBytes { buf in
                if buffered > 0 {
                    let take = min(Self.rateBytes - buffered, input.count)
                    (buf.baseAddress! + buffered).copyMemory(from: input.baseAddress!, byteCount: take)
                    buffered += take; offset = take
                    if buffered == Self.rateBytes {
                        Self.absorbBlock(st.baseAddress!, UnsafeRawPointer(buf.baseAddress!))
                        buffered = 0
                    }
                }
                while input.count - offset >= Self.rateBytes {
                    Self.absorbBlock(st.baseAddress!, input.baseAddress! + offset)
                    offset += Self.rateBytes
                }
                let rest = input.count - offset
                if rest > 0 {
                    buf.baseAddress!.copyMemory(from: input.baseAddress! + offset, byteCount: rest)
                    buffered = rest
                }
            }
        }
    }

    public mutating func finalize() -> [UInt8] {
        for i in buffered..<Self.rateBytes { buffer[i] = 0 }
        buffer[buffered] ^= 0x01
        buffer[Self.rateBytes - 1] ^= 0x80
        let out = state.withUnsafeMutableBufferPointer { st in
            buffer.withUnsafeBytes { buf in
                Self.absorbBlock(st.baseAddress!, buf.baseAddress!)
                return Self.squeeze(st.baseAddress!)
            }
        }
        self = Keccak256()
        return out
    }

    @inline(__always)
    private static func absorbBlock(_ a: UnsafeMutablePointer<UInt64>, _ block: UnsafeRawPointer) {
        for i in 0..<17 {
            a[i] ^= UInt64(littleEndian: block.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        }
        permute(a)
    }

    private static func squeeze(_ a: UnsafeMutablePointer<UInt64>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, n in
            for i in 0..<4 {
                let lane = a[i].littleEndian
                withUnsafeBytes(of: lane) { UnsafeMutableRawPointer(out.baseAddress! + i * 8).copyMemory(from: $0.baseAddress!, byteCount: 8) }
            }
            n = 32
        }
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { (x << n) | (x >> (64 &- n)) }

    private static let roundConstants: [UInt64] = [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
        0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
        0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
        0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ]

    /// Keccak-f[1600]. Straight-line rho/pi so the hot loop touches no tables but the round constant.
    private static func permute(_ a: UnsafeMutablePointer<UInt64>) {
        roundConstants.withUnsafeBufferPointer { rc in
            for round in 0..<24 {
                // theta
                let c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
                let c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
                let c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
                let c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
                let c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
                let d0 = c4 ^ rotl(c1, 1), d1 = c0 ^ rotl(c2, 1), d2 = c1 ^ rotl(c3, 1)
                let d3 = c2 ^ rotl(c4, 1), d4 = c3 ^ rotl(c0, 1)
                var y = 0
                while y < 25 {
                    a[y] ^= d0; a[y + 1] ^= d1; a[y + 2] ^= d2; a[y + 3] ^= d3; a[y + 4] ^= d4
                    y += 5
                }
                // rho and pi
            var t = a[1], u: UInt64 = 0
            u = a[10]; a[10] = rotl(t, 1); t = u
            u = a[7]; a[7] = rotl(t, 3); t = u
            u = a[11]; a[11] = rotl(t, 6); t = u
            u = a[17]; a[17] = rotl(t, 10); t = u
            u = a[18]; a[18] = rotl(t, 15); t = u
            u = a[3]; a[3] = rotl(t, 21); t = u
            u = a[5]; a[5] = rotl(t, 28); t = u
            u = a[16]; a[16] = rotl(t, 36); t = u
            u = a[8]; a[8] = rotl(t, 45); t = u
            u = a[21]; a[21] = rotl(t, 55); t = u
            u = a[24]; a[24] = rotl(t, 2); t = u
            u = a[4]; a[4] = rotl(t, 14); t = u
            u = a[15]; a[15] = rotl(t, 27); t = u
            u = a[23]; a[23] = rotl(t, 41); t = u
            u = a[19]; a[19] = rotl(t, 56); t = u
            u = a[13]; a[13] = rotl(t, 8); t = u
            u = a[12]; a[12] = rotl(t, 25); t = u
            u = a[2]; a[2] = rotl(t, 43); t = u
            u = a[20]; a[20] = rotl(t, 62); t = u
            u = a[14]; a[14] = rotl(t, 18); t = u
            u = a[22]; a[22] = rotl(t, 39); t = u
            u = a[9]; a[9] = rotl(t, 61); t = u
            u = a[6]; a[6] = rotl(t, 20); t = u
            u = a[1]; a[1] = rotl(t, 44); t = u
                // chi
                y = 0
                while y < 25 {
                    let b0 = a[y], b1 = a[y + 1], b2 = a[y + 2], b3 = a[y + 3], b4 = a[y + 4]
                    a[y] = b0 ^ (~b1 & b2); a[y + 1] = b1 ^ (~b2 & b3); a[y + 2] = b2 ^ (~b3 & b4)
                    a[y + 3] = b3 ^ (~b4 & b0); a[y + 4] = b4 ^ (~b0 & b1)
                    y += 5
                }
                // iota
                a[0] ^= rc[round]
            }
        }
    }
}

/// Keccak-256 of a byte string.
public func keccak256<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
    Keccak256.hash(bytes)
}
