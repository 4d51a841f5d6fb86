import ChainFollower
import ChainIndex
import Foundation
import Telemetry

/// Each chain's indexer and applied head on the registry, labelled by chain id, read at
/// each snapshot from what the indexers already publish and from the index: the ingest
/// loop pays nothing for them. The indexer series come from the node that runs the
/// indexers (the leader; elsewhere they stand still); the applied head and its age come
/// from every node's own copy, so follower freshness is visible too.
enum ChainMetrics {
    /// Chains a cluster serves; past this, series fold into the overflow value.
    static let maxChains = 64

    static func register(served: @escaping @Sendable () -> [ServedChain], index: ChainIndex, in registry: MetricsRegistry) {
        let chain = MetricLabel.firstSeen("chain", max: maxChains)
        let indexers: @Sendable () -> [(chainId: UInt64, status: Indexer.Status)] = { served().compactMap { c in c.indexer.map { (chainId: c.chainId, status: $0) } } }
        func each(_ name: String, _ help: String, _ kind: MetricKind, _ value: @escaping @Sendable (Indexer.Status) -> MetricValue?) {
            registry.collect(name, help: help, kind: kind, labels: [chain]) {
                indexers().compactMap { c in value(c.status).map { MetricSeries(labels: [String(c.chainId)], value: $0) } }
            }
        }
        registry.collect("indexer_state", help: "1 for the state each chain's indexer is in", kind: .gauge,
                         labels: [chain, .allowed("state", IndexerState.Kind.self)]) {
            indexers().flatMap { c in
                IndexerState.Kind.allCases.map { MetricSeries(labels: [String(c.chainId), $0.rawValue], value: .gauge($0 == c.status.state.kind ? 1 : 0)) }
            }
        }
        each("indexer_blocks_indexed_total", "Blocks proposed and applied by this node's indexer since start", .counter) { .counter($0.blocksIndexed) }
        each("indexer_transactions_indexed_total", "Transactions in those blocks", .counter) { .counter($0.transactionsIndexed) }
        each("indexer_reorgs_total", "Rewinds proposed and applied since start", .counter) { .counter(UInt64($0.reorgs)) }
        each("indexer_reorg_depth_blocks", "Blocks undone per rewind", .histogram) { .histogram($0.reorgDepths) }
        each("indexer_refused_blocks_total", "Upstream blocks that failed verification", .counter) { .counter(UInt64($0.refusedBlocks)) }
        each("indexer_upstream_head", "The upstream's latest block number", .gauge) { $0.upstreamHead.map { .gauge(Int64(clamping: $0)) } }
        each("indexer_indexed_head", "The newest block indexed", .gauge) { $0.indexedHead.map { .gauge(Int64(clamping: $0)) } }
        each("indexer_lag_blocks", "Blocks the index is behind the upstream", .gauge) { $0.lagBlocks.map { .gauge(Int64(clamping: $0)) } }
        each("indexer_lag_seconds", "Age of the newest indexed block's timestamp when it was indexed", .gauge) { $0.lagSeconds.map { .realGauge($0) } }
        // Per upstream: scheme, host and port only (never a path, key or userinfo), at most a few per chain.
        registry.collect("indexer_upstream_errors_total", help: "Failed upstream calls (transport errors, bad answers, refusals, rate limits)",
                         kind: .counter, labels: [chain, .firstSeen("upstream", max: 4 * maxChains)]) {
            indexers().flatMap { c in c.status.upstreams.map { MetricSeries(labels: [String(c.chainId), $0.url], value: .counter(UInt64($0.errors))) } }
        }
        registry.collect("indexer_upstream_rate_limited_total", help: "Upstream answers that said slow down",
                         kind: .counter, labels: [chain, .firstSeen("upstream", max: 4 * maxChains)]) {
            indexers().flatMap { c in c.status.upstreams.map { MetricSeries(labels: [String(c.chainId), $0.url], value: .counter(UInt64($0.rateLimited))) } }
        }
        let heads: @Sendable () -> [(key: UInt64, value: (number: UInt64, timestamp: UInt64?))] = { ServedChain.appliedHeads(served().map(\.chainId), index).sorted { $0.key < $1.key } }
        registry.collect("chain_applied_head", help: "The newest block of each chain applied on this node", kind: .gauge, labels: [chain]) {
            heads().map { MetricSeries(labels: [String($0.key)], value: .gauge(Int64(clamping: $0.value.number))) }
        }
        registry.collect("chain_applied_head_timestamp_seconds", help: "That block's timestamp (time() minus this is the data's age on this node)",
                         kind: .gauge, labels: [chain]) {
            heads().compactMap { h in h.value.timestamp.map { MetricSeries(labels: [String(h.key)], value: .gauge(Int64(clamping: $0))) } }
        }
    }
}
