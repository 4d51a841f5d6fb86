import Glibc

/// A per-thread counter (one per environment) recording how many transactions the
/// current thread has open, so nested transactions skip re-taking the shared lock and
/// map growth can tell when the calling thread itself would block it.
final class ThreadLocalCounter: @unchecked Sendable {
    private var key = pthread_key_t()

    init() {
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc) (too many open environments?)")
    }

    deinit { pthread_key_delete(key) }

    /// The count is stored in the pointer value itself, so nothing needs freeing at thread exit.
    var value: Int {
        Int(bitPattern: pthread_getspecific(key))
    }

    func increment() { set(value + 1) }

    func decrement() {
        let current = value
        precondition(current > 0, "transaction counter underflow")
        set(current - 1)
    }

    private func set(_ newValue: Int) {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: newValue))
    }
}
