import Chain
import ChainIndex

/// Forwards a JSON-RPC call to the upstream node: for what needs an EVM or the mempool.
public typealias UpstreamForwarder = @Sendable (String, [JSONValue]) throws -> JSONValue

/// Per-request state shared by the resolvers: the request's one view of the chain, the
/// upstream forwarder, and small caches so a query touching one block many times reads it once.
final class EthereumContext {
    /// Every field of the request reads this one snapshot, so an answer never mixes two
    /// states of the chain (a block from before a rewind, its parent from after).
    let request: RequestView
    let limits: GraphQLLimits
    private let forwarder: UpstreamForwarder?
    private var blocks = [UInt64: JSONObject]()
    private var receipts = [UInt64: [JSONValue]]()

    init(request: RequestView, limits: GraphQLLimits, forward: UpstreamForwarder?) {
        self.request = request; self.limits = limits; self.forwarder = forward
    }

    var chainId: UInt64 { request.chain }

    func forward(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        guard let forwarder else {
            throw FieldFailure("\(method) needs the upstream node, and forwarding to the upstream is disabled on this node")
        }
        do { return try forwarder(method, params) } catch {
            throw FieldFailure("upstream \(method) failed: \(Executor.message(error))")
        }
    }

    func latest() throws -> UInt64? { try request.head(.latest)?.number }
    func earliest() throws -> UInt64? { try request.head(.earliest)?.number }

    func blockNumber(hash: Hash32) throws -> UInt64? { try request.resolve(.hash(hash, requireCanonical: false)) }

    /// The stored block with full transaction objects, or nil if not indexed.
    func block(_ n: UInt64) throws -> JSONObject? {
        if let b = blocks[n] { return b }
        guard let b = try request.view.block(chainId, number: n, fullTransactions: true)?.objectValue else { return nil }
        blocks[n] = b
        return b
    }

    func transaction(hash: Hash32) throws -> JSONObject? { try request.view.transaction(chainId, hash: hash)?.objectValue }

    func receipts(_ n: UInt64) throws -> [JSONValue] {
        if let r = receipts[n] { return r }
        let r = try request.view.receipts(chainId, block: n) ?? []
        receipts[n] = r
        return r
    }

    func receipt(block n: UInt64, index i: Int) throws -> JSONObject? {
        let r = try receipts(n)
        return i < r.count ? r[i].objectValue : nil
    }

    func logs(_ filter: ChainIndex.LogFilter) throws -> [JSONValue] {
        do { return try request.view.logs(chainId, filter, limit: limits.maxLogs) } catch let e as ChainIndex.TooManyResults {
            throw FieldFailure("\(e.description); narrow the filter or use logsPage")
        }
    }

    /// An account field at block `n`, with the block checked as JSON-RPC checks it and an
    /// account the index never saw read from the upstream (see `RequestView.read`).
    func account<Value>(_ field: AccountField<Value>, _ a: Address, at n: UInt64) throws -> Value {
        try request.state(field, of: a, at: try request.stateBlock(.number(n)))
    }

    /// Parses FilterCriteria / BlockFilterCriteria addresses and topics (already canonical).
    static func filter(_ o: JSONObject, from: UInt64, to: UInt64) -> ChainIndex.LogFilter {
        let addresses = (o["addresses"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { try? Address(hex: $0) } }
        let topics: [[Hash32]?] = (o["topics"]?.arrayValue ?? []).map { position in
            let options = (position.arrayValue ?? []).compactMap { $0.stringValue.flatMap { try? Hash32(hex: $0) } }
            return options.isEmpty ? nil : options
        }
        return ChainIndex.LogFilter(fromBlock: from, toBlock: to, addresses: addresses, topics: topics)
    }
}

/// Reading the stored JSON-RPC objects' fields into resolver results.
extension JSONObject {
    /// A field as a Long result: hex quantity → number; absent/null → null.
    func long(_ key: String) -> Resolved {
        guard let s = self[key]?.stringValue, let v = try? Hex.decodeQuantity(s) else { return .null }
        return .leaf(.number(String(v)))
    }
    /// A field passed through as-is (hex strings for BigInt, Bytes, Bytes32, Address).
    func raw(_ key: String) -> Resolved {
        guard let v = self[key], v != .null else { return .null }
        return .leaf(v)
    }
    func number(_ key: String) -> UInt64? { self[key]?.stringValue.flatMap { try? Hex.decodeQuantity($0) } }
    func required(_ key: String, of what: String) throws -> Resolved {
        let r = raw(key)
        if case .null = r { throw FieldFailure("the stored \(what) has no \(key)") }
        return r
    }
}

extension Arguments {
    /// A canonical hex string argument (Address, Bytes32, Bytes) as bytes.
    func bytes(_ name: String) -> [UInt8]? { string(name).flatMap { try? Hex.decodeData($0) } }
}
