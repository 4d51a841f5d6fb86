/// How a block's state changes were obtained, which decides how apply treats them. The raw
/// value is what the replicated log carries (a length-prefixed string in each block's state
/// changes), so a case's raw value never changes; a value this build does not know is refused
/// when the entry is decoded (`ChainCommandError.unknownStateDiffSource`), never guessed at.
public enum StateDiffSource: String, Sendable, CaseIterable {
    /// geth's `prestateTracer` in diff mode: each touched account before and after the block.
    case prestateTracer = "prestateTracer"
    /// Read back from the upstream after the block, for upstreams without the tracer.
    case probe = "probe"
    /// No state was recorded with the block.
    case unrecorded = "none"

    /// Whether apply credits the block's beacon withdrawals itself: a tracer reports what the
    /// transactions did and nothing after them, while probed state already includes them.
    var appliesWithdrawals: Bool {
        switch self {
        case .prestateTracer: true
        case .probe, .unrecorded: false
        }
    }
}
