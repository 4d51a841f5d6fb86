/// How a simulated chain behaves. Everything follows from `seed`: the same options and the
/// same number of `mine` calls give the same blocks, hashes and reorgs.
public struct SimChainOptions: Sendable {
    public var seed: UInt64 = 1
    public var chainId: UInt64 = 1337
    public var txsPerBlock = 20
    /// Mine a block every this many milliseconds once the server starts (0: only on demand,
    /// through `SimChain.mine`, or by `pregenerate`).
    public var blockTimeMillis = 1000
    /// Blocks mined before the server starts listening (benchmarks want a long chain at once).
    public var pregenerate = 0
    /// Random reorgs: one about every this many blocks (0: never), each 1...`reorgDepth` deep.
    public var reorgEvery = 0
    public var reorgDepth = 2
    /// Scripted reorgs: when mining height H, first replace the last D blocks (H → D).
    public var reorgAt: [UInt64: Int] = [:]
    /// safe = latest − safeDistance, finalized = latest − finalizedDistance. No reorg ever
    /// replaces a finalized block: deeper requests are cut to `finalizedDistance`.
    public var safeDistance: UInt64 = 32
    /// Serve `optimism_syncStatus` as an OP Stack rollup node would, with its own heads:
    /// safe_l2 = latest − 8, finalized_l2 = latest − 16 (apart from the tags, so a test
    /// can tell which one an indexer followed).
    public var opSyncStatus = false
    public static let opSafeDistance: UInt64 = 8
    public static let opFinalizedDistance: UInt64 = 16
    public var finalizedDistance: UInt64 = 64
    /// Answer the indexer's per-block calls for the pregenerated blocks from answers
    /// serialized before serving (see `ReplayCache`), for ingest benchmarks.
    public var replay = false

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        /// The option at fault, in its CLI spelling without dashes (e.g. "reorg-depth").
        public let option: String
        public let problem: String
        public var description: String { "--\(option): \(problem)" }
    }

    /// Checks the combination; the error names the option.
    public func validate() throws(Invalid) {
        if chainId == 0 { throw Invalid(option: "chain-id", problem: "must be at least 1") }
        if txsPerBlock < 0 || txsPerBlock > 100_000 { throw Invalid(option: "txs-per-block", problem: "must be between 0 and 100000") }
        if blockTimeMillis < 0 { throw Invalid(option: "block-time-ms", problem: "must not be negative") }
        if pregenerate < 0 { throw Invalid(option: "pregenerate", problem: "must not be negative") }
        if reorgEvery < 0 { throw Invalid(option: "reorg-every", problem: "must not be negative") }
        if finalizedDistance == 0 || safeDistance > finalizedDistance {
            throw Invalid(option: "finalized-distance", problem: "must be at least 1 and at least the safe distance")
        }
        if reorgDepth < 1 || UInt64(reorgDepth) > finalizedDistance {
            throw Invalid(option: "reorg-depth", problem: "must be between 1 and \(finalizedDistance) (reorgs never cross the finalized block)")
        }
        if replay && (pregenerate == 0 || reorgEvery != 0 || !reorgAt.isEmpty) {
            throw Invalid(option: "replay", problem: "needs --pregenerate and no reorgs (--reorg-every 0, no --reorg-at): replayed blocks must never change")
        }
        for (h, d) in reorgAt where h == 0 || d < 1 || UInt64(d) > finalizedDistance {
            throw Invalid(option: "reorg-at", problem: "height \(h) depth \(d): heights start at 1, depths are 1...\(finalizedDistance)")
        }
    }
}

/// SplitMix64. Each block draws from a stream seeded by (chain seed, height, branch), so a
/// block's contents depend only on where it is and which branch it belongs to, never on
/// how many numbers earlier blocks happened to draw.
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
    /// Uniform in 0..<n (n > 0); the modulo bias is irrelevant for a simulator.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
