import Chain

/// OP Stack chains (Optimism, Base): deposit transactions (0x7e) and, since Canyon,
/// deposit receipts that commit to depositNonce — both handled by `Chain`. op-geth serves the tracer.
public struct OPStackAdapter: ChainAdapter {
    public init() {}
    public var name: String { "op-stack" }
    public var requiredChecks: Set<BlockCheck> { Set(BlockCheck.allCases) }
    public var expectsTracer: Bool { true }
}
