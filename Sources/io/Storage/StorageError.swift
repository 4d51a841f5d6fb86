import CLMDB
import Glibc

/// Every failure the storage layer reports. LMDB failures keep LMDB's own message
/// (`mdb_strerror`) and the operation that failed, so a log line alone names the problem.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An LMDB call returned a non-zero code.
    case lmdb(operation: String, code: Int32, message: String)
    /// A file-system call made on LMDB's behalf (creating directories) failed with `errno`.
    case system(operation: String, code: Int32, message: String)
    /// `write` was called on a thread that is already inside a write transaction.
    /// LMDB would block forever on its own writer lock, so the call is refused instead.
    case nestedWriteTransaction
    /// The map is full and cannot grow because the calling thread still holds a read
    /// transaction (resizing requires that no transaction is active in this process).
    case mapGrowthBlockedByOpenReadTransaction
    /// Growing the map further would exceed `Environment.Options.maximumMapSize`.
    case mapSizeLimitReached(limit: Int)
    /// The environment was closed before this call.
    case environmentClosed
    /// A caller-supplied argument cannot be used, with the reason.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .lmdb(operation, code, message):
            return "LMDB \(operation) failed: \(message) (code \(code))"
        case let .system(operation, code, message):
            return "\(operation) failed: \(message) (errno \(code))"
        case .nestedWriteTransaction:
            return "a write transaction is already open on this thread; nested write transactions would deadlock and are refused"
        case .mapGrowthBlockedByOpenReadTransaction:
            return "the LMDB map is full and cannot grow while this thread holds a read transaction; finish the read before writing"
        case let .mapSizeLimitReached(limit):
            return "the LMDB map is full and may not grow beyond the configured maximum of \(limit) bytes"
        case .environmentClosed:
            return "the LMDB environment is closed"
        case let .invalidArgument(reason):
            return "invalid argument: \(reason)"
        }
    }

    /// The LMDB return code, when this error came from LMDB.
    public var lmdbCode: Int32? {
        if case let .lmdb(_, code, _) = self { return code }
        return nil
    }

    /// True when the write ran out of map space (`MDB_MAP_FULL`), the trigger for growth.
    public var isMapFull: Bool { lmdbCode == MDB_MAP_FULL }

    /// True when forcing written data to disk failed. Unlike a refused write this is not
    /// retryable: after a failed fsync the kernel may have dropped the pages, so nothing
    /// written since the last good sync can be trusted (PostgreSQL's and etcd's rule).
    public var isSyncFailure: Bool {
        if case let .lmdb(operation, _, _) = self { return operation == Environment.syncOperation }
        return false
    }

    /// True when the disk refused a write — no space (ENOSPC, EDQUOT, EFBIG), a failing
    /// device (EIO), or a map that may not grow — rather than a defect in the caller.
    /// The transaction was aborted whole, so what was committed before is intact and the
    /// same write may succeed once space returns.
    public var isDiskRefusal: Bool {
        switch self {
        case .mapSizeLimitReached: return true
        case let .lmdb(_, code, _), let .system(_, code, _):
            return code == MDB_MAP_FULL || code == ENOSPC || code == EDQUOT || code == EFBIG || code == EIO
        default: return false
        }
    }
}

/// Converts an LMDB return code into a thrown `StorageError` naming `operation`.
@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(StorageError) {
    guard code != 0 else { return }
    throw lmdbError(code, operation())
}

/// Creates directory `path` unless it already exists; LMDB expects it to be there.
func createDirectoryIfMissing(_ path: String) throws(StorageError) {
    guard mkdir(path, 0o755) != 0, errno != EEXIST else { return }
    let code = errno
    throw .system(operation: "mkdir(\(path))", code: code, message: String(cString: strerror(code)))
}

func lmdbError(_ code: Int32, _ operation: String) -> StorageError {
    .lmdb(operation: operation, code: code, message: String(cString: mdb_strerror(code)))
}
