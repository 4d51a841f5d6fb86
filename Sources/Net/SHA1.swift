/// SHA-1 as specified in FIPS 180-4, one-shot or streaming.
///
/// SHA-1 is broken for collision resistance and must not authenticate anything. It is
/// here only because RFC 6455 fixes it for `Sec-WebSocket-Accept`, where it proves the
/// server read the handshake rather than providing any security. Written here rather than
/// imported because the project takes no package dependencies; tested against the FIPS
/// vectors and cross-checked against Python's hashlib.
public struct SHA1: Sendable {
    public static let digestByteCount = 20
    public static let blockByteCount = 64

    /// FIPS 180-4 §5.3.1.
    private static let initialState: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]

    private var state: [UInt32] = SHA1.initialState
    /// Input not yet compressed; always shorter than one block.
    private var pending: [UInt8] = []
    private var totalByteCount: UInt64 = 0

    public init() {
        pending.reserveCapacity(Self.blockByteCount)
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA1()
        h.update(bytes)
        return h.finalized()
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        totalByteCount &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(Self.blockByteCount - pending.count, bytes.count)
            pending.append(contentsOf: bytes[0..<take])
            offset = take
            guard pending.count == Self.blockByteCount else { return }
            let block = pending
            block.withUnsafeBytes { compress(blocks: $0) }
            pending.removeAll(keepingCapacity: true)
        }
        let wholeBlocks = (bytes.count - offset) / Self.blockByteCount * Self.blockByteCount
        if wholeBlocks > 0 {
            compress(blocks: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + wholeBlocks)]))
            offset += wholeBlocks
        }
        pending.append(contentsOf: bytes[offset...])
    }

    /// The digest of everything fed so far; the running state is left untouched.
    public func finalized() -> [UInt8] {
        var copy = self
        // §5.1.1 padding: a 1 bit, zeros up to 56 mod 64 bytes, then the message length in bits.
        let bitLength = totalByteCount &* 8
        var tail: [UInt8] = [0x80]
        let afterMarker = (copy.pending.count + 1) % Self.blockByteCount
        let zeros = afterMarker <= 56 ? 56 - afterMarker : 56 + Self.blockByteCount - afterMarker
        tail.append(contentsOf: repeatElement(0, count: zeros))
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        copy.update(tail)
        precondition(copy.pending.isEmpty, "SHA-1 padding must end on a block boundary")
        var digest = [UInt8]()
        digest.reserveCapacity(Self.digestByteCount)
        for word in copy.state {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    /// FIPS 180-4 §6.1.2 over each 64-byte block in `blocks` (whose count is a multiple of 64).
    private mutating func compress(blocks: UnsafeRawBufferPointer) {
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
                    blockStart += Self.blockByteCount
                }
            }
        }
    }
}

@inline(__always)
private func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
