import Chain
import Net

/// JSON-RPC 2.0 over HTTP (POST /) for a `SimChain`: single and batch requests,
/// notifications (no `id`: no answer), and the spec's error codes (-32700 parse error,
/// -32600 invalid request, -32601 method not found, -32602 invalid params naming the
/// argument, -32000 for a block that does not exist where one is required, as geth does).
/// Answers are shaped like geth's, field order included.
public struct SimChainRPC: Sendable {
    public let chain: SimChain
    /// Pre-serialized per-block answers (`--replay`); nil computes every answer.
    let replay: ReplayCache?

    public init(chain: SimChain, replay: ReplayCache? = nil) { self.chain = chain; self.replay = replay }

    public static let methods: [String] = [
        "eth_chainId", "net_version", "web3_clientVersion", "eth_syncing", "eth_gasPrice", "eth_blockNumber",
        "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts",
        "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
        "eth_getTransactionByHash", "eth_getTransactionByBlockNumberAndIndex", "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionReceipt", "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt",
        "eth_getLogs", "debug_traceBlockByNumber", "debug_traceBlockByHash", "debug_traceTransaction",
    ]

    struct RPCError: Error {
        let code: Int
        let message: String
        static func params(_ message: String) -> RPCError { RPCError(code: -32602, message: message) }
        static func arg(_ i: Int, _ message: String) -> RPCError { RPCError(code: -32602, message: "invalid argument \(i): \(message)") }
    }

