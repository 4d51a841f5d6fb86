#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Foundation
import CEpoll

/// A single-threaded epoll loop. Everything registered on a loop — file-descriptor
/// handlers, timers, connections — is touched only on the loop's thread; other threads
/// hand work in with `execute`, which wakes the loop through an eventfd.
///
/// One loop serves thousands of connections: each idle connection costs one epoll
/// registration and its buffers, not a thread.
public final class EventLoop: @unchecked Sendable {
    public typealias Task = @Sendable () -> Void

    private let epfd: Int32
    private let wakeFd: Int32
    private var handlers: [Int32: (UInt32) -> Void] = [:]
    private let incoming = Mutex<[Task]>([])
    private var timers = TimerHeap()
    private var nextTimerId: UInt64 = 1
    private var cancelledTimers = Set<UInt64>()
    private let stopping = Atomic<Bool>(false)
    private let threadId = Mutex<pthread_t?>(nil)
    public let name: String

    public init(name: String = "loop") throws {
        self.name = name
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw SocketError("epoll_create1") }
        wakeFd = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard wakeFd >= 0 else { close(epfd); throw SocketError("eventfd") }
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.fd = wakeFd
        guard epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFd, &ev) == 0 else { throw SocketError("epoll_ctl(eventfd)") }
    }

    deinit {
        close(wakeFd)
        close(epfd)
    }

    /// True on the loop's own thread.
    public var inLoop: Bool {
        threadId.withLock { id in id.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inLoop, "\(name): called off the loop thread", file: file, line: line)
    }

    /// Runs `task` on the loop thread soon (thread-safe).
    public func execute(_ task: @escaping Task) {
        // Only the task that makes the queue non-empty wakes the loop: the loop takes the
        // whole queue at once, and checks it before it blocks, so later ones ride along
        // (under load most hand-ins then cost no syscall).
        let wasEmpty = incoming.withLock { q in
            q.append(task)
            return q.count == 1
        }
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFd, &one, 8)
        }
    }

    /// Runs `task` on the loop after `millis`; loop thread only. Returns an id for `cancelTimer`.
    @discardableResult
    public func schedule(afterMillis millis: Int, _ task: @escaping () -> Void) -> UInt64 {
        assertInLoop()
        let id = nextTimerId
        nextTimerId += 1
        timers.push(deadline: Self.nowMillis() + UInt64(max(0, millis)), id: id, task: task)
        return id
    }

    public func cancelTimer(_ id: UInt64) {
        assertInLoop()
        cancelledTimers.insert(id)
    }

    /// Watches fd for the given epoll events (EPOLLIN/EPOLLOUT…); loop thread only.
    public func register(fd: Int32, events: UInt32, handler: @escaping (UInt32) -> Void) throws(SocketError) {
        assertInLoop()
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = fd
        guard epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 else { throw SocketError("epoll_ctl(ADD)") }
        handlers[fd] = handler
    }

    public func modify(fd: Int32, events: UInt32) {
        assertInLoop()
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = fd
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
    }

    public func unregister(fd: Int32) {
        assertInLoop()
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
        handlers[fd] = nil
    }

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        threadId.withLock { $0 = pthread_self() }
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !stopping.load(ordering: .acquiring) {
            let timeout = nextTimeout()
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeout) }
            if n < 0 && errno != EINTR { break }
            if n > 0 {
                for i in 0..<Int(n) {
                    let fd = events[i].data.fd
                    if fd == wakeFd {
                        var v: UInt64 = 0
                        _ = read(wakeFd, &v, 8)
                        continue
                    }
                    handlers[fd]?(events[i].events)
                }
            }
            runTasks()
            runTimers()
        }
        runTasks()
        threadId.withLock { $0 = nil }
    }

    /// Starts `run()` on a new thread.
    public func start() {
        let t = Thread { [self] in self.run() }
        t.name = name
        t.start()
        // Wait until the loop thread is known, so inLoop checks are meaningful right away.
        while threadId.withLock({ $0 == nil }) { usleep(100) }
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        execute {}
    }

    private func runTasks() {
        let tasks = incoming.withLock { q -> [Task] in let t = q; q.removeAll(keepingCapacity: true); return t }
        for t in tasks { t() }
    }

    private func runTimers() {
        let now = Self.nowMillis()
        while let top = timers.peek, top.deadline <= now {
            let t = timers.pop()!
            if cancelledTimers.remove(t.id) != nil { continue }
            t.task()
        }
    }

    private func nextTimeout() -> Int32 {
        if incoming.withLock({ !$0.isEmpty }) { return 0 }
        guard let top = timers.peek else { return 1000 }
        let now = Self.nowMillis()
        return top.deadline <= now ? 0 : Int32(min(1000, top.deadline - now))
    }

    public static func nowMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    public static func nowMillis() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}

/// Binary min-heap of timers ordered by deadline, then id (so equal deadlines run in schedule order).
struct TimerHeap {
    struct Timer { let deadline: UInt64; let id: UInt64; let task: () -> Void }
    private var items: [Timer] = []

    var peek: Timer? { items.first }

    private func less(_ a: Int, _ b: Int) -> Bool {
        items[a].deadline != items[b].deadline ? items[a].deadline < items[b].deadline : items[a].id < items[b].id
    }

    mutating func push(deadline: UInt64, id: UInt64, task: @escaping () -> Void) {
        items.append(Timer(deadline: deadline, id: id, task: task))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !less(i, parent) { break }
            items.swapAt(i, parent); i = parent
        }
    }

    mutating func pop() -> Timer? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && less(l, m) { m = l }
            if r < items.count && less(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m); i = m
        }
        return top
    }
}
