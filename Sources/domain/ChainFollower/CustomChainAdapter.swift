import Chain

/// A chain described entirely by configuration: which checks apply and whether a tracer
/// is expected. The header shape itself follows the fields present in each block.
public struct CustomChainAdapter: ChainAdapter {
    public var name: String
    public var requiredChecks: Set<BlockCheck>
    public var expectsTracer: Bool

    public init(name: String = "custom", checks: Set<BlockCheck> = Set(BlockCheck.allCases), expectsTracer: Bool = false) {
        self.name = name
        self.requiredChecks = checks
        self.expectsTracer = expectsTracer
    }
}
