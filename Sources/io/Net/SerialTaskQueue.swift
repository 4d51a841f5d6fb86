import Synchronization

/// Runs tasks on a worker pool one at a time, in submission order. Gives each WebSocket
/// connection ordered, never-concurrent callbacks without a thread of its own: a connection
/// with nothing queued costs no worker.
final class SerialTaskQueue: Sendable {
    private struct State {
        var tasks: [@Sendable () -> Void] = []
        /// A worker is draining the queue; new tasks join its batch instead of starting another.
        var draining = false
    }

    private let workers: WorkerPool
    private let state = Mutex(State())

    init(workers: WorkerPool) { self.workers = workers }

    func enqueue(_ task: @escaping @Sendable () -> Void) {
        let startDrain = state.withLock { s -> Bool in
            s.tasks.append(task)
            if s.draining { return false }
            s.draining = true
            return true
        }
        if startDrain { workers.submit { [self] in drain() } }
    }

    private func drain() {
        while true {
            let batch = state.withLock { s -> [@Sendable () -> Void] in
                let batch = s.tasks
                s.tasks.removeAll()
                if batch.isEmpty { s.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            for task in batch { task() }
        }
    }
}
