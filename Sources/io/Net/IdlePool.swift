import Foundation

/// Kept-alive clients waiting for reuse, by key (a URL, an upstream set), so callers do
/// not pay a connect per request. A client is used by one thread at a time: `take` hands
/// it out, `giveBack` returns it, and a full pool lets extra clients go.
public final class IdlePool<Client>: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [String: [Client]] = [:]
    public let capacityPerKey: Int

    public init(capacityPerKey: Int) {
        precondition(capacityPerKey > 0, "a pool holds at least one client per key")
        self.capacityPerKey = capacityPerKey
    }

    /// An idle client for `key`, or a new one from `make`.
    public func take(_ key: String, make: () throws -> Client) rethrows -> Client {
        lock.lock()
        if let client = idle[key]?.popLast() { lock.unlock(); return client }
        lock.unlock()
        return try make()
    }

    public func giveBack(_ client: Client, _ key: String) {
        lock.lock()
        defer { lock.unlock() }
        if idle[key, default: []].count < capacityPerKey { idle[key, default: []].append(client) }
        assert(idle[key]!.count <= capacityPerKey, "pool over capacity")
    }
}
