import Chain

/// Arbitrum Nitro: London-shaped headers (no withdrawals), ArbOS internal transactions
/// (0x6a) and retryables (0x64–0x69); sendRoot/sendCount/l1BlockNumber live in
/// extraData/mixHash. Nitro serves the tracer.
public struct ArbitrumAdapter: ChainAdapter {
    public init() {}
    public var name: String { "arbitrum" }
    public var requiredChecks: Set<BlockCheck> { Set(BlockCheck.allCases).subtracting([.withdrawalsRoot]) }
    public var expectsTracer: Bool { true }
}
