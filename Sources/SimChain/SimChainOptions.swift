/// How a simulated chain behaves. Everything follows from `seed`: the same options give
/// the same blocks, hashes and reorgs.
public struct SimChainOptions: Sendable {
    public var seed: UInt64 = 1
    public var chainId: UInt64 = 1337
    public var txsPerBlock = 20
    /// 0: blocks only on demand (`mine`) or by `pregenerate`.
    public var blockTimeMillis = 1000
    public var pregenerate = 0
    /// A reorg on average every this many blocks (0: never), `reorgDepth` deep.
    public var reorgEvery = 0
    public var reorgDepth = 2
    /// Scripted reorgs: at height → depth.
    public var reorgAt: [UInt64: Int] = [:]
    /// safe = latest − safeDistance, finalized = latest − finalizedDistance; reorgs never reach them.
    public var safeDistance: UInt64 = 16
    public var finalizedDistance: UInt64 = 32

    public init() {}
}

/// SplitMix64, seeded per (chain seed, height, branch) so a block's contents depend only
/// on where it is and which branch it is on.
struct SimRandom: RandomNumberGenerator {
    var state: UInt64
    init(_ parts: UInt64...) {
        state = 0x1234_5678_9ABC_DEF1
        for p in parts { state = (state ^ p) &* 0x9E37_79B9_7F4A_7C15; _ = next() }
    }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
