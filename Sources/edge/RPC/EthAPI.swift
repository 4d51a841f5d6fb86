import Chain
import ChainIndex
import Telemetry

/// The Ethereum JSON-RPC methods this node answers, from its own LMDB copy of the chain,
/// plus the ones it forwards to the upstream. One instance per chain.
public final class EthAPI: Sendable {
    public struct Config: Sendable {
        public var chainId: UInt64
        public var clientVersion = "InfraStack/v0.1.0/linux/swift6"
        /// eth_getLogs and log filters refuse ranges wider than this many blocks.
        public var maxLogBlockRange: UInt64 = 10_000
        /// eth_getLogs refuses to return more than this many logs.
        public var maxLogResults = 10_000
        public init(chainId: UInt64) { self.chainId = chainId }
    }

    /// Where the indexer stands against the upstream, for eth_syncing.
    public struct SyncProgress: Sendable {
        public var startingBlock: UInt64
        public var currentBlock: UInt64
        public var highestBlock: UInt64
        public init(startingBlock: UInt64, currentBlock: UInt64, highestBlock: UInt64) {
            self.startingBlock = startingBlock; self.currentBlock = currentBlock; self.highestBlock = highestBlock
        }
    }

    public let config: Config
    public let index: ChainIndex
    public let filters: FilterRegistry
    public let subscriptions: SubscriptionHub
    public let stats: RPCStats
    let forwarder: Forwarder?
    /// The forwarder as the request view's reader of state the index never saw.
    let upstream: UpstreamRead?
    let syncProgress: @Sendable () -> SyncProgress?
    var cid: UInt64 { config.chainId }

    public init(config: Config, index: ChainIndex, feed: ChainFeed?, forwarder: Forwarder?, metrics: MetricsRegistry = MetricsRegistry(),
                syncProgress: @escaping @Sendable () -> SyncProgress? = { nil }) {
        self.config = config
        self.stats = RPCStats(registry: metrics, chainId: config.chainId)
        self.index = index
        self.forwarder = forwarder
        if let forwarder {
            upstream = { @Sendable (method: String, params: [JSONValue]) throws -> JSONValue in try forwarder.call(method, params) }
        } else {
            upstream = nil
        }
        self.syncProgress = syncProgress
        self.filters = FilterRegistry(index: index, chainId: config.chainId, maxBlockRange: config.maxLogBlockRange,
                                      maxResults: config.maxLogResults, feed: feed)
        self.subscriptions = SubscriptionHub(index: index, chainId: config.chainId, feed: feed)
    }

    /// A WebSocket connection's calls: eth_subscribe / eth_unsubscribe bound to it, the
    /// rest as over HTTP.
    public func call(_ method: String, _ p: RPCParams, connection: UInt64, send: @escaping SubscriptionHub.Send) throws -> JSONValue {
        switch method {
        case "eth_subscribe": return try subscriptions.subscribe(p, connection: connection, send: send)
        case "eth_unsubscribe": return try subscriptions.unsubscribe(p, connection: connection)
        default: return try call(method, p)
        }
    }

    /// Runs one method, answering JSON text: the hot reads are spliced from the stored
    /// bytes; everything else is serialized from its value.
    public func encodedCall(_ method: String, _ p: RPCParams) throws -> [UInt8] {
        if let spliced = Self.splicedMethods[method] { return try Self.inRPCShape { try spliced(self)(p) } }
        return Array(JSON.serialize(try call(method, p)).utf8)
    }

    /// The WebSocket form of `encodedCall`.
    public func encodedCall(_ method: String, _ p: RPCParams, connection: UInt64, send: @escaping SubscriptionHub.Send) throws -> [UInt8] {
        if method == "eth_subscribe" || method == "eth_unsubscribe" {
            return Array(JSON.serialize(try call(method, p, connection: connection, send: send)).utf8)
        }
        return try encodedCall(method, p)
    }

    /// Runs one method. Unknown methods answer -32601.
    public func call(_ method: String, _ p: RPCParams) throws -> JSONValue {
        if let local = Self.localMethods[method] { return try Self.inRPCShape { try local(self)(p) } }
        if Forwarder.methods.contains(method) {
            guard let forwarder else {
                throw RPCError.server("\(method) needs the upstream node and forwarding is disabled on this node (rpc.forward)")
            }
            return try Self.inRPCShape { try forwarder.forward(method, p, api: self) }
        }
        if method == "eth_subscribe" || method == "eth_unsubscribe" {
            throw RPCError(code: -32601, message: "notifications not supported: \(method) needs a WebSocket connection")
        }
        throw RPCError.methodNotFound(method)
    }

    public static var localMethodNames: [String] { Array(localMethods.keys).sorted() }

    /// Methods whose work is bounded by one block or one account and that wait for nothing
    /// but, for state the index never saw, the upstream (which abandons an inline attempt;
    /// see `InlineAttempt`): the ones an event loop may answer itself. Ranges (eth_getLogs),
    /// filters, proofs and forwarded calls are not among them.
    public static let boundedMethods: Set<String> = [
        "web3_clientVersion", "net_version", "net_listening", "eth_chainId", "eth_blockNumber", "eth_syncing",
        "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getTransactionByHash", "eth_getTransactionReceipt",
        "eth_getTransactionByBlockNumberAndIndex", "eth_getTransactionByBlockHashAndIndex",
        "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
        "eth_getUncleCountByBlockNumber", "eth_getUncleCountByBlockHash",
        "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt",
    ]

