import Chain

/// What differs between the EVM chains we follow: which block checks apply and what the
/// upstream is expected to offer. Each chain family is one small adapter; a custom chain
/// is described by configuration.
public protocol ChainAdapter: Sendable {
    var name: String { get }
    /// Checks a block must pass before it is proposed (others are skipped for this chain).
    var requiredChecks: Set<BlockCheck> { get }
    /// Whether the upstream is expected to have debug_traceBlockByNumber with prestateTracer.
    var expectsTracer: Bool { get }
}

public enum ChainAdapters {
    public static func named(_ name: String, custom: CustomChainAdapter? = nil) -> (any ChainAdapter)? {
        switch name {
        case "ethereum": return EthereumAdapter()
        case "optimism", "op-stack", "base": return OPStackAdapter()
        case "arbitrum": return ArbitrumAdapter()
        case "custom": return custom
        default: return nil
        }
    }
    public static let names = ["ethereum", "op-stack", "optimism", "base", "arbitrum", "custom"]
}
