import ChainIndex

/// One chain of the replicated registry as this node runs it: the record, its indexer's
/// status when one runs here, and why none runs when that is a problem (settings this
/// node cannot use, a clash with the config file's fixed chain).
public struct ChainRunStatus: Sendable {
    public var record: ChainRecord
    public var indexer: Indexer.Status?
    public var problem: String?
    public init(record: ChainRecord, indexer: Indexer.Status?, problem: String?) {
        self.record = record; self.indexer = indexer; self.problem = problem
    }
}
