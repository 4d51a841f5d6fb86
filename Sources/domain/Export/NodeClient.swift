import Chain
import Foundation
import Net

/// A running node's read APIs as the exporter uses them: JSON-RPC (blocks in batches,
/// `eth_getLogs` halved until the node's limits accept it) with an API key, and the admin
/// plane's state pages with a token. A connection that fails is retried a few times with
/// backoff (a node restarting, a leader change), then the error names the node.
public final class NodeClient: ChainSource, StateSource {
    let client: HTTPClient
    let endpoint: String
    let chain: String?
    let readHeaders: [(String, String)]
    let adminHeaders: [(String, String)]
    /// Blocks per JSON-RPC batch; lowered when the node refuses a batch as too large.
    public private(set) var batch: Int
    let attempts = 4

    public init(endpoint: String, chain: String?, apiKey: String?, adminHeaders: [(String, String)], tls: TLSConfiguration?, timeoutMillis: Int, batch: Int) throws {
        client = try HTTPClient(url: endpoint, timeoutMillis: timeoutMillis, tls: tls)
        self.endpoint = endpoint
        self.chain = chain
        readHeaders = apiKey.map { [("X-API-Key", $0)] } ?? []
        self.adminHeaders = adminHeaders
        self.batch = batch
    }

    var rpcPath: String { chain.map { "/" + $0 } ?? "/" }

