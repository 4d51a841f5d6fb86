import Synchronization
import Dispatch

/// A response that is not known yet: a replicated write answers once its entry is applied,
/// and no thread should sit blocked until then. A handler returns `HTTPResponse.later(d)`
/// and whoever finishes the work calls `fulfil` once, from any thread; the server writes the
/// response when it arrives. Steps that wrap a response (headers, audit, metrics) go through
/// `HTTPResponse.map`, which applies them now or, for a later answer, where it is consumed.
public final class DeferredResponse: Sendable {
    private enum State {
        case waiting([@Sendable (HTTPResponse) -> Void])
        case done(HTTPResponse)
    }
    private let state = Mutex<State>(.waiting([]))

    public init() {}

    /// Sets the response and runs every waiting continuation on this thread. Only the first
    /// call counts: a timeout racing a completion answers once.
    public func fulfil(_ response: HTTPResponse) {
        precondition(response.later == nil, "a deferred response is fulfilled with a final one")
        let waiting: [@Sendable (HTTPResponse) -> Void]? = state.withLock { s in
            guard case .waiting(let w) = s else { return nil }
            s = .done(response)
            return w
        }
        for f in waiting ?? [] { f(response) }
    }

    /// Runs `f` with the response: now if it arrived, else on the thread that fulfils it.
    public func whenDone(_ f: @escaping @Sendable (HTTPResponse) -> Void) {
        let ready: HTTPResponse? = state.withLock { s in
            switch s {
            case .done(let r): return r
            case .waiting(var w):
                w.append(f)
                s = .waiting(w)
                return nil
            }
        }
        if let r = ready { f(r) }
    }

    public var isDone: Bool { state.withLock { if case .done = $0 { true } else { false } } }
}

/// A response still to come, as a handler returns it: the answer's source, and the steps
/// wrapping layers added on the way out (`map`). The steps run where the answer is
/// consumed — on the server's loop — not on the thread that fulfils it, which is often the
/// Raft loop and must only hand the answer on.
public struct LaterResponse: Sendable {
    public let source: DeferredResponse
    var steps: [@Sendable (HTTPResponse) -> HTTPResponse] = []

    /// The final response from the source's raw answer.
    public func finish(_ raw: HTTPResponse) -> HTTPResponse {
        precondition(raw.later == nil, "a source answers with a final response")
        return steps.reduce(raw) { r, step in step(r) }
    }
}

extension HTTPResponse {
    /// A response that `d` will carry; the status is a placeholder no client ever sees.
    public static func later(_ d: DeferredResponse) -> HTTPResponse {
        var r = HTTPResponse(status: 0)
        r.later = LaterResponse(source: d)
        return r
    }

    /// `f` applied to the final response: now, or when a deferred one is consumed.
    public func map(_ f: @escaping @Sendable (HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        guard var later else { return f(self) }
        later.steps.append(f)
        var r = self
        r.later = later
        return r
    }

    /// The final response, waiting for a deferred one on this thread. For callers that are
    /// not the server (tests, in-process clients); `timeoutMillis` bounds the wait.
    public func settled(timeoutMillis: Int = 30_000) -> HTTPResponse {
        guard let later else { return self }
        let box = Mutex<HTTPResponse?>(nil)
        let sem = DispatchSemaphore(value: 0)
        later.source.whenDone { r in box.withLock { $0 = r }; sem.signal() }
        if sem.wait(timeout: .now() + .milliseconds(timeoutMillis)) == .timedOut {
            return .json("{\"error\":\"no response within \(timeoutMillis) ms\"}\n", status: 504)
        }
        return later.finish(box.withLock { $0 }!)
    }
}
