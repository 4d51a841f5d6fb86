import Chain
import Synchronization

/// Per-method call and error counts for /status, so an operator sees what clients ask
/// and what fails without reading logs.
public final class RPCStats: Sendable {
    struct Counts: Sendable { var calls: UInt64 = 0; var errors: UInt64 = 0 }
    private let byMethod = Mutex<[String: Counts]>([:])
    /// Bounds the table against clients inventing method names.
    static let maxMethods = 256

    public init() {}

    public func record(_ method: String, failed: Bool) {
        byMethod.withLock { m in
            let key = m[method] != nil || m.count < Self.maxMethods ? method : "(other)"
            m[key, default: Counts()].calls += 1
            if failed { m[key, default: Counts()].errors += 1 }
        }
    }

    public var json: JSONValue {
        let snapshot = byMethod.withLock { $0 }
        var methods = JSONObject()
        for (name, c) in snapshot.sorted(by: { $0.key < $1.key }) {
            methods[name] = .object(["calls": .number(String(c.calls)), "errors": .number(String(c.errors))])
        }
        return .object(["requests": .number(String(snapshot.values.reduce(0) { $0 + $1.calls })),
                        "errors": .number(String(snapshot.values.reduce(0) { $0 + $1.errors })),
                        "methods": .object(methods)])
    }
}
