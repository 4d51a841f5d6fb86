import Chain
import Net

/// JSON-RPC 2.0 over HTTP for a `SimChain`: single and batch requests, spec error codes.
public struct SimChainRPC: Sendable {
    public let chain: SimChain

    public init(chain: SimChain) { self.chain = chain }

    struct RPCError: Error { let code: Int; let message: String }

    public func handle(_ req: HTTPRequest) -> HTTPResponse {
        guard req.method == "POST" else { return .json(#"{"error":"POST JSON-RPC requests to /"}"#, status: 405) }
        let parsed: JSONValue
        do { parsed = try JSON.parse(req.body) } catch {
            return .json(JSON.serialize(Self.errorObject(.null, -32700, "parse error: \(error)")))
        }
        if let batch = parsed.arrayValue {
            if batch.isEmpty { return .json(JSON.serialize(Self.errorObject(.null, -32600, "empty batch"))) }
            return .json(JSON.serialize(.array(batch.map(one))))
        }
        return .json(JSON.serialize(one(parsed)))
    }

    static func errorObject(_ id: JSONValue, _ code: Int, _ message: String) -> JSONValue {
        .object(["jsonrpc": .string("2.0"), "id": id, "error": .object(["code": .number(String(code)), "message": .string(message)])])
    }

    func one(_ v: JSONValue) -> JSONValue {
        guard let o = v.objectValue, o["jsonrpc"]?.stringValue == "2.0", let method = o["method"]?.stringValue else {
            return Self.errorObject(v["id"] ?? .null, -32600, "invalid request: needs jsonrpc \"2.0\" and a method")
        }
        let id = o["id"] ?? .null
        let params = o["params"]?.arrayValue ?? []
        do {
            return .object(["jsonrpc": .string("2.0"), "id": id, "result": try call(method, params)])
        } catch let e as RPCError {
            return Self.errorObject(id, e.code, e.message)
        } catch {
            return Self.errorObject(id, -32602, "\(error)")
        }
    }

    func param(_ p: [JSONValue], _ i: Int, _ name: String) throws -> JSONValue {
        guard i < p.count else { throw RPCError(code: -32602, message: "missing value for required argument \(i) (\(name))") }
        return p[i]
    }

    /// Index into the canonical chain for a block tag, number or (with allowHash) hash.
    func resolve(_ v: JSONValue, _ blocks: [SimBlock], name: String = "block") throws -> Int? {
        if let o = v.objectValue {   // EIP-1898 {blockHash} / {blockNumber}
            if let h = o["blockHash"] { return try resolve(h, blocks, name: name) }
            if let n = o["blockNumber"] { return try resolve(n, blocks, name: name) }
        }
        guard let s = v.stringValue else { throw RPCError(code: -32602, message: "\(name): expected a block number, tag or hash") }
        let head = blocks.count - 1
        switch s {
        case "latest", "pending": return head
        case "earliest": return 0
        case "safe": return max(0, head - Int(chain.options.safeDistance))
        case "finalized": return max(0, head - Int(chain.options.finalizedDistance))
        default: break
        }
        if s.count == 66 {
            let h = try Hash32(hex: s)
            return blocks.firstIndex { $0.hash == h }
        }
        let n: UInt64
        do { n = try Hex.decodeQuantity(s) } catch { throw RPCError(code: -32602, message: "\(name): \(error)") }
        return n <= UInt64(head) ? Int(n) : nil
    }

    func address(_ v: JSONValue, _ name: String) throws -> Address {
        guard let s = v.stringValue else { throw RPCError(code: -32602, message: "\(name): expected an address") }
        do { return try Address(hex: s) } catch { throw RPCError(code: -32602, message: "\(name): \(error)") }
    }

    func call(_ method: String, _ p: [JSONValue]) throws -> JSONValue {
        let blocks = chain.snapshot
        do {
            switch method {
            case "eth_chainId": return .string(Hex.encodeQuantity(chain.options.chainId))
            case "net_version": return .string(String(chain.options.chainId))
            case "web3_clientVersion": return .string("infrastack-simchain/1")
            case "eth_blockNumber": return .string(Hex.encodeQuantity(blocks.last!.number))
            case "eth_getBlockByNumber", "eth_getBlockByHash":
                guard let i = try resolve(try param(p, 0, "block"), blocks) else { return .null }
                let full = p.count > 1 ? (p[1].boolValue ?? false) : false
                return .object(full ? blocks[i].full : blocks[i].hashesOnly)
            case "eth_getBlockReceipts":
                guard let i = try resolve(try param(p, 0, "block"), blocks) else { return .null }
                return .array(blocks[i].receipts.map { .object($0) })
            case "eth_getTransactionByHash", "eth_getTransactionReceipt":
                let h = try param(p, 0, "hash").stringValue ?? ""
                for b in blocks.reversed() {
                    if let j = b.transactions.firstIndex(where: { $0["hash"]?.stringValue == h }) {
                        return .object(method == "eth_getTransactionByHash" ? b.transactions[j] : b.receipts[j])
                    }
                }
                return .null
            case "eth_getBalance", "eth_getTransactionCount", "eth_getCode":
                let a = try address(try param(p, 0, "address"), "address")
                guard let i = try resolve(p.count > 1 ? p[1] : .string("latest"), blocks) else { throw RPCError(code: -32000, message: "header not found") }
                let acct = blocks[i].state.account(a)
                switch method {
                case "eth_getBalance": return .string(acct.balance.quantity)
                case "eth_getTransactionCount": return .string(Hex.encodeQuantity(acct.nonce))
                default: return .string(Hex.encode(acct.code))
                }
            case "eth_getStorageAt":
                let a = try address(try param(p, 0, "address"), "address")
                guard let slotText = try param(p, 1, "slot").stringValue, let slotBytes = try? Hex.decodeQuantityBytes(slotText) else {
                    throw RPCError(code: -32602, message: "slot: expected a hex quantity")
                }
                guard let i = try resolve(p.count > 2 ? p[2] : .string("latest"), blocks) else { throw RPCError(code: -32000, message: "header not found") }
                return .string(blocks[i].state.slot(a, Hash32(unchecked: Array(repeating: 0, count: 32 - slotBytes.count) + slotBytes)).hex)
            case "eth_getLogs":
                return try logs(try param(p, 0, "filter"), blocks)
            case "debug_traceBlockByNumber", "debug_traceBlockByHash":
                guard let i = try resolve(try param(p, 0, "block"), blocks) else { throw RPCError(code: -32000, message: "block not found") }
                let opts = p.count > 1 ? p[1].objectValue : nil
                guard opts?["tracer"]?.stringValue == "prestateTracer", opts?["tracerConfig"]?["diffMode"]?.boolValue == true else {
                    throw RPCError(code: -32602, message: "only {\"tracer\":\"prestateTracer\",\"tracerConfig\":{\"diffMode\":true}} is supported")
                }
                return .array(blocks[i].trace)
            default:
                throw RPCError(code: -32601, message: "the method \(method) does not exist/is not available")
            }
        }
    }

    func logs(_ f: JSONValue, _ blocks: [SimBlock]) throws -> JSONValue {
        guard let o = f.objectValue else { throw RPCError(code: -32602, message: "filter: expected an object") }
        var range: ClosedRange<Int>
        if let h = o["blockHash"] {
            guard let i = try resolve(h, blocks, name: "blockHash") else { throw RPCError(code: -32000, message: "unknown block") }
            range = i...i
        } else {
            let from = try resolve(o["fromBlock"] ?? .string("latest"), blocks, name: "fromBlock") ?? blocks.count
            let to = try resolve(o["toBlock"] ?? .string("latest"), blocks, name: "toBlock") ?? (blocks.count - 1)
            guard from <= to else { return .array([]) }
            range = from...to
        }
        var addresses = Set<String>()
        if let a = o["address"] {
            for v in a.arrayValue ?? [a] { addresses.insert(try address(v, "address").hex) }
        }
        let topics: [[String]?] = (o["topics"]?.arrayValue ?? []).map { t in
            if t.isNull { return nil }
            return (t.arrayValue ?? [t]).compactMap { $0.stringValue?.lowercased() }
        }
        var out = [JSONValue]()
        for i in range {
            for r in blocks[i].receipts {
                for l in r["logs"]?.arrayValue ?? [] {
                    if !addresses.isEmpty && !addresses.contains(l["address"]?.stringValue ?? "") { continue }
                    let ts = (l["topics"]?.arrayValue ?? []).compactMap(\.stringValue)
                    var ok = true
                    for (k, options) in topics.enumerated() {
                        guard let options else { continue }
                        if k >= ts.count || !options.contains(ts[k]) { ok = false; break }
                    }
                    if ok { out.append(l) }
                }
            }
        }
        return .array(out)
    }
}
