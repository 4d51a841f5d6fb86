import Chain
import Foundation
import ChainIndex

/// Cursor pagination (extension): `blocksPage` and `logsPage`. A cursor names the last
/// item a page returned, so the next page resumes strictly after it whatever arrived in
/// between; it is base64 text so clients treat it as opaque.
enum Pagination {
    static func cursor(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    static func decode(_ cursor: String, prefix: String) throws -> [UInt64] {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8), text.hasPrefix(prefix + ":") else {
            throw FieldFailure("invalid cursor \(GraphQLText.quoted(cursor))")
        }
        let parts = text.dropFirst(prefix.count + 1).split(separator: ":").map { UInt64($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw FieldFailure("invalid cursor \(GraphQLText.quoted(cursor))") }
        return parts.compactMap { $0 }
    }

    static func pageSize(_ first: Int, _ ctx: EthereumContext) throws -> Int {
        guard first >= 0 else { throw FieldFailure("first must not be negative") }
        guard first <= ctx.limits.maxPageSize else { throw FieldFailure("first may be at most \(ctx.limits.maxPageSize)") }
        return first
    }

    static func blocks(_ ctx: EthereumContext, first: Int, after: String?) throws -> Resolved {
        let size = try pageSize(first, ctx)
        guard let latest = try ctx.latest(), let earliest = try ctx.earliest() else {
            return .object(Connection(typeName: "BlockConnection", edgeType: "BlockEdge", items: [], hasNextPage: false))
        }
        var start = earliest
        if let after { start = max(start, try decode(after, prefix: "block")[0] &+ 1) }
        var items = [(String, any ObjectValue)]()
        var n = start
        while items.count < size && n <= latest && n >= start {
            items.append((cursor("block:\(n)"), BlockValue(ctx: ctx, number: n)))
            n &+= 1
        }
        let hasNext = n <= latest && n >= start
        return .object(Connection(typeName: "BlockConnection", edgeType: "BlockEdge", items: items, hasNextPage: hasNext))
    }

    /// Scans the filter's range in windows (narrowed when a window holds more logs than the
    /// index returns at once) until one more log than the page needs is found.
    static func logs(_ ctx: EthereumContext, filter: JSONObject, first: Int, after: String?) throws -> Resolved {
        let size = try pageSize(first, ctx)
        guard let latest = try ctx.latest() else {
            return .object(Connection(typeName: "LogConnection", edgeType: "LogEdge", items: [], hasNextPage: false))
        }
        let from = filter.uint64("fromBlock") ?? latest, to = filter.uint64("toBlock") ?? latest
        var position: (block: UInt64, index: UInt64)? = nil
        if let after {
            let p = try decode(after, prefix: "log")
            guard p.count == 2 else { throw FieldFailure("invalid cursor \(GraphQLText.quoted(after))") }
            position = (p[0], p[1])
        }
        var found = [JSONObject]()
        var cur = max(from, position?.block ?? from)
        var window: UInt64 = 1024
        while found.count <= size && cur <= to {
            let end = cur > UInt64.max - (window - 1) ? to : min(to, cur + (window - 1))
            let batch: [JSONValue]
            do {
                batch = try ctx.request.view.logs(ctx.chainId, EthereumContext.filter(filter, from: cur, to: end), limit: ctx.limits.maxLogs)
            } catch is ChainIndex.TooManyResults {
                guard window > 1 else { throw FieldFailure("block \(cur) has more than \(ctx.limits.maxLogs) matching logs") }
                window /= 2
                continue
            }
            for v in batch {
                guard let log = v.objectValue, let b = log.number("blockNumber"), let i = log.number("logIndex") else { continue }
                if let p = position, (b, i) <= (p.block, p.index) { continue }
                found.append(log)
            }
            if end == to { break }
            cur = end + 1
        }
        let page = found.prefix(size).map { log -> (String, any ObjectValue) in
            (cursor("log:\(log.number("blockNumber") ?? 0):\(log.number("logIndex") ?? 0)"), LogValue(ctx: ctx, log: log))
        }
        return .object(Connection(typeName: "LogConnection", edgeType: "LogEdge", items: page, hasNextPage: found.count > size))
    }
}

/// `BlockConnection` / `LogConnection`.
struct Connection: ObjectValue {
    let typeName: String
    let edgeType: String
    let items: [(String, any ObjectValue)]
    let hasNextPage: Bool

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "edges": return .list(items.map { .object(Edge(typeName: edgeType, cursor: $0.0, node: $0.1)) })
        case "nodes": return .list(items.map { .object($0.1) })
        case "pageInfo": return .object(PageInfo(hasNextPage: hasNextPage, endCursor: items.last?.0))
        default: return .null
        }
    }
}

struct Edge: ObjectValue {
    let typeName: String
    let cursor: String
    let node: any ObjectValue
    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "cursor": return .string(cursor)
        case "node": return .object(node)
        default: return .null
        }
    }
}

struct PageInfo: ObjectValue {
    let hasNextPage: Bool
    let endCursor: String?
    var typeName: String { "PageInfo" }
    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "hasNextPage": return .bool(hasNextPage)
        case "endCursor": return .string(endCursor)
        default: return .null
        }
    }
}

/// `BlockStats` (extension): totals over the indexed part of a block range.
struct BlockStatsValue: ObjectValue {
    var blockCount: UInt64 = 0
    var transactionCount: UInt64 = 0
    var gasUsed = U256.zero
    var logCount: UInt64 = 0
    var typeName: String { "BlockStats" }

    static func compute(_ ctx: EthereumContext, from: UInt64, to: UInt64) throws -> Resolved {
        guard from <= to else { throw FieldFailure("from \(from) is after to \(to)") }
        var s = BlockStatsValue()
        guard let latest = try ctx.latest(), let earliest = try ctx.earliest() else { return .object(s) }
        let lo = max(from, earliest), hi = min(to, latest)
        guard lo <= hi else { return .object(s) }
        for n in lo...hi {
            guard let b = try ctx.request.view.block(ctx.chainId, number: n, fullTransactions: false)?.objectValue else { continue }
            s.blockCount += 1
            s.transactionCount += UInt64(b["transactions"]?.arrayValue?.count ?? 0)
            if let g = b.number("gasUsed") { s.gasUsed += U256(g) }
            for r in try ctx.request.view.receipts(ctx.chainId, block: n) ?? [] { s.logCount += UInt64(r["logs"]?.arrayValue?.count ?? 0) }
        }
        return .object(s)
    }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "blockCount": return .int(blockCount)
        case "transactionCount": return .int(transactionCount)
        case "gasUsed": return .leaf(.string(gasUsed.quantity))
        case "logCount": return .int(logCount)
        default: return .null
        }
    }
}
