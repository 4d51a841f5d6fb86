import Chain

/// One generated block with everything the RPC layer serves for it.
struct SimBlock: Sendable {
    var number: UInt64
    var hash: Hash32
    /// eth_getBlockByNumber result with full transactions.
    var full: JSONObject
    /// The same with transaction hashes only.
    var hashesOnly: JSONObject
    var transactions: [JSONObject]
    var receipts: [JSONObject]
    /// debug_traceBlockByNumber prestateTracer diffMode result.
    var trace: [JSONValue]
    /// State after this block.
    var state: SimState
    var stateRoot: Hash32
}
