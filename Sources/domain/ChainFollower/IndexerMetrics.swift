import Telemetry

extension Indexer {
    /// The indexer's progress on `registry`, read from its published status at each snapshot,
    /// so the ingest loop pays nothing for it.
    public func registerMetrics(in registry: MetricsRegistry) {
        registry.collect("indexer_state", help: "1 for the state the indexer is in", kind: .gauge,
                         labels: [.allowed("state", IndexerState.Kind.self)]) { [weak self] in
            guard let kind = self?.status.state.kind else { return [] }
            return IndexerState.Kind.allCases.map { MetricSeries(labels: [$0.rawValue], value: .gauge($0 == kind ? 1 : 0)) }
        }
        func collect(_ name: String, _ help: String, _ kind: MetricKind, _ value: @escaping @Sendable (Status) -> MetricValue?) {
            registry.collect(name, help: help, kind: kind, labels: []) { [weak self] in
                guard let s = self?.status, let v = value(s) else { return [] }
                return [MetricSeries(value: v)]
            }
        }
        collect("indexer_blocks_indexed_total", "Blocks proposed and applied since start", .counter) { .counter($0.blocksIndexed) }
        collect("indexer_reorgs_total", "Rewinds proposed and applied since start", .counter) { .counter(UInt64($0.reorgs)) }
        collect("indexer_refused_blocks_total", "Upstream blocks that failed verification", .counter) { .counter(UInt64($0.refusedBlocks)) }
        collect("indexer_upstream_head", "The upstream's latest block number", .gauge) { $0.upstreamHead.map { .gauge(Int64(clamping: $0)) } }
        collect("indexer_indexed_head", "The newest block indexed", .gauge) { $0.indexedHead.map { .gauge(Int64(clamping: $0)) } }
        collect("indexer_lag_blocks", "Blocks the index is behind the upstream", .gauge) { $0.lagBlocks.map { .gauge(Int64(clamping: $0)) } }
    }
}