    public func handle(_ req: HTTPRequest) -> HTTPResponse {
        guard req.method == "POST" else {
            return HTTPResponse(status: 405, headers: [("Allow", "POST"), ("Content-Type", "application/json")],
                                body: Array(#"{"error":"send JSON-RPC requests with POST /"}"#.utf8))
        }
        guard let out = respond(to: req.body) else { return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")]) }
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: out)
    }

    /// The response body for a request body; nil when there is nothing to answer (only notifications).
    public func respond(to body: [UInt8]) -> [UInt8]? {
        let parsed: JSONValue
        do { parsed = try JSON.parse(body) } catch {
            return JSON.serializedBytes(Self.errorObject(.null, -32700, "parse error: \(error)"))
        }
        if let batch = parsed.arrayValue {
            if batch.isEmpty { return JSON.serializedBytes(Self.errorObject(.null, -32600, "invalid request: empty batch")) }
            let answers = batch.compactMap(one)
            return answers.isEmpty ? nil : JSON.arrayText(answers)
        }
        return one(parsed)
    }

    static func errorObject(_ id: JSONValue, _ code: Int, _ message: String) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": id, "error": .object(["code": .number(String(code)), "message": .string(message)])])
    }

    /// The answer to one request as JSON text; nil for a notification. The replay cache
    /// answers the calls it holds, with the same bytes.
    func one(_ v: JSONValue) -> [UInt8]? {
        guard let o = v.objectValue else { return JSON.serializedBytes(Self.errorObject(.null, -32600, "invalid request: expected an object")) }
        let id = o["id"] ?? .null
        switch id {
        case .string, .number, .null: break
        default: return JSON.serializedBytes(Self.errorObject(.null, -32600, "invalid request: id must be a string, number or null"))
        }
        guard o["jsonrpc"]?.stringValue == "2.0" else { return JSON.serializedBytes(Self.errorObject(id, -32600, "invalid request: jsonrpc must be \"2.0\"")) }
        guard let method = o["method"]?.stringValue else { return JSON.serializedBytes(Self.errorObject(id, -32600, "invalid request: method must be a string")) }
        let isNotification = o["id"] == nil
        var out = [UInt8]()
        do {
            let params: [JSONValue]
            switch o["params"] {
            case nil, .some(.null): params = []
            case .some(.array(let a)): params = a
            default: throw RPCError.params("params must be an array (positional arguments)")
            }
            let result: Answer
            if let cached = replay?.result(method, params) { result = .text(cached) } else { result = try answer(method, params) }
            // The fields in the order of the error object: jsonrpc, id, then result.
            out += Array(#"{"jsonrpc":"2.0","id":"#.utf8)
            JSON.write(id, to: &out)
            out += Array(#","result":"#.utf8)
            switch result {
            case .value(let r): JSON.write(r, to: &out)
            case .text(let t): out += t
            }
            out.append(UInt8(ascii: "}"))
        } catch let e as RPCError {
            out = JSON.serializedBytes(Self.errorObject(id, e.code, e.message))
        } catch {
            out = JSON.serializedBytes(Self.errorObject(id, -32603, "internal error: \(error)"))
        }
        return isNotification ? nil : out
    }

    // MARK: argument parsing

    func arg(_ p: [JSONValue], _ i: Int, _ name: String) throws -> JSONValue {
        guard i < p.count, !p[i].isNull else { throw RPCError.params("missing value for required argument \(i) (\(name))") }
        return p[i]
    }

    func address(_ v: JSONValue, _ i: Int, _ name: String) throws -> Address {
        guard let s = v.stringValue else { throw RPCError.arg(i, "\(name): expected an address string") }
        do { return try Address(hex: s) } catch { throw RPCError.arg(i, "\(name): \(error)") }
    }

    func hash(_ v: JSONValue, _ i: Int, _ name: String) throws -> Hash32 {
        guard let s = v.stringValue else { throw RPCError.arg(i, "\(name): expected a 32-byte hex string") }
        do { return try Hash32(hex: s) } catch { throw RPCError.arg(i, "\(name): \(error)") }
    }

    func quantity(_ v: JSONValue, _ i: Int, _ name: String) throws -> UInt64 {
        guard let s = v.stringValue else { throw RPCError.arg(i, "\(name): expected a hex quantity") }
        do { return try Hex.decodeQuantity(s) } catch { throw RPCError.arg(i, "\(name): \(error)") }
    }

    enum BlockRef { case number(UInt64), hash(Hash32) }

    /// A block number or tag, or (when `hashes`) a block hash or EIP-1898 object.
    func blockRef(_ v: JSONValue, _ i: Int, _ name: String, hashes: Bool, head: UInt64) throws -> BlockRef {
        if hashes, let o = v.objectValue {
            if let h = o["blockHash"] { return .hash(try hash(h, i, "\(name).blockHash")) }
            if let n = o["blockNumber"] { return try blockRef(n, i, "\(name).blockNumber", hashes: false, head: head) }
            throw RPCError.arg(i, "\(name): expected blockHash or blockNumber")
        }
        guard let s = v.stringValue else { throw RPCError.arg(i, "\(name): expected a block number or tag") }
        switch s {
        case "latest", "pending": return .number(head)
        case "earliest": return .number(0)
        case "safe": return .number(head > chain.options.safeDistance ? head - chain.options.safeDistance : 0)
        case "finalized": return .number(head > chain.options.finalizedDistance ? head - chain.options.finalizedDistance : 0)
        default: break
        }
        if hashes && s.count == 66 { return .hash(try hash(v, i, name)) }
        return .number(try quantity(v, i, name))
    }

    /// The canonical block a reference names, or nil.
    func find(_ r: BlockRef, _ view: SimChain.View) -> SimBlock? {
        switch r {
        case .number(let n): return n < UInt64(view.blocks.count) ? view.blocks[Int(n)] : nil
        case .hash(let h): return view.blockByHash[h].map { view.blocks[Int($0)] }
        }
    }

    /// For state queries a missing block is an error, as in geth.
    func required(_ r: BlockRef, _ view: SimChain.View) throws -> SimBlock {
        if let b = find(r, view) { return b }
        if case .hash = r { throw RPCError(code: -32000, message: "header for hash not found") }
        throw RPCError(code: -32000, message: "header not found")
    }

    static let prestateDiffOnly = "only {\"tracer\":\"prestateTracer\",\"tracerConfig\":{\"diffMode\":true}} is served"

    func checkTracer(_ p: [JSONValue], _ i: Int) throws {
        guard i < p.count, let o = p[i].objectValue else { throw RPCError.arg(i, "tracer config: \(Self.prestateDiffOnly)") }
        guard o["tracer"]?.stringValue == "prestateTracer", o["tracerConfig"]?["diffMode"]?.boolValue == true else {
            throw RPCError.arg(i, "tracer config: \(Self.prestateDiffOnly)")
        }
    }

    // MARK: methods

    /// What a request answers: a value built for it, or JSON text a block stores.
    enum Answer {
        case value(JSONValue)
        case text([UInt8])
    }

    func call(_ method: String, _ p: [JSONValue]) throws -> JSONValue {
        switch try answer(method, p) {
        case .value(let v): return v
        case .text(let t): return SimBlock.tree(t)
        }
    }

    func answer(_ method: String, _ p: [JSONValue]) throws -> Answer {
        try chain.read { view in
            let blocks = view.blocks, ledger = view.ledger
            let head = UInt64(blocks.count - 1)
            switch method {
            case "eth_chainId": return .value(.string(Hex.encodeQuantity(chain.options.chainId)))
            case "net_version": return .value(.string(String(chain.options.chainId)))
            case "web3_clientVersion": return .value(.string("infrastack-simchain/1.0"))
            case "eth_syncing": return .value(.bool(false))
            case "eth_gasPrice":
                return .value(.string((blocks[Int(head)].baseFeePerGas + U256(1_000_000_000)).quantity))
            case "eth_blockNumber": return .value(.string(Hex.encodeQuantity(head)))

            case "eth_getBlockByNumber", "eth_getBlockByHash":
                let byHash = method == "eth_getBlockByHash"
                let v = try arg(p, 0, byHash ? "blockHash" : "blockNumber")
                let ref: BlockRef = byHash ? .hash(try hash(v, 0, "blockHash")) : try blockRef(v, 0, "blockNumber", hashes: false, head: head)
                var full = false
                if p.count > 1, !p[1].isNull {
                    guard let b = p[1].boolValue else { throw RPCError.arg(1, "fullTransactions: expected a boolean") }
                    full = b
                }
                guard let b = find(ref, view) else { return .value(.null) }
                return .text(full ? b.fullText : b.hashesOnlyText)

            case "eth_getBlockReceipts":
                guard let b = find(try blockRef(try arg(p, 0, "block"), 0, "block", hashes: true, head: head), view) else { return .value(.null) }
                return .text(JSON.arrayText(b.receiptTexts))

            case "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash":
                let byHash = method.hasSuffix("Hash")
                let v = try arg(p, 0, byHash ? "blockHash" : "blockNumber")
                let ref: BlockRef = byHash ? .hash(try hash(v, 0, "blockHash")) : try blockRef(v, 0, "blockNumber", hashes: false, head: head)
                guard let b = find(ref, view) else { return .value(.null) }
                return .value(.string(Hex.encodeQuantity(UInt64(b.transactionCount))))

            case "eth_getTransactionByHash", "eth_getTransactionReceipt":
                let h = try hash(try arg(p, 0, "transactionHash"), 0, "transactionHash")
                guard let (n, i) = view.txByHash[h] else { return .value(.null) }
                let b = blocks[Int(n)]
                return .text(method == "eth_getTransactionByHash" ? b.transactionTexts[i] : b.receiptTexts[i])

            case "eth_getTransactionByBlockNumberAndIndex", "eth_getTransactionByBlockHashAndIndex":
                let byHash = method.contains("Hash")
                let v = try arg(p, 0, byHash ? "blockHash" : "blockNumber")
                let ref: BlockRef = byHash ? .hash(try hash(v, 0, "blockHash")) : try blockRef(v, 0, "blockNumber", hashes: false, head: head)
                let i = try quantity(try arg(p, 1, "index"), 1, "index")
                guard let b = find(ref, view), i < UInt64(b.transactionCount) else { return .value(.null) }
                return .text(b.transactionTexts[Int(i)])

            case "eth_getBalance", "eth_getTransactionCount", "eth_getCode":
                let a = try address(try arg(p, 0, "address"), 0, "address")
                let b = try required(try blockRef(p.count > 1 && !p[1].isNull ? p[1] : .string("latest"), 1, "block", hashes: true, head: head), view)
                let acct = ledger.account(a, at: b.number)
                switch method {
                case "eth_getBalance": return .value(.string(acct.balance.quantity))
                case "eth_getTransactionCount": return .value(.string(Hex.encodeQuantity(acct.nonce)))
                default: return .value(.string(Hex.encode(acct.code)))
                }

            case "eth_getStorageAt":
                let a = try address(try arg(p, 0, "address"), 0, "address")
                guard let slotText = try arg(p, 1, "storageSlot").stringValue else { throw RPCError.arg(1, "storageSlot: expected hex") }
                let slotBytes: [UInt8]
                do { slotBytes = try Hex.decodeData(slotText) } catch {
                    do { slotBytes = try Hex.decodeQuantityBytes(slotText) } catch { throw RPCError.arg(1, "storageSlot: \(error)") }
                }
                guard slotBytes.count <= 32 else { throw RPCError.arg(1, "storageSlot: longer than 32 bytes") }
                let b = try required(try blockRef(p.count > 2 && !p[2].isNull ? p[2] : .string("latest"), 2, "block", hashes: true, head: head), view)
                let slot = Hash32(unchecked: [UInt8](repeating: 0, count: 32 - slotBytes.count) + slotBytes)
                return .value(.string(ledger.slot(a, slot, at: b.number).hex))

            case "eth_getLogs":
                return .text(JSON.arrayText(try logs(try arg(p, 0, "filter"), view, head: head).lazy.map(\.text)))

            case "debug_traceBlockByNumber", "debug_traceBlockByHash":
                let byHash = method.hasSuffix("Hash")
                let v = try arg(p, 0, byHash ? "blockHash" : "blockNumber")
                let ref: BlockRef = byHash ? .hash(try hash(v, 0, "blockHash")) : try blockRef(v, 0, "blockNumber", hashes: false, head: head)
                try checkTracer(p, 1)
                guard let b = find(ref, view) else {
                    if case .number(let n) = ref { throw RPCError(code: -32000, message: "block #\(n) not found") }
                    throw RPCError(code: -32000, message: "block \(v.stringValue ?? "") not found")
                }
                return .text(JSON.arrayText(b.traceTexts))

            case "debug_traceTransaction":
                let h = try hash(try arg(p, 0, "transactionHash"), 0, "transactionHash")
                try checkTracer(p, 1)
                guard let (n, i) = view.txByHash[h] else { throw RPCError(code: -32000, message: "transaction \(h.hex) not found") }
                return .value(SimBlock.tree(blocks[Int(n)].traceTexts[i])["result"]!)

            case "optimism_syncStatus" where chain.options.opSyncStatus:
                // op-node's shape: L2 block references with the number as a JSON number.
                func ref(_ distance: UInt64) -> JSONValue {
                    let n = head > distance ? head - distance : 0
                    return .object(["number": .number(String(n)), "hash": .string(blocks[Int(n)].hash.hex)])
                }
                return .value(.object(["unsafe_l2": ref(0), "safe_l2": ref(SimChainOptions.opSafeDistance),
                                        "finalized_l2": ref(SimChainOptions.opFinalizedDistance)]))

            default:
                throw RPCError(code: -32601, message: "the method \(method) does not exist/is not available")
            }
        }
    }

    /// A parsed eth_getLogs filter.
    public struct LogFilter: Sendable {
        public var addresses: Set<Address> = []
        /// Per position: nil matches anything; otherwise one of the listed topics.
        public var topics: [Set<Hash32>?] = []

        public func matches(_ l: SimLog) -> Bool {
            if !addresses.isEmpty && !addresses.contains(l.address) { return false }
            for (k, allowed) in topics.enumerated() {
                guard let allowed else { continue }
                if k >= l.topics.count || !allowed.contains(l.topics[k]) { return false }
            }
            return true
        }
    }

    func logs(_ f: JSONValue, _ view: SimChain.View, head: UInt64) throws -> [SimLog] {
        guard let o = f.objectValue else { throw RPCError.arg(0, "filter: expected an object") }
        let range: ClosedRange<UInt64>
        if let hv = o["blockHash"], !hv.isNull {
            if o["fromBlock"] != nil || o["toBlock"] != nil {
                throw RPCError.arg(0, "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
            }
            guard let b = find(.hash(try hash(hv, 0, "blockHash")), view) else { throw RPCError(code: -32000, message: "unknown block") }
            range = b.number...b.number
        } else {
            func bound(_ key: String) throws -> UInt64 {
                guard let v = o[key], !v.isNull else { return head }
                guard case .number(let n) = try blockRef(v, 0, key, hashes: false, head: head) else { return head }
                return n
            }
            let from = try bound("fromBlock"), to = try bound("toBlock")
            guard from <= to else { throw RPCError.params("invalid block range params") }
            guard to <= head else { throw RPCError.params("block range extends beyond current head block") }
            range = from...to
        }
        var filter = LogFilter()
        if let a = o["address"], !a.isNull {
            for v in a.arrayValue ?? [a] { filter.addresses.insert(try address(v, 0, "address")) }
        }
        if let t = o["topics"], !t.isNull {
            guard let positions = t.arrayValue else { throw RPCError.arg(0, "topics: expected an array") }
            guard positions.count <= 4 else { throw RPCError.arg(0, "topics: at most 4 positions") }
            for (k, pos) in positions.enumerated() {
                if pos.isNull { filter.topics.append(nil); continue }
                let alternatives = pos.arrayValue ?? [pos]
                // An empty OR-list, like null, matches anything (geth treats them alike).
                if alternatives.isEmpty { filter.topics.append(nil); continue }
                var set = Set<Hash32>()
                for v in alternatives where !v.isNull { set.insert(try hash(v, 0, "topics[\(k)]")) }
                filter.topics.append(set)
            }
        }
        var out = [SimLog]()
        for n in range {
            for l in view.blocks[Int(n)].logs where filter.matches(l) { out.append(l) }
        }
        return out
    }
}
