import Foundation
import Synchronization
@_exported import Telemetry

/// An HTTP/1.1 server on one event loop. Connections are non-blocking and cost no
/// thread; handlers run on a worker pool so a slow handler (a long poll, a wait for
/// commit) never stalls other connections. Requests on one connection are answered
/// in order (pipelining): the next request is taken only after the previous response
/// has been queued. With a `webSocket` hook, GET requests asking to upgrade become WebSocket
/// connections (see HTTPServer+Upgrade.swift).
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse
    /// Decides a valid WebSocket upgrade request: a handler accepts it, nil refuses it (the
    /// request then goes to the HTTP handler, whose answer is sent before closing). Runs on a worker.
    public typealias WebSocketUpgrade = @Sendable (HTTPRequest) -> WebSocketHandler?

    public let loop: EventLoop
    public let limits: HTTPLimits
    public let webSocketLimits: WebSocketLimits
    private let listener: TCPListener
    let handler: Handler
    let webSocketUpgrade: WebSocketUpgrade?
    let workers: WorkerPool
    // Loop-confined state.
    var connections: [ObjectIdentifier: HTTPConnectionState] = [:]
    var webSockets: [ObjectIdentifier: WebSocketConnection] = [:]
    var nextWebSocketId: UInt64 = 1
    var draining = false
    let openCount = Atomic<Int>(0)
    let webSocketCount = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)

    public var address: SocketAddress { listener.address }
    /// Open TCP connections, WebSocket ones included.
    public var openConnections: Int { openCount.load(ordering: .relaxed) }
    /// Open WebSocket connections (including those still closing).
    public var openWebSockets: Int { webSocketCount.load(ordering: .relaxed) }

    /// Binds now (errors surface at start); serving begins with `start()`.
    public init(address: SocketAddress, limits: HTTPLimits = HTTPLimits(), webSocketLimits: WebSocketLimits = WebSocketLimits(),
                loop: EventLoop, handler: @escaping Handler, webSocket: WebSocketUpgrade? = nil) throws {
        self.loop = loop
        self.limits = limits
        self.webSocketLimits = webSocketLimits
        self.handler = handler
        self.webSocketUpgrade = webSocket
        self.listener = try TCPListener(address: address, loop: loop)
        self.workers = WorkerPool(name: "http-worker")
    }

    public func start() {
        listener.start { [self] conn in self.accepted(conn) }
    }

    /// Stops accepting, lets in-flight requests finish and WebSocket clients answer a close 1001
    /// "going away" (up to `timeoutMillis`), then closes every connection.
    public func shutdown(timeoutMillis: Int = 5000) {
        listener.close()
        loop.execute { [self] in
            draining = true
            for state in connections.values where !state.busy { state.conn.close() }
            for ws in webSockets.values { ws.close(code: .goingAway, reason: "server shutting down") }
        }
        let deadline = EventLoop.nowMillis() + UInt64(timeoutMillis)
        while (inFlight.load(ordering: .acquiring) > 0 || webSocketCount.load(ordering: .acquiring) > 0) && EventLoop.nowMillis() < deadline {
            usleep(2000)
        }
        let done = DispatchSemaphore(value: 0)
        loop.execute { [self] in
            for state in connections.values { state.conn.close() }
            connections.removeAll()
            for ws in webSockets.values { ws.forceClose() }
            webSockets.removeAll()
            done.signal()
        }
        done.wait()
        workers.stop()
    }

    private func accepted(_ conn: TCPConnection) {
        if draining || openCount.load(ordering: .relaxed) >= limits.maxConnections {
            conn.write(HTTPResponse.text("server is at its connection limit\n", status: 503).serialize(keepAlive: false))
            conn.closeWhenFlushed()
            return
        }
        openCount.add(1, ordering: .relaxed)
        let state = HTTPConnectionState(conn: conn, parser: HTTPRequestParser(limits: limits))
        let id = ObjectIdentifier(conn)
        connections[id] = state
        conn.onRead = { [weak self, weak state] bytes in
            guard let self, let state else { return }
            state.parser.feed(bytes)
            self.process(state)
        }
        conn.onClose = { [weak self, weak state] _ in
            guard let self else { return }
            self.openCount.subtract(1, ordering: .relaxed)
            if let state, let t = state.timer { self.loop.cancelTimer(t) }
            self.connections[id] = nil
        }
        conn.onDrained = { [weak self, weak state] in
            guard let self, let state else { return }
            state.conn.resumeReading()
            self.process(state)
        }
        armTimer(state)
    }

    /// Idle connections close after the idle timeout; a partial request must complete within the request timeout.
    private func armTimer(_ state: HTTPConnectionState) {
        if let t = state.timer { loop.cancelTimer(t) }
        let partial = state.parser.hasPartialRequest
        let millis = partial ? limits.requestTimeoutMillis : limits.idleTimeoutMillis
        state.timer = loop.schedule(afterMillis: millis) { [weak self, weak state] in
            guard let self, let state, !state.conn.isClosed, !state.busy else { return }
            state.timer = nil
            if state.parser.hasPartialRequest {
                self.fail(state, HTTPParseError(status: 408, message: "request not completed within \(self.limits.requestTimeoutMillis) ms"))
            } else {
                state.conn.close()
            }
        }
    }

    private func process(_ state: HTTPConnectionState) {
        guard !state.busy, !state.failed, !state.conn.isClosed else { return }
        // Backpressure: a client that does not read its responses stops being read.
        if state.conn.pendingWriteBytes > 1 << 20 { state.conn.pauseReading(); return }
        let request: HTTPRequest?
        do { request = try state.parser.next() } catch { fail(state, error); return }
        guard var req = request else {
            if state.parser.bufferedBytes > limits.maxHeaderBytes + limits.maxBodyBytes { state.conn.pauseReading() }
            armTimer(state)
            return
        }
        req.remote = state.conn.remote.description
        if webSocketUpgrade != nil && WebSocketHandshake.isUpgradeRequest(req) {
            upgrade(state, req)
            return
        }
        state.busy = true
        if let t = state.timer { loop.cancelTimer(t); state.timer = nil }
        inFlight.add(1, ordering: .relaxed)
        let handler = self.handler
        let loop = self.loop
        let box = UncheckedBox(state)
        let taken = req
        workers.submit { [self] in
            let req = taken
            let response = handler(req)
            loop.execute { [self] in
                self.inFlight.subtract(1, ordering: .relaxed)
                let state = box.value
                state.busy = false
                guard !state.conn.isClosed else { return }
                let keep = req.keepAlive && !self.draining && response.header("Connection")?.lowercased() != "close"
                state.conn.write(response.serialize(keepAlive: keep, headOnly: req.method == "HEAD"))
                if keep { self.process(state) } else { state.conn.closeWhenFlushed() }
            }
        }
    }

    private func fail(_ state: HTTPConnectionState, _ error: HTTPParseError) {
        state.failed = true
        state.conn.pauseReading()
        let body = "{\"error\":\(jsonQuote(error.message))}\n"
        state.conn.write(HTTPResponse.json(body, status: error.status).serialize(keepAlive: false))
        state.conn.closeWhenFlushed()
    }
}

/// Per-connection state, confined to the server's loop.
final class HTTPConnectionState {
    let conn: TCPConnection
    var parser: HTTPRequestParser
    var busy = false
    /// A protocol error was answered; nothing more is read or processed.
    var failed = false
    var timer: UInt64?
    init(conn: TCPConnection, parser: HTTPRequestParser) { self.conn = conn; self.parser = parser }
}

/// Carries a loop-confined reference through a worker and back to its loop.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
