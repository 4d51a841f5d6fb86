import CLMDB
import Glibc
import Synchronization

/// One LMDB environment (a directory holding `data.mdb` and `lock.mdb`).
///
/// All access goes through scoped transactions: `read` and `write` commit when the
/// closure returns and abort when it throws. Read transactions may be opened from any
/// thread, concurrently, and never block the writer. Write transactions from different
/// threads run one at a time; a nested `write` on the same thread is refused with
/// `StorageError.nestedWriteTransaction`.
///
/// The map grows by itself: a write that runs out of space is aborted, the map is
/// enlarged once no transaction is active in this process, and the write closure runs
/// again from the start. Write closures must therefore keep side effects outside the
/// database idempotent, and must not swallow `StorageError`s thrown by the transaction.
/// Growth waits for every read transaction in the process to finish, so a thread must
/// not block on another thread's write while it holds a read transaction open.
public final class Environment: @unchecked Sendable {
    public let path: String
    public let options: Options
    let handle: OpaquePointer

    /// Shared by every transaction, exclusive for map resizing and close: LMDB permits
    /// `mdb_env_set_mapsize` and `mdb_env_close` only with no active transactions.
    private let lifecycle = ReadersWriterLock()
    /// Queues this process's writers before LMDB's writer lock, so a writer that must
    /// grow the map is never overtaken by another writer holding the shared lock.
    private let writerQueue = PThreadMutex()
    /// `pthread_self()` of the thread inside `write`, or 0; detects nested writes.
    private let writerThread = Atomic<UInt>(0)
    /// Transactions the current thread has open in this environment.
    private let openTransactions = ThreadLocalCounter()
    /// `mdb_dbi_open` must not run in concurrent transactions, so opening is serialized.
    private let tableOpening = PThreadMutex()
    private let tables = Mutex<[String: Table]>([:])
    /// Written only under the exclusive lifecycle lock, read under the shared one.
    private var isClosed = false

