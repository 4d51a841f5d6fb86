/// What differs between SHA-1 and SHA-256 (FIPS 180-4): initial words, digest length and
/// the compression function. The frame they share — 64-byte blocks fed in any pieces,
/// padding with a 1 bit, zeros and the 64-bit message length, big-endian digest words —
/// lives once, in `MerkleDamgard`.
public protocol MerkleDamgardCompression: Sendable {
    static var initialState: [UInt32] { get }
    static var digestByteCount: Int { get }
    /// Compresses each 64-byte block of `blocks` (a multiple of 64 bytes) into `state`.
    static func compress(_ state: inout [UInt32], blocks: UnsafeRawBufferPointer)
}

/// A streaming hash of that frame; `SHA1` and `SHA256` are this type over their compressions.
public struct MerkleDamgard<C: MerkleDamgardCompression>: Sendable {
    public static var blockByteCount: Int { 64 }
    public static var digestByteCount: Int { C.digestByteCount }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = Self()
        h.update(bytes)
        return h.finalized()
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    private var state = C.initialState
    /// Input not yet compressed; always shorter than one block.
    private var pending: [UInt8] = []
    private var totalByteCount: UInt64 = 0

    public init() { pending.reserveCapacity(Self.blockByteCount) }

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
            block.withUnsafeBytes { C.compress(&state, blocks: $0) }
            pending.removeAll(keepingCapacity: true)
        }
        let wholeBlocks = (bytes.count - offset) / Self.blockByteCount * Self.blockByteCount
        if wholeBlocks > 0 {
            C.compress(&state, blocks: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + wholeBlocks)]))
            offset += wholeBlocks
        }
        pending.append(contentsOf: bytes[offset...])
    }

    /// The digest of everything fed so far. The running state is left untouched, so a
    /// caller may keep updating (useful for transcripts).
    public func finalized() -> [UInt8] {
        var copy = self
        // §5.1.1 padding: a 1 bit, zeros up to 56 mod 64 bytes, then the message length in bits.
        let bitLength = totalByteCount &* 8
        var tail: [UInt8] = [0x80]
        let afterMarker = (copy.pending.count + 1) % Self.blockByteCount
        let zeros = afterMarker <= 56 ? 56 - afterMarker : 56 + Self.blockByteCount - afterMarker
        tail.append(contentsOf: repeatElement(0, count: zeros))
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { copy.update($0) }
        precondition(copy.pending.isEmpty, "padding must end on a block boundary")
        var digest = [UInt8]()
        digest.reserveCapacity(C.digestByteCount)
        for word in copy.state {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }
}
