import Chain
import Foundation
import Index
import Net

/// Read-only REST over the chain index under /v1/chain/… (the JSON-RPC and GraphQL
/// surfaces come with the read API). Answers come from this node's own LMDB.
struct ChainAPI: Sendable {
    let index: ChainIndex
    let chainId: UInt64

    func error(_ status: Int, _ message: String) -> HTTPResponse { jsonError(status, message) }

    func ok(_ v: JSONValue) -> HTTPResponse { .json(JSON.serialize(v) + "\n") }

    /// Block number from a path segment or ?block= value: a decimal or 0x number, a tag, or a 32-byte hash.
    func resolve(_ text: String?) throws -> UInt64? {
        let t = text ?? "latest"
        if let kind = ["latest": HeadKind.latest, "safe": .safe, "finalized": .finalized, "earliest": .earliest, "pending": .latest][t] {
            return try index.head(chainId, kind)?.number
        }
        if t.hasPrefix("0x") && t.count == 66 { return try index.blockNumber(chainId, hash: try Hash32(hex: t)) }
        if t.hasPrefix("0x") { return try Hex.decodeQuantity(t) }
        guard let n = UInt64(t) else { throw FieldError(field: "block", problem: "\(t) is not a block number, hash or tag") }
        return n
    }

    func handle(_ req: HTTPRequest) -> HTTPResponse? {
        guard req.method == "GET", req.path.hasPrefix("/v1/chain") else { return nil }
        let parts = req.path.split(separator: "/").map(String.init)   // ["v1", "chain", ...]
        let q = req.query
        do {
            switch parts.dropFirst(2).first {
            case "head":
                var o = JSONObject()
                o["chainId"] = .number(String(chainId))
                for (name, kind) in [("latest", HeadKind.latest), ("safe", .safe), ("finalized", .finalized), ("earliest", .earliest)] {
                    o[name] = try index.head(chainId, kind).map { .object(["number": .number(String($0.number)), "hash": .string($0.hash.hex)]) } ?? .null
                }
                return ok(.object(o))
            case "blocks" where parts.count == 4:
                guard let n = try resolve(parts[3]), let b = try index.block(chainId, number: n, fullTransactions: q["full"] == "true") else { return error(404, "block not found") }
                return ok(b)
            case "txs" where parts.count == 4:
                guard let t = try index.transaction(chainId, hash: try Hash32(hex: parts[3])) else { return error(404, "transaction not found") }
                return ok(t)
            case "receipts" where parts.count == 4:
                guard let r = try index.receipt(chainId, hash: try Hash32(hex: parts[3])) else { return error(404, "receipt not found") }
                return ok(r)
            case "accounts" where parts.count == 4:
                let a = try Address(hex: parts[3].lowercased())
                guard let n = try resolve(q["block"]) else { return error(404, "block not indexed") }
                return ok(.object(["address": .string(a.hex), "block": .number(String(n)),
                                   "balance": .string(try index.balance(chainId, a, at: n).quantity),
                                   "nonce": .string(Hex.encodeQuantity(try index.nonce(chainId, a, at: n))),
                                   "code": .string(Hex.encode(try index.code(chainId, a, at: n)))]))
            case "storage" where parts.count == 5:
                let a = try Address(hex: parts[3].lowercased())
                let slot = try Hash32(Array(repeating: 0, count: 32 - min(32, (try Hex.decodeQuantityBytes(parts[4])).count)) + (try Hex.decodeQuantityBytes(parts[4])))
                guard let n = try resolve(q["block"]) else { return error(404, "block not indexed") }
                return ok(.string(try index.storage(chainId, a, slot: slot, at: n).hex))
            case "logs":
                let from = try resolve(q["fromBlock"] ?? "earliest") ?? 0
                let to = try resolve(q["toBlock"] ?? "latest") ?? 0
                var f = ChainIndex.LogFilter(fromBlock: from, toBlock: to)
                if let a = q["address"] { f.addresses = try a.split(separator: ",").map { try Address(hex: String($0).lowercased()) } }
                for i in 0..<4 {
                    if let t = q["topic\(i)"] {
                        while f.topics.count < i { f.topics.append(nil) }
                        f.topics.append(try t.split(separator: ",").map { try Hash32(hex: String($0)) })
                    }
                }
                return ok(.array(try index.logs(chainId, f, limit: Int(q["limit"] ?? "10000") ?? 10_000)))
            default:
                return error(404, "unknown chain resource \(req.path)")
            }
        } catch let e as ChainIndex.TooManyResults {
            return error(413, "\(e.description); narrow the block range or add address/topic filters")
        } catch let e as HexError {
            return error(400, e.description)
        } catch let e as AddressError {
            return error(400, e.description)
        } catch let e as FieldError {
            return error(400, e.description)
        } catch {
            return self.error(500, "\(error)")
        }
    }
}
