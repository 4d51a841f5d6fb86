import Foundation

/// Threads for request handlers that may block (waiting for a commit, forwarding to the
/// leader, a long poll). GCD's pool caps blocked work at about 64 threads, which
/// serializes a server once that many clients wait at the same time; this pool grows on
/// demand up to `maxThreads` and keeps idle threads for reuse.
public final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var threads = 0
    private var idle = 0
    private var stopped = false
    public let maxThreads: Int
    public let name: String
    /// Stack of every worker thread. Handlers parse client input (JSON, GraphQL, RLP) whose
    /// nesting limits are sized to sit far inside this; it is virtual memory, only the pages a
    /// thread touches are committed. Tests run deep inputs on threads of exactly this size.
    public static let threadStackSize = 8 * 1024 * 1024

    public init(name: String, maxThreads: Int = 512) {
        precondition(maxThreads > 0)
        self.name = name
        self.maxThreads = maxThreads
    }

    public func submit(_ task: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(task)
        // Compare waiting tasks with idle threads, not "is any thread idle": a signalled
        // thread counts as idle until it wakes, and blocking tasks would otherwise pile up
        // behind the few threads that exist.
        let spawn = queue.count - head > idle && threads < maxThreads && !stopped
        if spawn { threads += 1 }
        condition.signal()
        condition.unlock()
        if spawn {
            let t = Thread { [self] in self.work() }
            t.name = name
            t.stackSize = Self.threadStackSize
            t.start()
        }
    }

    /// Lets queued tasks finish; threads exit once the queue is empty.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            while head == queue.count && !stopped {
                idle += 1
                condition.wait()
                idle -= 1
            }
            if head == queue.count && stopped { threads -= 1; condition.unlock(); return }
            let task = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
            condition.unlock()
            task()
            condition.lock()
        }
    }
}
