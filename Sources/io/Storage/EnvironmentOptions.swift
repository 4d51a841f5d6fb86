import CLMDB

extension Environment {
    /// Modes that trade crash safety for write speed. None is enabled unless a caller
    /// names it: with any of them a power loss (not a process crash) can lose or, with
    /// `writeMap` + `mapAsync`, corrupt recently committed transactions.
    public struct UnsafeModes: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Do not fsync on commit (`MDB_NOSYNC`).
        public static let noSync = UnsafeModes(rawValue: UInt32(MDB_NOSYNC))
        /// fsync data but not the meta page on commit (`MDB_NOMETASYNC`).
        public static let noMetaSync = UnsafeModes(rawValue: UInt32(MDB_NOMETASYNC))
        /// Write through a writable memory map (`MDB_WRITEMAP`); stray pointer writes can corrupt the file.
        public static let writeMap = UnsafeModes(rawValue: UInt32(MDB_WRITEMAP))
        /// With `writeMap`, flush asynchronously (`MDB_MAPASYNC`).
        public static let mapAsync = UnsafeModes(rawValue: UInt32(MDB_MAPASYNC))
    }

    /// How an environment is opened. Defaults are durable and safe.
    public struct Options: Sendable {
        /// Initial map size in bytes. The map grows on demand, so this only sets where growth starts.
        public var mapSize: Int = 64 << 20
        /// Growth never exceeds this many bytes; a write that would need more fails with `mapSizeLimitReached`.
        public var maximumMapSize: Int = 1 << 40
        /// The map doubles on growth, but by at most this many bytes at a time.
        public var maximumGrowthStep: Int = 1 << 30
        /// Maximum number of named tables (`mdb_env_set_maxdbs`).
        public var maxTables: Int = 64
        /// Maximum number of simultaneous read transactions across all processes (`mdb_env_set_maxreaders`).
        public var maxReaders: Int = 256
        /// Open without write access; `write` then fails with LMDB's `EACCES`.
        public var readOnly: Bool = false
        /// Disable OS read-ahead (`MDB_NORDAHEAD`); helps random reads when the data exceeds RAM.
        public var noReadAhead: Bool = false
        /// Unsafe durability trade-offs; empty (fully durable) by default.
        public var unsafeModes: UnsafeModes = []
        /// Permissions for newly created data and lock files.
        public var fileMode: UInt32 = 0o644

        public init() {}

        /// The `mdb_env_open` flags these options stand for. `MDB_NOTLS` is always set
        /// so read transactions are not tied to the thread that began them.
        var environmentFlags: UInt32 {
            var flags = UInt32(MDB_NOTLS) | unsafeModes.rawValue
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            if noReadAhead { flags |= UInt32(MDB_NORDAHEAD) }
            return flags
        }

        func validate() throws(StorageError) {
            guard mapSize > 0 else { throw .invalidArgument("mapSize must be positive, got \(mapSize)") }
            guard maximumMapSize >= mapSize else {
                throw .invalidArgument("maximumMapSize (\(maximumMapSize)) is smaller than mapSize (\(mapSize))")
            }
            guard maximumGrowthStep > 0 else { throw .invalidArgument("maximumGrowthStep must be positive") }
            guard maxTables >= 0, maxTables <= Int(UInt32.max) else { throw .invalidArgument("maxTables out of range: \(maxTables)") }
            guard maxReaders > 0, maxReaders <= Int(UInt32.max) else { throw .invalidArgument("maxReaders out of range: \(maxReaders)") }
            if unsafeModes.contains(.mapAsync) && !unsafeModes.contains(.writeMap) {
                throw .invalidArgument("unsafe mode mapAsync only has an effect together with writeMap")
            }
        }
    }
}
