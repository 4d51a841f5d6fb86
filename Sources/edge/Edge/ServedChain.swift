import ChainFollower
import ChainIndex

/// A chain this node serves: the config file's `chain` first, then the registry's, each
/// once, with the status its indexer publishes where one runs here. The metrics and the
/// dashboard list chains the same way through it.
struct ServedChain: Sendable {
    let chainId: UInt64
    /// Empty for the config file's chain, which has no registry record.
    let slug: String
    let indexer: Indexer.Status?
    let startBlock: UInt64

    static func all(fixed: Indexer.Config?, fixedStatus: Indexer.Status?, registry: [ChainRunStatus]) -> [ServedChain] {
        var list = fixed.map { [ServedChain(chainId: $0.chainId, slug: "", indexer: fixedStatus, startBlock: $0.startBlock)] } ?? []
        for run in registry where !list.contains(where: { $0.chainId == run.record.spec.chainId }) {
            list.append(ServedChain(chainId: run.record.spec.chainId, slug: run.record.spec.slug, indexer: run.indexer, startBlock: 0))
        }
        assert(Set(list.map(\.chainId)).count == list.count, "each chain once")
        return list
    }

    /// Each chain's applied head and that block's timestamp, from one snapshot of the index;
    /// chains without a head are absent.
    static func appliedHeads(_ ids: [UInt64], _ index: ChainIndex) -> [UInt64: (number: UInt64, timestamp: UInt64?)] {
        (try? index.view { v in
            try ids.reduce(into: [UInt64: (number: UInt64, timestamp: UInt64?)]()) { out, cid in
                guard let h = try v.head(cid) else { return }
                out[cid] = (h.number, try v.blockTimestamp(cid, number: h.number))
            }
        }) ?? [:]
    }
}