    /// Opens (creating if needed) the environment in directory `path`. The directory
    /// itself is created when missing; its parent must exist.
    public init(path: String, options: Options = Options()) throws(StorageError) {
        try options.validate()
        if !options.readOnly { try createDirectoryIfMissing(path) }
        var created: OpaquePointer?
        try check(mdb_env_create(&created), "mdb_env_create")
        guard let env = created else { throw .invalidArgument("mdb_env_create returned no environment") }
        do {
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize(\(options.mapSize))")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxTables)), "mdb_env_set_maxdbs(\(options.maxTables))")
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)), "mdb_env_set_maxreaders(\(options.maxReaders))")
            try check(mdb_env_open(env, path, options.environmentFlags, mdb_mode_t(options.fileMode)), "mdb_env_open(\(path))")
            // Reader slots of processes that died (e.g. SIGKILL) would otherwise pin old pages.
            var staleReaders: Int32 = 0
            try check(mdb_reader_check(env, &staleReaders), "mdb_reader_check")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.path = path
        self.options = options
        self.handle = env
    }

    /// Closes the environment after waiting for transactions on other threads to end.
    /// Later calls fail with `environmentClosed`. Must not be called inside a transaction.
    public func close() {
        precondition(openTransactions.value == 0, "Environment.close() called inside a transaction on the same environment")
        lifecycle.withExclusive {
            guard !isClosed else { return }
            isClosed = true
            mdb_env_close(handle)
        }
    }

    deinit {
        if !isClosed { mdb_env_close(handle) }
    }

    // MARK: Transactions

    /// Runs `body` in a read-only snapshot. Safe from any thread and nestable.
    @discardableResult
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        try adaptingToMapChanges(isWrite: false) {
            // Committing (not aborting) keeps table handles opened inside the snapshot.
            try scoped(ReadTransaction(handle: try beginTransaction(flags: UInt32(MDB_RDONLY))), "mdb_txn_commit(read)", body)
        }
    }

    /// Runs `body` in the write transaction; commits durably on return, aborts on throw.
    /// May run `body` more than once if the map has to grow (see the type's notes).
    @discardableResult
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        let thread = UInt(pthread_self())
        // Only this thread ever stores its own id, so a relaxed load suffices to detect nesting.
        guard writerThread.load(ordering: .relaxed) != thread else { throw StorageError.nestedWriteTransaction }
        return try writerQueue.withLock {
            writerThread.store(thread, ordering: .relaxed)
            defer { writerThread.store(0, ordering: .relaxed) }
            return try adaptingToMapChanges(isWrite: true) {
                try scoped(WriteTransaction(handle: try beginTransaction(flags: 0)), "mdb_txn_commit", body)
            }
        }
    }

    /// Flushes every committed transaction to disk (`mdb_env_sync` with force). With the
    /// `noSync` mode this is how a caller makes chosen commits durable: everything committed
    /// before the call is on disk when it returns.
    public func sync() throws(StorageError) {
        try check(mdb_env_sync(handle, 1), Self.syncOperation)
    }

    static let syncOperation = "mdb_env_sync"

    /// Runs `body` in `transaction`: commits on return, aborts on throw; the handle is
    /// unusable afterwards either way.
    private func scoped<T: ReadTransaction, R>(_ transaction: T, _ commitOperation: String, _ body: (T) throws -> R) throws -> R {
        let result: R
        do {
            result = try body(transaction)
        } catch {
            transaction.end()
            mdb_txn_abort(transaction.handle)
            throw error
        }
        transaction.end()
        try check(mdb_txn_commit(transaction.handle), commitOperation)
        return result
    }

    /// True when the calling thread is inside `write` on this environment.
    var isWriterThread: Bool { writerThread.load(ordering: .relaxed) == UInt(pthread_self()) }

    private func beginTransaction(flags: UInt32) throws(StorageError) -> OpaquePointer {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle, nil, flags, &txn), flags == 0 ? "mdb_txn_begin(write)" : "mdb_txn_begin(read)")
        guard let txn else { throw .invalidArgument("mdb_txn_begin returned no transaction") }
        return txn
    }

    /// Holds the shared lifecycle lock around `body`, taken once per thread however
    /// deeply transactions nest (the lock prefers writers, so re-taking it could deadlock).
    func withTransactionSlot<R>(_ body: () throws -> R) throws -> R {
        let outermost = openTransactions.value == 0
        if outermost { lifecycle.lockShared() }
        openTransactions.increment()
        defer {
            openTransactions.decrement()
            if outermost { lifecycle.unlock() }
        }
        guard !isClosed else { throw StorageError.environmentClosed }
        return try body()
    }

    /// Runs one transaction attempt; when it fails because the map is full (writes) or
    /// another process grew the map, resizes and runs the whole attempt again.
    private func adaptingToMapChanges<R>(isWrite: Bool, _ attempt: () throws -> R) throws -> R {
        while true {
            do {
                return try withTransactionSlot(attempt)
            } catch let error as StorageError where error.lmdbCode == MDB_MAP_RESIZED {
                try resizeMap { _ in 0 }  // 0 adopts the size another process chose
            } catch let error as StorageError where isWrite && error.isMapFull {
                try resizeMap(nextMapSize(after:))
            }
        }
    }

    private func nextMapSize(after current: Int) throws(StorageError) -> Int {
        guard current < options.maximumMapSize else { throw .mapSizeLimitReached(limit: options.maximumMapSize) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let grown = current + min(current, options.maximumGrowthStep)
        let rounded = (grown + pageSize - 1) / pageSize * pageSize
        return min(rounded, options.maximumMapSize)
    }

    private func resizeMap(_ newSize: (Int) throws(StorageError) -> Int) throws {
        // The calling thread's own open read transaction would make the exclusive lock wait forever.
        guard openTransactions.value == 0 else { throw StorageError.mapGrowthBlockedByOpenReadTransaction }
        try lifecycle.withExclusive {
            guard !isClosed else { throw StorageError.environmentClosed }
            let size = try newSize(try currentMapSize())
            try check(mdb_env_set_mapsize(handle, size), "mdb_env_set_mapsize(\(size))")
        }
    }

    private func currentMapSize() throws(StorageError) -> Int {
        var info = MDB_envinfo()
        try check(mdb_env_info(handle, &info), "mdb_env_info")
        return info.me_mapsize
    }

    // MARK: Tables

    /// The named table, opened once and cached. With `create`, a missing table is created.
    /// Uncached tables must be opened outside transactions (typically at start-up).
    public func table(_ name: String, create: Bool = true) throws -> Table {
        if let cached = tables.withLock({ $0[name] }) { return cached }
        guard openTransactions.value == 0 else {
            throw StorageError.invalidArgument("\(Table(name: name, dbi: 0)) must be opened before starting transactions on this thread")
        }
        return try tableOpening.withLock {
            if let cached = tables.withLock({ $0[name] }) { return cached }
            let open = { (txn: ReadTransaction) throws -> MDB_dbi in
                var dbi = MDB_dbi()
                let flags = create && !self.options.readOnly ? UInt32(MDB_CREATE) : 0
                try check(mdb_dbi_open(txn.handle, name, flags, &dbi), "mdb_dbi_open('\(name)')")
                return dbi
            }
            let dbi = create && !options.readOnly ? try write(open) : try read(open)
            let table = Table(name: name, dbi: dbi)
            tables.withLock { $0[name] = table }
            return table
        }
    }

    // MARK: Stats and backup

    public func stats() throws -> EnvironmentStats {
        try withTransactionSlot {
            var stat = MDB_stat()
            var info = MDB_envinfo()
            try check(mdb_env_stat(handle, &stat), "mdb_env_stat")
            try check(mdb_env_info(handle, &info), "mdb_env_info")
            return EnvironmentStats(
                mainDatabase: TableStats(stat),
                mapSize: info.me_mapsize,
                lastPageNumber: info.me_last_pgno,
                lastTransactionID: info.me_last_txnid,
                maxReaders: Int(info.me_maxreaders),
                readerSlotsUsed: Int(info.me_numreaders)
            )
        }
    }

    /// Writes a consistent copy of the live environment into directory `destination`
    /// (created if missing, must be empty) while readers and writers keep running.
    /// `compact` omits free pages and renumbers them (`MDB_CP_COMPACT`).
    public func backup(to destination: String, compact: Bool = true) throws {
        // A non-compacting copy takes LMDB's writer lock, which this thread would already hold.
        guard !isWriterThread else {
            throw StorageError.invalidArgument("backup cannot run inside a write transaction")
        }
        try createDirectoryIfMissing(destination)
        try withTransactionSlot {
            try check(mdb_env_copy2(handle, destination, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2(\(destination))")
        }
    }
}
