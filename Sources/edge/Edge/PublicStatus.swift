import Foundation
import Chain
import Synchronization

/// When each chain's applied head last moved on this node, as seen by periodic samples
/// (`NodeAPI.sample`) and by every /status. A block's own timestamp says how old the data
/// is on a live chain; this says whether it still moves where timestamps are synthetic
/// (SimChain, devnets replaying history) or while a backfill applies old blocks.
final class HeadMovement: Sendable {
    private struct Seen { var number: UInt64; var sinceMillis: UInt64 }
    private let seen = Mutex([UInt64: Seen]())

    /// Records `heads` (chain → applied head number) at `nowMillis` and answers, per chain,
    /// the time its head last changed. A chain seen for the first time counts as moved now.
    func observe(_ heads: [UInt64: UInt64], nowMillis: UInt64) -> [UInt64: UInt64] {
        seen.withLock { s in
            for cid in s.keys where heads[cid] == nil { s[cid] = nil }
            var out = [UInt64: UInt64]()
            for (cid, number) in heads {
                if let old = s[cid], old.number == number {
                    out[cid] = old.sinceMillis
                } else {
                    s[cid] = Seen(number: number, sinceMillis: nowMillis)
                    out[cid] = nowMillis
                }
            }
            assert(out.count == heads.count, "an answer per chain observed")
            return out
        }
    }
}

/// The answer of `GET /status` without a credential, for a public status page: whether this
/// node and the cluster as it sees it are healthy, and how fresh each chain's data is.
/// Nothing of a tenant is in it: chains by their public chain id only (no slugs, owners,
/// upstreams or settings), no addresses, no request counts, no error texts.
struct PublicStatus: Equatable {
    struct Chain: Equatable {
        var chainId: UInt64
        var appliedHead: UInt64?
        /// The head block's own timestamp (seconds).
        var headTimestamp: UInt64?
        /// When the head last moved here (`HeadMovement`).
        var movedMillis: UInt64?
    }
    var nodeId: UInt64
    var clusterId: String
    var role: String
    var leaderId: UInt64
    var term: UInt64
    var commitIndex: UInt64
    var appliedIndex: UInt64
    var diskAlarm: Bool
    var corrupt: Bool
    var chains: [Chain]

    /// A chain whose head neither carries a timestamp this recent nor moved here this
    /// recently is stale.
    static let staleAfterSeconds: UInt64 = 60
    /// Applying this far behind the commit index is degraded service, not a moment's lag.
    static let applyBehindLimit: UInt64 = 1000

    enum Freshness: String { case fresh, stale, empty }

    static func freshness(_ c: Chain, nowMillis: UInt64) -> (Freshness, age: UInt64?) {
        guard c.appliedHead != nil else { return (.empty, nil) }
        let now = nowMillis / 1000
        let byTimestamp = c.headTimestamp.map { now > $0 ? now - $0 : 0 }
        let byMovement = c.movedMillis.map { nowMillis > $0 ? (nowMillis - $0) / 1000 : 0 }
        let age = [byTimestamp, byMovement].compactMap { $0 }.min()
        return (age.map { $0 <= staleAfterSeconds } ?? false ? .fresh : .stale, age)
    }

    func json(nowMillis: UInt64) -> JSONObject {
        var problems = [String]()
        var down = false, degraded = false
        if corrupt { problems.append("this node stopped: its replicated state failed a check"); down = true }
        if leaderId == 0 { problems.append("no leader known"); down = true }
        if diskAlarm { problems.append("this node's disk is full: it refuses writes"); degraded = true }
        if commitIndex > appliedIndex + Self.applyBehindLimit {
            problems.append("applying: \(commitIndex - appliedIndex) committed entries not applied yet"); degraded = true
        }
        var list = [JSONValue]()
        for c in chains {
            let (fresh, age) = Self.freshness(c, nowMillis: nowMillis)
            if fresh == .stale { problems.append("chain \(c.chainId): no new block for \(age.map(String.init) ?? "?") s"); degraded = true }
            var o = JSONObject()
            o["chainId"] = jsonNumber(c.chainId)
            o["appliedHead"] = c.appliedHead.map(jsonNumber) ?? .null
            o["headTimestamp"] = c.headTimestamp.map(jsonNumber) ?? .null
            o["headAgeSeconds"] = age.map(jsonNumber) ?? .null
            o["freshness"] = .string(fresh.rawValue)
            list.append(.object(o))
        }
        var o = JSONObject()
        o["status"] = .string(down ? "down" : degraded ? "degraded" : "ok")
        o["nodeId"] = jsonNumber(nodeId)
        o["clusterId"] = .string(clusterId)
        o["role"] = .string(role)
        o["leaderId"] = jsonNumber(leaderId)
        o["term"] = jsonNumber(term)
        o["commitIndex"] = jsonNumber(commitIndex)
        o["appliedIndex"] = jsonNumber(appliedIndex)
        o["problems"] = .array(problems.map { .string($0) })
        o["chains"] = .array(list)
        o["detail"] = .string("the detailed status needs Authorization: Bearer <metrics token, admin token or a cluster admin's token>")
        return o
    }
}
