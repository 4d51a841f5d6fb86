import Glibc

/// Lets an event loop answer a cheap request itself, without the two thread hand-offs a
/// worker costs (loop → worker → loop), and still never block the loop: whatever could
/// block (an outbound HTTP call, a wait for Raft) calls `mayBlock()` first. Off an attempt
/// that returns at once; inside one it marks the attempt abandoned and throws, and the
/// caller runs the request again where blocking is allowed. Whatever the attempt answered
/// after that point is discarded, so the error it threw never reaches a client.
public enum InlineAttempt {
    /// Thrown by `mayBlock()` inside an attempt.
    public struct WouldBlock: Error, CustomStringConvertible {
        public var description: String { "this work would block an event loop; it is run again on a worker" }
    }

    /// Per thread: 0 outside an attempt, 1 inside, 2 inside and abandoned.
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return k
    }()

    private static var state: Int {
        get { Int(bitPattern: pthread_getspecific(key)) }
        set { pthread_setspecific(key, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// `body`'s result, or nil when it tried to block (then run it again elsewhere).
    public static func run<T>(_ body: () -> T) -> T? {
        precondition(state == 0, "inline attempts do not nest")
        state = 1
        defer { state = 0 }
        let result = body()
        precondition(state != 0, "the attempt's marker was cleared while it ran")
        return state == 2 ? nil : result
    }

    /// Throws inside an attempt (which is then abandoned); returns at once elsewhere.
    public static func mayBlock() throws {
        let s = state
        guard s != 0 else { return }
        state = 2
        throw WouldBlock()
    }

    /// True inside an attempt that has been abandoned: its side effects (counters) should
    /// not be recorded, since the request runs again.
    public static var abandoned: Bool { state == 2 }
}
