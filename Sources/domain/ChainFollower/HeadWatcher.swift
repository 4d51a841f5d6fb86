import Upstream
import Chain
import Foundation
import Net
import Synchronization
import Telemetry

/// A faster head signal than polling: an `eth_subscribe("newHeads")` WebSocket to the
/// upstream's `ws`/`wss` URL. Each notification wakes the indexer at once; polling keeps
/// running as the fallback, so a dropped or refused subscription only costs latency. The
/// connection is redialled with backoff (1 s doubling to 30 s).
final class HeadWatcher: @unchecked Sendable {
    /// What `/status` says about the signal.
    enum State: Sendable, Equatable {
        case connecting
        case subscribed
        case reconnecting(String)

        var text: String {
            switch self {
            case .connecting: "websocket: connecting"
            case .subscribed: "websocket: subscribed to newHeads"
            case .reconnecting(let why): "websocket: reconnecting (\(why)); polling meanwhile"
            }
        }
    }

    let endpoint: UpstreamEndpoint
    let wsURL: String
    let logger: Logger
    private let wake: Wakeup
    private let running = Atomic<Bool>(true)
    private let current = Mutex<State>(.connecting)
    /// Notifications received since start.
    let heads = Atomic<Int>(0)

    init(endpoint: UpstreamEndpoint, wsURL: String, wake: Wakeup, logger: Logger) {
        precondition(wsURL.lowercased().hasPrefix("ws://") || wsURL.lowercased().hasPrefix("wss://"), "a head watcher needs a ws:// or wss:// URL")
        self.endpoint = endpoint
        self.wsURL = wsURL
        self.wake = wake
        self.logger = logger
    }

    var state: State { current.withLock { $0 } }
    var redacted: String { (try? HTTPURL(parsing: wsURL))?.redacted ?? "(invalid URL)" }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "indexer-heads"
        t.start()
    }

    func stop() { running.store(false, ordering: .releasing) }

    private func run() {
        var backoff = 1.0
        while running.load(ordering: .acquiring) {
            do {
                let ws = try WebSocketClient(url: wsURL, timeoutMillis: 10_000, tls: endpoint.tls,
                                             headers: endpoint.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                defer { ws.close() }
                try ws.send(text: #"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}"#)
                guard let first = try ws.receive(timeoutMillis: 10_000), let answer = try? JSON.parse(first),
                      answer["result"]?.stringValue != nil else {
                    throw NetError("\(redacted) did not accept eth_subscribe newHeads")
                }
                current.withLock { $0 = .subscribed }
                logger.info("head_subscription_started", [("upstream", redacted)])
                backoff = 1
                while running.load(ordering: .acquiring) {
                    // Short waits, so stop() is honoured promptly; silence is not an error.
                    guard let message = try ws.receive(timeoutMillis: 500) else { continue }
                    if (try? JSON.parse(message))?["method"]?.stringValue == "eth_subscription" {
                        heads.add(1, ordering: .relaxed)
                        wake.signal()
                    }
                }
            } catch {
                guard running.load(ordering: .acquiring) else { return }
                current.withLock { $0 = .reconnecting("\(error)") }
                logger.warn("head_subscription_lost", [("upstream", redacted), ("error", "\(error)"), ("retryInSeconds", backoff)])
                var waited = 0.0
                while waited < backoff && running.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.1); waited += 0.1 }
                backoff = min(backoff * 2, 30)
            }
        }
    }
}

/// A wakeup the indexer's poll wait can be cut short by (a new head seen by the watcher).
final class Wakeup: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending = false

    func signal() {
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    /// Waits up to `millis` or until signalled; true when signalled.
    @discardableResult
    func wait(millis: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(Double(millis) / 1000)
        while !pending {
            if !condition.wait(until: deadline) { break }
        }
        let woke = pending
        pending = false
        return woke
    }
}
