import Glibc

/// A pthread readers/writers lock. Every transaction holds it shared; resizing the map
/// and closing the environment hold it exclusively, because LMDB allows both only when
/// no transaction is active in the process.
///
/// Writers are preferred so a steady stream of readers cannot starve map growth. That
/// makes recursive shared acquisition unsafe, so callers track per-thread ownership
/// (`ThreadLocalCounter`) and acquire the shared side only once per thread.
final class ReadersWriterLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        let rc = pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func lockShared() {
        let rc = pthread_rwlock_rdlock(lock)
        precondition(rc == 0, "pthread_rwlock_rdlock failed: \(rc)")
    }

    func lockExclusive() {
        let rc = pthread_rwlock_wrlock(lock)
        precondition(rc == 0, "pthread_rwlock_wrlock failed: \(rc)")
    }

    func unlock() {
        let rc = pthread_rwlock_unlock(lock)
        precondition(rc == 0, "pthread_rwlock_unlock failed: \(rc)")
    }

    func withExclusive<R>(_ body: () throws -> R) rethrows -> R {
        lockExclusive()
        defer { unlock() }
        return try body()
    }
}