    /// For /status: method counts, live filters and subscriptions, refused upstream proofs.
    public struct Status: Sendable, Equatable {
        public var calls: RPCStats.Snapshot
        public var filters: Int
        public var subscriptions: Int
        public var forwarding: Bool
        public var rejectedUpstreamProofs: Int
    }

    public var status: Status {
        Status(calls: stats.snapshot, filters: filters.count, subscriptions: subscriptions.count,
               forwarding: forwarder != nil, rejectedUpstreamProofs: forwarder?.rejectedProofs ?? 0)
    }

    typealias Method = @Sendable (EthAPI) -> (RPCParams) throws -> JSONValue
    static let localMethods: [String: Method] = [
        "web3_clientVersion": { api in { p in try p.allow(atMost: 0); return .string(api.config.clientVersion) } },
        "web3_sha3": { api in { p in
            try p.allow(atMost: 1)
            let s = try p.string(0, "data")
            do { return .string(Hash32.keccak(try Hex.decodeData(s)).hex) } catch { throw RPCError.invalidArgument(0, "data: \(error)") }
        } },
        "net_version": { api in { p in try p.allow(atMost: 0); return .string(String(api.cid)) } },
        "net_listening": { _ in { p in try p.allow(atMost: 0); return .bool(true) } },
        "eth_chainId": { api in { p in try p.allow(atMost: 0); return .string(Hex.encodeQuantity(api.cid)) } },
        "eth_blockNumber": { api in { p in
            try p.allow(atMost: 0)
            return .string(Hex.encodeQuantity(try api.request { try $0.head()?.number } ?? 0))
        } },
        "eth_syncing": { api in { p in try p.allow(atMost: 0); return api.syncing() } },
        "eth_getBlockByNumber": { api in { p in try JSON.parse(try api.blockByNumber(p)) } },
        "eth_getBlockByHash": { api in { p in try JSON.parse(try api.blockByHash(p)) } },
        "eth_getBlockTransactionCountByNumber": { api in { p in try api.countInBlock(p, field: "transactions") } },
        "eth_getBlockTransactionCountByHash": { api in { p in try api.countInBlock(p, field: "transactions") } },
        "eth_getUncleCountByBlockNumber": { api in { p in try api.countInBlock(p, field: "uncles") } },
        "eth_getUncleCountByBlockHash": { api in { p in try api.countInBlock(p, field: "uncles") } },
        "eth_getTransactionByHash": { api in { p in try JSON.parse(try api.transactionByHash(p)) } },
        "eth_getTransactionByBlockNumberAndIndex": { api in api.transactionByBlockAndIndex },
        "eth_getTransactionByBlockHashAndIndex": { api in api.transactionByBlockAndIndex },
        "eth_getTransactionReceipt": { api in { p in try JSON.parse(try api.transactionReceipt(p)) } },
        "eth_getBlockReceipts": { api in { p in try JSON.parse(try api.blockReceipts(p)) } },
        "eth_getLogs": { api in { p in try JSON.parse(try api.getLogs(p)) } },
        "eth_getBalance": { api in api.getBalance },
        "eth_getTransactionCount": { api in api.getTransactionCount },
        "eth_getCode": { api in api.getCode },
        "eth_getStorageAt": { api in api.getStorageAt },
        "eth_newFilter": { api in { p in try api.filters.newLogFilter(p) } },
        "eth_newBlockFilter": { api in { p in try p.allow(atMost: 0); return try api.filters.newBlockFilter(p) } },
        "eth_getFilterChanges": { api in { p in try api.filters.changes(p) } },
        "eth_getFilterLogs": { api in { p in try api.filters.allLogs(p, api: api) } },
        "eth_uninstallFilter": { api in { p in try api.filters.uninstall(p) } },
        "infra_getTransactionProof": { api in api.transactionProof },
        "infra_getReceiptProof": { api in api.receiptProof },
    ]

    func syncing() -> JSONValue {
        guard let s = syncProgress(), s.currentBlock < s.highestBlock else { return .bool(false) }
        return .object(["startingBlock": .string(Hex.encodeQuantity(s.startingBlock)),
                        "currentBlock": .string(Hex.encodeQuantity(s.currentBlock)),
                        "highestBlock": .string(Hex.encodeQuantity(s.highestBlock))])
    }

    // MARK: reads

    /// One request's reads of this chain: one snapshot, the shared block selector and the
    /// rule for state the index never saw (see `RequestView`).
    public func request<R>(_ body: (RequestView) throws -> R) throws -> R {
        try index.request(chain: cid, upstream: upstream, body)
    }

    /// The index's refusals as geth words them: an unknown block or unusable upstream answer
    /// is a -32000 server error, not an internal one.
    static func inRPCShape<R>(_ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as BlockNotFound {
            throw RPCError.server(e.description)
        } catch let e as UpstreamAnswerInvalid {
            throw RPCError.server(e.description)
        }
    }
}
