import Chain

/// Ethereum L1 and its testnets: every check applies; geth, reth and erigon serve the tracer.
public struct EthereumAdapter: ChainAdapter {
    public init() {}
    public var name: String { "ethereum" }
    public var requiredChecks: Set<BlockCheck> { Set(BlockCheck.allCases) }
    public var expectsTracer: Bool { true }
}
