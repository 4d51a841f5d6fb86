import Chain

/// The answers to the per-block calls an indexer makes (full block, block receipts,
/// prestate trace), serialized once for every block mined before serving. With `--replay`
/// the server answers those calls from memory, so an ingest benchmark measures the
/// cluster rather than the simulator. Only blocks that can never change are kept: replay
/// refuses reorg options (see `SimChainOptions.validate`), and anything else, or a call
/// shaped differently, is computed as usual.
public struct ReplayCache: Sendable {
    private let results: [String: [UInt8]]

    /// The calls cached per block, exactly as the indexer sends them.
    static func calls(_ n: UInt64) -> [(String, [JSONValue])] {
        let q = JSONValue.string(Hex.encodeQuantity(n))
        return [("eth_getBlockByNumber", [q, .bool(true)]), ("eth_getBlockByNumber", [q, .bool(false)]), ("eth_getBlockReceipts", [q]),
                ("debug_traceBlockByNumber", [q, .object(["tracer": .string("prestateTracer"), "tracerConfig": .object(["diffMode": .bool(true)])])])]
    }

    static func key(_ method: String, _ params: [JSONValue]) -> String { method + " " + JSON.serialize(.array(params)) }

    init(rpc: SimChainRPC, through head: UInt64) throws {
        var r = [String: [UInt8]]()
        for n in 0...head {
            for (method, params) in Self.calls(n) {
                switch try rpc.answer(method, params) {
                case .text(let t): r[Self.key(method, params)] = t
                case .value(let v): r[Self.key(method, params)] = JSON.serializedBytes(v)
                }
            }
        }
        results = r
        precondition(results.count == Self.calls(0).count * Int(head + 1), "one answer per cached call")
    }

    func result(_ method: String, _ params: [JSONValue]) -> [UInt8]? { results[Self.key(method, params)] }
}
