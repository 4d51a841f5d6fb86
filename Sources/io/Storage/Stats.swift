import CLMDB

/// Shape of one table's B+tree (`mdb_stat`).
public struct TableStats: Sendable, Equatable {
    public var entries: Int
    public var depth: Int
    public var branchPages: Int
    public var leafPages: Int
    public var overflowPages: Int
    public var pageSize: Int

    init(_ stat: MDB_stat) {
        entries = stat.ms_entries
        depth = Int(stat.ms_depth)
        branchPages = stat.ms_branch_pages
        leafPages = stat.ms_leaf_pages
        overflowPages = stat.ms_overflow_pages
        pageSize = Int(stat.ms_psize)
    }

    public var totalPages: Int { branchPages + leafPages + overflowPages }
}

/// Environment-wide figures (`mdb_env_stat` of the main database plus `mdb_env_info`).
public struct EnvironmentStats: Sendable, Equatable {
    /// The main database, whose entries are the named tables.
    public var mainDatabase: TableStats
    public var mapSize: Int
    public var lastPageNumber: Int
    public var lastTransactionID: Int
    public var maxReaders: Int
    /// Reader-table slots used so far (a high-water mark, not the number active now).
    public var readerSlotsUsed: Int

    /// Bytes of the map in use (pages up to the last allocated one).
    public var usedBytes: Int { (lastPageNumber + 1) * mainDatabase.pageSize }
}
