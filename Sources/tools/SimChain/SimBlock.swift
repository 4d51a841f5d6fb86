import Chain

/// One generated block with everything the RPC layer serves for it, already in geth's
/// JSON shapes (so a request is a lookup, not a rebuild).
public struct SimBlock: Sendable {
    public let number: UInt64
    public let hash: Hash32
    public let parentHash: Hash32
    /// eth_getBlockByNumber result with full transaction objects.
    public let full: JSONObject
    /// The same with transaction hashes only.
    public let hashesOnly: JSONObject
    public let transactions: [JSONObject]
    public let transactionHashes: [Hash32]
    public let receipts: [JSONObject]
    /// Every log of the block in order, with the typed fields eth_getLogs filters on.
    public let logs: [SimLog]
    /// debug_traceBlockByNumber with prestateTracer in diffMode: one {txHash, result} per transaction.
    public let trace: [JSONValue]
    /// Not Ethereum's state trie root: see `SimChain`.
    public let stateRoot: Hash32
}

public struct SimLog: Sendable {
    public let address: Address
    public let topics: [Hash32]
    public let json: JSONValue
}