    /// One request, retried on transport failures and on 503 (no leader, a node starting).
    func send(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8] = []) throws -> HTTPClient.Response {
        var attempt = 1
        while true {
            do {
                let r = try client.request(method, path, headers: headers, body: body)
                if r.status == 503 && attempt < attempts { attempt += 1; usleep(useconds_t(250_000 * attempt)); continue }
                return r
            } catch {
                client.close()
                guard attempt < attempts else { throw ExportProblem("\(endpoint): \(method) \(path) failed after \(attempts) attempts: \(error)") }
                attempt += 1
                usleep(useconds_t(250_000 * attempt))
            }
        }
    }

    /// The answer's body, or an error that says why a 4xx/5xx came back.
    func checked(_ r: HTTPClient.Response, _ what: String) throws -> [UInt8] {
        guard r.status == 200 else {
            let message = (try? JSON.parse(r.body))?["error"].flatMap { $0.stringValue ?? $0["message"]?.stringValue } ?? String(r.text.prefix(300))
            var hint = ""
            if r.status == 401 || r.status == 403 {
                hint = what.hasPrefix("state") ? " (an admin token: --token-file FILE or INFRASTACK_ADMIN_TOKEN)" : " (the read API's key: --api-key-file FILE or INFRASTACK_API_KEY)"
            }
            throw ExportProblem("\(endpoint) refused \(what): \(r.status) \(message)\(hint)")
        }
        return r.body
    }

    func rpc(_ body: String, _ what: String) throws -> [UInt8] {
        try checked(try send("POST", rpcPath, headers: [("Content-Type", "application/json")] + readHeaders, body: Array(body.utf8)), what)
    }

    /// A JSON-RPC error object's code and message, when the envelope at `span` holds one.
    static func rpcError(_ b: [UInt8], _ members: [(key: String, value: Range<Int>)]) -> (code: Int, message: String)? {
        guard let e = members.first(where: { $0.key == "error" }), let v = try? JSON.parse(Array(b[e.value])), v.objectValue != nil else { return nil }
        let code: Int
        if case .number(let n)? = v["code"] { code = Int(n) ?? 0 } else { code = 0 }
        return (code, v["message"]?.stringValue ?? "")
    }

    /// The chain's latest block number.
    public func head() throws -> UInt64 {
        let b = try rpc(#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#, "eth_blockNumber")
        guard let v = try? JSON.parse(b), let q = v["result"]?.stringValue, let n = try? Hex.decodeQuantity(q) else {
            let why = (try? JSON.parse(b))?["error"]?["message"]?.stringValue ?? String(decoding: b.prefix(200), as: UTF8.self)
            throw ExportProblem("\(endpoint): eth_blockNumber did not answer a block number: \(why)")
        }
        return n
    }

    public func blocks(_ range: ClosedRange<UInt64>, fullTransactions: Bool, _ each: (UInt64, [UInt8], Range<Int>) throws -> Void) throws {
        var start = range.lowerBound
        while true {
            let count = UInt64(batch)
            let end = range.upperBound - start >= count ? start + count - 1 : range.upperBound
            let calls = (start...end).map { n in #"{"jsonrpc":"2.0","id":\#(n),"method":"eth_getBlockByNumber","params":["\#(Hex.encodeQuantity(n))",\#(fullTransactions)]}"# }
            let b = try rpc("[" + calls.joined(separator: ",") + "]", "eth_getBlockByNumber for blocks \(start)-\(end)")
            let whole = 0..<b.count
            if b.first(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 }) == UInt8(ascii: "{") {
                // A whole-batch refusal (too many calls for the node's rpc.maxBatch): smaller batches.
                let m = (try? JSONSpans.members(b, whole)) ?? []
                let e = Self.rpcError(b, m)
                guard batch > 1 else { throw ExportProblem("\(endpoint) refused a batch of one block: \(e?.message ?? String(decoding: b.prefix(200), as: UTF8.self))") }
                batch = max(1, batch / 2)
                continue
            }
            var byId = [UInt64: Range<Int>]()
            for el in try JSONSpans.elements(b, whole) {
                let m = try JSONSpans.members(b, el)
                guard let idSpan = m.first(where: { $0.key == "id" })?.value, let id = UInt64(String(decoding: b[idSpan], as: UTF8.self)) else {
                    throw ExportProblem("\(endpoint) answered a batch element without a numeric id")
                }
                if let e = Self.rpcError(b, m) { throw ExportProblem("\(endpoint): eth_getBlockByNumber(\(id)): \(e.code) \(e.message)") }
                guard let result = m.first(where: { $0.key == "result" })?.value else { throw ExportProblem("\(endpoint): eth_getBlockByNumber(\(id)) has neither result nor error") }
                byId[id] = result
            }
            for n in start...end {
                guard let span = byId[n] else { throw ExportProblem("\(endpoint) left block \(n) out of its batch answer") }
                if b[span.lowerBound] == UInt8(ascii: "n") {
                    throw ExportProblem("block \(n) is not indexed on \(endpoint) (its head is \((try? head()).map(String.init) ?? "unknown"))")
                }
                try each(n, b, span)
            }
            if end == range.upperBound { return }
            start = end + 1
        }
    }

    public func logs(_ range: ClosedRange<UInt64>, _ filter: LogFilterArgs, _ each: ([UInt8], Range<Int>) throws -> Void) throws {
        var f: JSONObject = ["fromBlock": .string(Hex.encodeQuantity(range.lowerBound)), "toBlock": .string(Hex.encodeQuantity(range.upperBound))]
        if !filter.addresses.isEmpty { f["address"] = .array(filter.addresses.map { .string($0) }) }
        if !filter.topics.isEmpty { f["topics"] = .array(filter.topics.map { t in t.map { .array($0.map { .string($0) }) } ?? .null }) }
        let call: JSONValue = .object(["jsonrpc": .string("2.0"), "id": .number("1"), "method": .string("eth_getLogs"), "params": .array([.object(f)])])
        let b = try rpc(JSON.serialize(call), "eth_getLogs for blocks \(range.lowerBound)-\(range.upperBound)")
        let m = try JSONSpans.members(b, 0..<b.count)
        if let e = Self.rpcError(b, m) {
            // -32005: more logs or a longer range than the node's rpc limits allow: halves.
            guard e.code == -32005 else { throw ExportProblem("\(endpoint): eth_getLogs(\(range.lowerBound)-\(range.upperBound)): \(e.code) \(e.message)") }
            guard range.count > 1 else {
                throw ExportProblem("block \(range.lowerBound) alone has more matching logs than \(endpoint) answers in one eth_getLogs (\(e.message)); raise its rpc.maxLogResults")
            }
            let mid = range.lowerBound + (range.upperBound - range.lowerBound) / 2
            try logs(range.lowerBound...mid, filter, each)
            try logs((mid + 1)...range.upperBound, filter, each)
            return
        }
        guard let result = m.first(where: { $0.key == "result" })?.value else { throw ExportProblem("\(endpoint): eth_getLogs answered neither result nor error") }
        for el in try JSONSpans.elements(b, result) { try each(b, el) }
    }

    public func statePage(block: String, after: String?, limit: Int) throws -> StatePage {
        var q = ["block=\(block)", "limit=\(limit)"]
        if let chain { q.append("chain=\(chain)") }
        if let after { q.append("after=\(after)") }
        let r = try send("GET", "/v1/export/state?" + q.joined(separator: "&"), headers: adminHeaders)
        let body = try checked(r, "state at block \(block)")
        guard let n = r.header("X-Infrastack-State-Block").flatMap(UInt64.init), let hash = r.header("X-Infrastack-State-Block-Hash") else {
            throw ExportProblem("\(endpoint) answered the state export without X-Infrastack-State-Block headers (a node older than the export endpoint?)")
        }
        return StatePage(block: n, blockHash: hash, body: body, next: r.header("X-Infrastack-Next-Cursor"))
    }
}
