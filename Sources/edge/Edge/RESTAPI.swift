import ByteCodec
import Chain
import Foundation
import ChainIndex
import Net
import RPC

/// Read-only REST over the chain index under /v1/chain/…, answered from this node's own
/// LMDB. Errors are always `{"error": "…"}` with a 4xx/5xx status.
///
///   GET /v1/chain/head                         latest, safe, finalized, earliest heads
///   GET /v1/chain/blocks/{number|hash|tag}     ?full=true for transaction objects
///   GET /v1/chain/txs/{hash}   /receipts/{hash}
///   GET /v1/chain/accounts/{address}?block=    balance, nonce, code at a block
///   GET /v1/chain/storage/{address}/{slot}?block=
///   GET /v1/chain/logs?fromBlock=&toBlock=&address=a,b&topic0=t,u&…&limit=100&cursor=
///       → {"logs": [...], "nextCursor": "…" | null}; pass nextCursor back for the next page
///
/// Each answer is read from one snapshot of the index, with blocks named and never-seen
/// accounts answered as JSON-RPC does (`RequestView`), so REST never contradicts JSON-RPC
/// and never mixes two states of the chain in one answer.
struct ChainAPI: Sendable {
    let eth: EthAPI
    var chainId: UInt64 { eth.config.chainId }

    func error(_ status: Int, _ message: String) -> HTTPResponse { jsonError(status, message) }

    func ok(_ v: JSONValue) -> HTTPResponse { .json(JSON.serialize(v) + "\n") }

    /// A block named by a path segment or ?block= value: a decimal number, or anything a
    /// JSON-RPC block argument takes (0x number, tag, 32-byte hash).
    static func selector(_ text: String?) throws -> BlockSelector {
        let t = text ?? "latest"
        if let n = UInt64(t) { return .number(n) }
        return try BlockSelector(.string(t), argument: 0, name: "block")
    }

    /// The block number a selector names; nil: no such block yet (e.g. no safe head).
    func resolve(_ text: String?, _ r: RequestView) throws -> UInt64? {
        let selector = try Self.selector(text)
        do { return try r.resolve(selector) } catch is BlockNotFound { return nil }
    }

    /// The block whose state an account or storage read answers: indexed, not above the
    /// head, not below the first indexed block. nil (answered 404, as JSON-RPC's "header not
    /// found") otherwise — never the current state under another block's number.
    func stateBlock(_ text: String?, _ r: RequestView) throws -> UInt64? {
        let selector = try Self.selector(text)
        do { return try r.stateBlock(selector) } catch is BlockNotFound { return nil }
    }

    func handle(_ req: HTTPRequest) -> HTTPResponse? {
        guard req.method == "GET", req.path.hasPrefix("/v1/chain") else { return nil }
        let parts = req.path.split(separator: "/").map(String.init)   // ["v1", "chain", ...]
        let q = req.query
        let finish: Finish
        do {
            finish = try eth.request { r in try route(parts, q, req.path, r) }
        } catch let e as ChainIndex.TooManyResults {
            return error(413, "\(e.description); narrow the block range or add address/topic filters")
        } catch let e as HexError {
            return error(400, e.description)
        } catch let e as AddressError {
            return error(400, e.description)
        } catch let e as FieldError {
            return error(400, e.description)
        } catch let e as RPCError {
            return error(400, e.message)
        } catch {
            return self.error(500, "\(error)")
        }
        do { return try finish() } catch let e as RPCError {
            return error(502, "the upstream could not answer for state this node never indexed: \(e.message)")
        } catch {
            return self.error(502, "the upstream could not answer for state this node never indexed: \(error)")
        }
    }

    /// The rest of an answer once the snapshot is closed: for state the index never saw it
    /// asks the upstream (pinned to the block), outside the snapshot because growing the LMDB
    /// map waits for every open one.
    typealias Finish = () throws -> HTTPResponse

