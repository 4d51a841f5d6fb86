/// SHA-1 as specified in FIPS 180-4, one-shot or streaming.
///
/// SHA-1 is broken for collision resistance and must not authenticate anything. It is
/// here only because RFC 6455 fixes it for `Sec-WebSocket-Accept`, where it proves the
/// server read the handshake rather than providing any security. Written here rather than
/// imported because the project takes no package dependencies; tested against the FIPS
/// vectors and cross-checked against Python's hashlib.
public typealias SHA1 = MerkleDamgard<SHA1Compression>

public enum SHA1Compression: MerkleDamgardCompression {
    /// FIPS 180-4 §5.3.1.
    public static let initialState: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]

    public static let digestByteCount = 20

    /// FIPS 180-4 §6.1.2 over each 64-byte block in `blocks` (whose count is a multiple of 64).
    public static func compress(_ state: inout [UInt32], blocks: UnsafeRawBufferPointer) {
        state.withUnsafeMutableBufferPointer { h in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
                var blockStart = 0
                while blockStart < blocks.count {
                    for t in 0..<16 {
                        let i = blockStart + t * 4
                        w[t] = UInt32(blocks[i]) << 24 | UInt32(blocks[i + 1]) << 16 | UInt32(blocks[i + 2]) << 8 | UInt32(blocks[i + 3])
                    }
                    for t in 16..<80 {
                        w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
                    }
                    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4]
                    for t in 0..<80 {
                        // §4.1.1: the round function and constant change every 20 rounds.
                        let f: UInt32, k: UInt32
                        switch t {
                        case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
                        case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
                        case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                        default: f = b ^ c ^ d; k = 0xCA62C1D6
                        }
                        let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
                        e = d; d = c; c = rotl(b, 30); b = a; a = temp
                    }
                    h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
                    blockStart += 64
                }
            }
        }
    }
}

@inline(__always)
private func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
