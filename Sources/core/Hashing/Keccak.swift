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

    /// Keccak-f[1600], the 25 lanes held in locals so the optimizer keeps them in registers.
    private static func permute(_ a: UnsafeMutablePointer<UInt64>) {
        var s0 = a[0]; var s1 = a[1]; var s2 = a[2]; var s3 = a[3]; var s4 = a[4]; var s5 = a[5]; var s6 = a[6]; var s7 = a[7]; var s8 = a[8]; var s9 = a[9]; var s10 = a[10]; var s11 = a[11]; var s12 = a[12]; var s13 = a[13]; var s14 = a[14]; var s15 = a[15]; var s16 = a[16]; var s17 = a[17]; var s18 = a[18]; var s19 = a[19]; var s20 = a[20]; var s21 = a[21]; var s22 = a[22]; var s23 = a[23]; var s24 = a[24]
        for round in 0..<24 {
            let c0 = s0 ^ s5 ^ s10 ^ s15 ^ s20
            let c1 = s1 ^ s6 ^ s11 ^ s16 ^ s21
            let c2 = s2 ^ s7 ^ s12 ^ s17 ^ s22
            let c3 = s3 ^ s8 ^ s13 ^ s18 ^ s23
            let c4 = s4 ^ s9 ^ s14 ^ s19 ^ s24
            let d0 = c4 ^ rotl(c1, 1)
            let d1 = c0 ^ rotl(c2, 1)
            let d2 = c1 ^ rotl(c3, 1)
            let d3 = c2 ^ rotl(c4, 1)
            let d4 = c3 ^ rotl(c0, 1)
            s0 ^= d0; s1 ^= d1; s2 ^= d2; s3 ^= d3; s4 ^= d4
            s5 ^= d0; s6 ^= d1; s7 ^= d2; s8 ^= d3; s9 ^= d4
            s10 ^= d0; s11 ^= d1; s12 ^= d2; s13 ^= d3; s14 ^= d4
            s15 ^= d0; s16 ^= d1; s17 ^= d2; s18 ^= d3; s19 ^= d4
            s20 ^= d0; s21 ^= d1; s22 ^= d2; s23 ^= d3; s24 ^= d4
            let b0 = s0; let b1 = rotl(s6, 44); let b2 = rotl(s12, 43); let b3 = rotl(s18, 21); let b4 = rotl(s24, 14)
            let b5 = rotl(s3, 28); let b6 = rotl(s9, 20); let b7 = rotl(s10, 3); let b8 = rotl(s16, 45); let b9 = rotl(s22, 61)
            let b10 = rotl(s1, 1); let b11 = rotl(s7, 6); let b12 = rotl(s13, 25); let b13 = rotl(s19, 8); let b14 = rotl(s20, 18)
            let b15 = rotl(s4, 27); let b16 = rotl(s5, 36); let b17 = rotl(s11, 10); let b18 = rotl(s17, 15); let b19 = rotl(s23, 56)
            let b20 = rotl(s2, 62); let b21 = rotl(s8, 55); let b22 = rotl(s14, 39); let b23 = rotl(s15, 41); let b24 = rotl(s21, 2)
            s0 = b0 ^ (~b1 & b2); s1 = b1 ^ (~b2 & b3); s2 = b2 ^ (~b3 & b4); s3 = b3 ^ (~b4 & b0); s4 = b4 ^ (~b0 & b1)
            s5 = b5 ^ (~b6 & b7); s6 = b6 ^ (~b7 & b8); s7 = b7 ^ (~b8 & b9); s8 = b8 ^ (~b9 & b5); s9 = b9 ^ (~b5 & b6)
            s10 = b10 ^ (~b11 & b12); s11 = b11 ^ (~b12 & b13); s12 = b12 ^ (~b13 & b14); s13 = b13 ^ (~b14 & b10); s14 = b14 ^ (~b10 & b11)
            s15 = b15 ^ (~b16 & b17); s16 = b16 ^ (~b17 & b18); s17 = b17 ^ (~b18 & b19); s18 = b18 ^ (~b19 & b15); s19 = b19 ^ (~b15 & b16)
            s20 = b20 ^ (~b21 & b22); s21 = b21 ^ (~b22 & b23); s22 = b22 ^ (~b23 & b24); s23 = b23 ^ (~b24 & b20); s24 = b24 ^ (~b20 & b21)
            s0 ^= roundConstants[round]
        }
        a[0] = s0; a[1] = s1; a[2] = s2; a[3] = s3; a[4] = s4; a[5] = s5; a[6] = s6; a[7] = s7; a[8] = s8; a[9] = s9; a[10] = s10; a[11] = s11; a[12] = s12; a[13] = s13; a[14] = s14; a[15] = s15; a[16] = s16; a[17] = s17; a[18] = s18; a[19] = s19; a[20] = s20; a[21] = s21; a[22] = s22; a[23] = s23; a[24] = s24
    }
}

/// Keccak-256 of a byte string.
public func keccak256<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
    Keccak256.hash(bytes)
}