    func route(_ parts: [String], _ q: [String: String], _ path: String, _ r: RequestView) throws -> Finish {
        func now(_ response: HTTPResponse) -> Finish { { response } }
        switch parts.dropFirst(2).first {
        case "head":
            var o = JSONObject()
            o["chainId"] = .number(String(chainId))
            for (name, kind) in [("latest", HeadKind.latest), ("safe", .safe), ("finalized", .finalized), ("earliest", .earliest)] {
                o[name] = try r.head(kind).map { .object(["number": .number(String($0.number)), "hash": .string($0.hash.hex)]) } ?? .null
            }
            return now(ok(.object(o)))
        case "blocks" where parts.count == 4:
            guard let n = try resolve(parts[3], r), let b = try r.view.block(chainId, number: n, fullTransactions: q["full"] == "true") else {
                return now(error(404, "block not found"))
            }
            return now(ok(b))
        case "txs" where parts.count == 4:
            guard let t = try r.view.transaction(chainId, hash: try Hash32(hex: parts[3])) else { return now(error(404, "transaction not found")) }
            return now(ok(t))
        case "receipts" where parts.count == 4:
            guard let t = try r.view.receipt(chainId, hash: try Hash32(hex: parts[3])) else { return now(error(404, "receipt not found")) }
            return now(ok(t))
        case "accounts" where parts.count == 4:
            let a = try Address(hex: parts[3].lowercased())
            guard let n = try stateBlock(q["block"], r) else { return now(notIndexed(q["block"])) }
            let balance = try r.read(.balance, of: a, at: n), nonce = try r.read(.nonce, of: a, at: n), code = try r.read(.code, of: a, at: n)
            return {
                ok(.object(["address": .string(a.hex), "block": .number(String(n)),
                            "balance": AccountField.balance.encode(try balance.answer()),
                            "nonce": AccountField.nonce.encode(try nonce.answer()),
                            "code": AccountField.code.encode(try code.answer())]))
            }
        case "storage" where parts.count == 5:
            let a = try Address(hex: parts[3].lowercased())
            let key = try Hex.decodeQuantityBytes(parts[4])
            let slot = try Hash32(Array(repeating: 0, count: 32 - min(32, key.count)) + key)
            guard let n = try stateBlock(q["block"], r) else { return now(notIndexed(q["block"])) }
            let value = try r.read(.storage(slot), of: a, at: n)
            return { ok(.string(try value.answer().hex)) }
        case "logs":
            return now(try logsPage(q, r))
        default:
            return now(error(404, "unknown chain resource \(path)"))
        }
    }

    func notIndexed(_ block: String?) -> HTTPResponse {
        error(404, "block \(block.map { boundedQuote($0) } ?? "latest") is not indexed (header not found)")
    }

    static let maxPage = 1000

    /// One page of logs in (block, logIndex) order. The cursor is the position of the
    /// next log ("block-logIndex"), so pages stay exact while new blocks arrive.
    func logsPage(_ q: [String: String], _ r: RequestView) throws -> HTTPResponse {
        guard let head = try r.head()?.number else { return ok(.object(["logs": .array([]), "nextCursor": .null])) }
        let from = try resolve(q["fromBlock"] ?? "earliest", r) ?? 0
        let to = min(try resolve(q["toBlock"] ?? "latest", r) ?? head, head)
        guard from <= to else { return error(400, "fromBlock \(from) is above toBlock \(to)") }
        guard let limit = Int(q["limit"] ?? "100"), (1...Self.maxPage).contains(limit) else { return error(400, "limit must be 1 to \(Self.maxPage)") }
        var start = (block: from, index: UInt32(0))
        if let c = q["cursor"] {
            let parts = c.split(separator: "-")
            guard parts.count == 2, let b = UInt64(parts[0]), let i = UInt32(parts[1]), b >= from else { return error(400, "cursor \(c) is not one this endpoint returned for this range") }
            start = (b, i)
        }
        var f = ChainIndex.LogFilter(fromBlock: start.block, toBlock: to)
        if let a = q["address"] { f.addresses = try a.split(separator: ",").map { try Address(hex: String($0).lowercased()) } }
        for i in 0..<4 {
            if let t = q["topic\(i)"] {
                while f.topics.count < i { f.topics.append(nil) }
                f.topics.append(try t.split(separator: ",").map { try Hash32(hex: String($0)) })
            }
        }
        var out = [JSONValue]()
        var window: UInt64 = 1000
        var lo = start.block
        while lo <= to && out.count <= limit {
            let hi = min(to, lo + window - 1)
            var g = f
            g.fromBlock = lo; g.toBlock = hi
            let logs: [JSONValue]
            do { logs = try r.view.logs(chainId, g, limit: 10_000) } catch is ChainIndex.TooManyResults where window > 1 {
                window = max(1, window / 10)
                continue
            }
            for l in logs {
                guard let o = l.objectValue, let b = try? o.quantity("blockNumber"), let i = try? o.quantity("logIndex") else { continue }
                if b == start.block && i < UInt64(start.index) { continue }
                out.append(l)
            }
            lo = hi + 1
        }
        var next: JSONValue = .null
        if out.count > limit, let o = out[limit].objectValue, let b = try? o.quantity("blockNumber"), let i = try? o.quantity("logIndex") {
            next = .string("\(b)-\(i)")
            out.removeLast(out.count - limit)
        }
        return ok(.object(["logs": .array(out), "nextCursor": next]))
    }
}
