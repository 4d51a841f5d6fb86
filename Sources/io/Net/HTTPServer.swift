import ByteCodec
import Foundation
import Synchronization
@_exported import Telemetry

/// An HTTP/1.1 server over one or more event loops: the first accepts and hands each
/// connection to a loop in turn, which serves it for its whole life (so cheap requests
/// answered inline use every loop's core). Connections are non-blocking and cost no
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
    /// Decides early, from the head alone, a request that sent `Expect: 100-continue`: nil lets
    /// the client send its body (the server answers 100 Continue), a response refuses it before
    /// a byte of the body is sent (e.g. 401 for an unauthenticated admin call); the connection
    /// closes after that response. Runs on the event loop, so it must be quick and never block.
    public typealias ContinueCheck = @Sendable (HTTPRequest) -> HTTPResponse?
    /// Says, from a complete request, that its handler is cheap (bounded work, no waiting):
    /// such a request is answered on the event loop itself, saving the two thread hand-offs
    /// of a worker. Anything in it that would block calls `InlineAttempt.mayBlock()`, which
    /// abandons the attempt; the request then runs again on a worker as any other.
    public typealias InlineCheck = @Sendable (HTTPRequest) -> Bool

    /// The loop that accepts; the first of `loops`.
    public let loop: EventLoop
    /// Every loop serving connections, each with its own share of them.
    public var loops: [EventLoop] { shards.map(\.loop) }
    public let limits: HTTPLimits
    public let webSocketLimits: WebSocketLimits
    private let listener: TCPListener
    let handler: Handler
    let webSocketUpgrade: WebSocketUpgrade?
    let shouldContinue: ContinueCheck?
    let inline: InlineCheck?
    let workers: WorkerPool
    /// One per loop, fixed at init; each is touched only on its loop.
    let shards: [HTTPShard]
    private let shardByLoop: [ObjectIdentifier: HTTPShard]
    /// The loop the next accepted connection goes to (accepting loop only).
    private var nextShard = 0
    let nextWebSocketId = Atomic<UInt64>(1)
    let openCount = Atomic<Int>(0)
    let webSocketCount = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    /// Requests answered on the loop without a worker (see `InlineCheck`).
    public let inlineAnswers = Atomic<Int>(0)

    public var address: SocketAddress { listener.address }
    /// Open TCP connections, WebSocket ones included.
    public var openConnections: Int { openCount.load(ordering: .relaxed) }
    /// Open WebSocket connections (including those still closing).
    public var openWebSockets: Int { webSocketCount.load(ordering: .relaxed) }

    /// TLS for every accepted connection (https:// and wss://); replaced by `reloadTLS`.
    private let tlsContext: Mutex<TLSContext?>
    /// TLS handshakes that failed or did not finish within the head deadline.
    public let tlsHandshakeFailures = Atomic<Int>(0)

    /// Binds now (errors surface at start); serving begins with `start()`.
    public init(address: SocketAddress, limits: HTTPLimits = HTTPLimits(), webSocketLimits: WebSocketLimits = WebSocketLimits(),
                loop: EventLoop, moreLoops: [EventLoop] = [], handler: @escaping Handler, webSocket: WebSocketUpgrade? = nil,
                shouldContinue: ContinueCheck? = nil, inline: InlineCheck? = nil, tls: TLSContext? = nil) throws {
        precondition(tls.map { $0.configuration.role == .server } ?? true, "a server needs a server-side TLS context")
        self.tlsContext = Mutex(tls)
        precondition(!moreLoops.contains { $0 === loop } && Set(moreLoops.map(ObjectIdentifier.init)).count == moreLoops.count,
                     "each loop serves one share of the connections")
        self.loop = loop
        shards = ([loop] + moreLoops).map(HTTPShard.init)
        shardByLoop = Dictionary(uniqueKeysWithValues: shards.map { (ObjectIdentifier($0.loop), $0) })
        self.limits = limits
        self.webSocketLimits = webSocketLimits
        self.handler = handler
        self.webSocketUpgrade = webSocket
        self.shouldContinue = shouldContinue
        self.inline = inline
        self.listener = try TCPListener(address: address, loop: loop)
        self.workers = WorkerPool(name: "http-worker")
    }

    public func start() {
        listener.start(loopForNext: { [self] in
            let shard = shards[nextShard % shards.count]
            nextShard &+= 1
            return shard.loop
        }) { [self] conn in self.accepted(conn) }
    }

    /// The share of connections of the loop `conn` lives on (that loop only).
    func shard(_ conn: TCPConnection) -> HTTPShard {
        let s = shardByLoop[ObjectIdentifier(conn.loop)]!
        s.loop.assertInLoop()
        return s
    }

    /// Serves new connections with this context (a renewed certificate); open ones keep theirs.
    public func reloadTLS(_ context: TLSContext) {
        precondition(context.configuration.role == .server, "a server needs a server-side TLS context")
        tlsContext.withLock { $0 = context }
    }

    /// Stops accepting, lets in-flight requests finish and WebSocket clients answer a close 1001
    /// "going away" (up to `timeoutMillis`), then closes every connection.
    public func shutdown(timeoutMillis: Int = 5000) {
        listener.close()
        for shard in shards {
            shard.loop.execute {
                shard.draining = true
                for state in shard.connections.values where !state.busy { state.conn.close() }
                for ws in shard.webSockets.values { ws.close(code: .goingAway, reason: "server shutting down") }
            }
        }
        let deadline = EventLoop.nowMillis() + UInt64(timeoutMillis)
        while (inFlight.load(ordering: .acquiring) > 0 || webSocketCount.load(ordering: .acquiring) > 0) && EventLoop.nowMillis() < deadline {
            usleep(2000)
        }
        for shard in shards {
            let done = DispatchSemaphore(value: 0)
            shard.loop.execute {
                for state in shard.connections.values { state.conn.close() }
                shard.connections.removeAll()
                for ws in shard.webSockets.values { ws.forceClose() }
                shard.webSockets.removeAll()
                done.signal()
            }
            done.wait()
        }
        workers.stop()
    }

    /// On the loop the connection was handed to.
    private func accepted(_ conn: TCPConnection) {
        let shard = shard(conn)
        let loop = conn.loop
        if let context = tlsContext.withLock({ $0 }) {
            do { conn.startTLS(try TLSSession(context: context)) } catch {
                tlsHandshakeFailures.add(1, ordering: .relaxed)
                conn.close(error: error)
                return
            }
            // A client that never finishes its handshake holds a socket no longer than a slow head would.
            let deadline = min(limits.headerTimeoutMillis, limits.requestTimeoutMillis)
            loop.schedule(afterMillis: deadline) { [weak self, weak conn] in
                guard let conn, !conn.isClosed, conn.tls?.handshakeDone == false else { return }
                self?.tlsHandshakeFailures.add(1, ordering: .relaxed)
                conn.close(error: NetError("TLS handshake not completed within \(deadline) ms"))
            }
        }
        if shard.draining || openCount.load(ordering: .relaxed) >= limits.maxConnections {
            conn.write(HTTPResponse.text("server is at its connection limit\n", status: 503).serialize(keepAlive: false))
            conn.closeWhenFlushed()
            return
        }
        openCount.add(1, ordering: .relaxed)
        let state = HTTPConnectionState(conn: conn, parser: HTTPRequestParser(limits: limits))
        let id = ObjectIdentifier(conn)
        shard.connections[id] = state
        conn.onRead = { [weak self, weak state] bytes in
            guard let self, let state else { return }
            state.parser.feed(bytes)
            self.process(state)
        }
        conn.onClose = { [weak self, weak state] _ in
            guard let self else { return }
            self.openCount.subtract(1, ordering: .relaxed)
            if let state, let t = state.timer { loop.cancelTimer(t) }
            shard.connections[id] = nil
        }
        // Half-close: a client may send its requests and shut down its side; it still gets
        // every complete request answered before the connection closes.
        conn.onEndOfInput = { [weak self, weak state] in
            guard let self, let state else { return }
            state.inputEnded = true
            self.process(state)
        }
        conn.onDrained = { [weak self, weak state] in
            guard let self, let state else { return }
            state.conn.resumeReading()
            self.process(state)
        }
        armTimer(state)
    }

    /// One timer per connection, at the nearest deadline: idle close with no request in
    /// progress; otherwise absolute deadlines from the request's first byte (the head within
    /// `headerTimeoutMillis`, the whole request within `requestTimeoutMillis`) and, once the
    /// head is in, the body's minimum average rate after its grace period. Bytes arriving do
    /// not push a deadline back, so a client trickling bytes cannot hold a connection forever.
    func armTimer(_ state: HTTPConnectionState) {
        let loop = state.conn.loop
        let now = EventLoop.nowMillis()
        let fireAt: UInt64
        if state.parser.hasPartialRequest {
            let started = state.requestStartedAt ?? now
            state.requestStartedAt = started
            let requestDeadline = started + UInt64(limits.requestTimeoutMillis)
            if state.parser.pendingHead != nil {
                let bodyStarted = state.bodyStartedAt ?? now
                state.bodyStartedAt = bodyStarted
                let graceEnd = bodyStarted + UInt64(limits.bodyRateGraceMillis)
                let rateCheck = now < graceEnd ? graceEnd : now + UInt64(max(1, min(1000, limits.bodyRateGraceMillis)))
                fireAt = min(requestDeadline, rateCheck)
            } else {
                fireAt = min(requestDeadline, started + UInt64(limits.headerTimeoutMillis))
            }
        } else {
            state.requestStartedAt = nil
            state.bodyStartedAt = nil
            fireAt = now + UInt64(limits.idleTimeoutMillis)
        }
        // While a request is in progress, reads never push an armed check later (a client
        // trickling bytes would otherwise postpone it forever); an earlier one replaces it, and
        // a check that finds nothing wrong re-arms for the next deadline.
        if let t = state.timer {
            if state.parser.hasPartialRequest && state.timerFiresAt <= fireAt { return }
            loop.cancelTimer(t)
        }
        state.timerFiresAt = fireAt
        state.timer = loop.schedule(afterMillis: Int(fireAt > now ? fireAt - now : 0)) { [weak self, weak state] in
            guard let self, let state else { return }
            state.timer = nil
            guard !state.conn.isClosed, !state.busy else { return }
            self.timerFired(state)
        }
    }

    private func timerFired(_ state: HTTPConnectionState) {
        guard state.parser.hasPartialRequest, let started = state.requestStartedAt else {
            state.conn.close()
            return
        }
        let now = EventLoop.nowMillis()
        let elapsed = now - started
        if let bodyStarted = state.bodyStartedAt, state.parser.pendingHead != nil {
            if elapsed >= UInt64(limits.requestTimeoutMillis) {
                fail(state, HTTPParseError(status: 408, message: "request body not completed within \(limits.requestTimeoutMillis) ms"))
                return
            }
            let bodyElapsed = now - bodyStarted
            if bodyElapsed >= UInt64(limits.bodyRateGraceMillis) {
                let rate = UInt64(state.parser.pendingBodyBytes) * 1000 / max(1, bodyElapsed)
                if rate < UInt64(limits.minBodyBytesPerSecond) {
                    fail(state, HTTPParseError(status: 408, message: "request body arriving at \(rate) bytes/s, below the minimum of \(limits.minBodyBytesPerSecond)"))
                    return
                }
            }
        } else if elapsed >= UInt64(min(limits.headerTimeoutMillis, limits.requestTimeoutMillis)) {
            fail(state, HTTPParseError(status: 408, message: "request head not completed within \(min(limits.headerTimeoutMillis, limits.requestTimeoutMillis)) ms"))
            return
        }
        armTimer(state)
    }

    private func process(_ state: HTTPConnectionState) {
        // Requests answered on the loop come back here for the connection's next one: a
        // loop, not recursion, so a client pipelining many of them cannot exhaust the stack.
        while takeRequest(state) {}
    }

    /// Takes and starts the connection's next request; true when it was answered already
    /// (inline) and the one after it may be taken.
    private func takeRequest(_ state: HTTPConnectionState) -> Bool {
        guard !state.busy, !state.failed, !state.conn.isClosed else { return false }
        // Backpressure: a client that does not read its responses stops being read.
        if state.conn.pendingWriteBytes > 1 << 20 { state.conn.pauseReading(); return false }
        let request: HTTPRequest?
        do { request = try state.parser.next() } catch { fail(state, error); return false }
        guard var req = request else {
            if state.inputEnded {
                // The client has shut down its side: what it sent is all there will be.
                if state.parser.hasPartialRequest {
                    fail(state, .bad("connection half-closed before the request was complete"))
                } else {
                    state.conn.closeWhenFlushed()
                }
                return false
            }
            if var head = state.parser.pendingHead, !state.continueDecided {
                state.continueDecided = true
                if state.parser.pendingHeadExpectsContinue {
                    head.remote = state.conn.remote.description
                    if let refusal = shouldContinue?(head) {
                        refuseEarly(state, refusal)
                        return false
                    }
                    state.conn.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                }
            }
            if state.parser.bufferedBytes > limits.maxHeaderBytes + limits.maxBodyBytes { state.conn.pauseReading() }
            armTimer(state)
            return false
        }
        state.continueDecided = false
        state.requestStartedAt = nil
        state.bodyStartedAt = nil
        req.remote = state.conn.remote.description
        if webSocketUpgrade != nil && WebSocketHandshake.isUpgradeRequest(req) {
            upgrade(state, req)
            return false
        }
        let loop = state.conn.loop
        state.busy = true
        if let t = state.timer { loop.cancelTimer(t); state.timer = nil }
        inFlight.add(1, ordering: .relaxed)
        let handler = self.handler
        let taken = req
        if inline?(taken) == true, let response = InlineAttempt.run({ handler(taken) }) {
            if let later = response.later {
                let box = UncheckedBox(state)
                later.source.whenDone { [self] raw in
                    loop.execute { [self] in self.answer(box.value, taken, later.finish(raw)) }
                }
                return false
            }
            inlineAnswers.add(1, ordering: .relaxed)
            return answer(state, req, response, takeNext: false)
        }
        let box = UncheckedBox(state)
        workers.submit { [self] in
            let req = taken
            let response = handler(req)
            // A deferred answer (a write waiting for its entry to apply) frees this worker now.
            // The thread that fulfils it only hands the raw answer to this loop, which runs
            // the wrapping steps and writes it.
            guard let later = response.later else {
                loop.execute { [self] in self.answer(box.value, req, response) }
                return
            }
            later.source.whenDone { [self] raw in
                loop.execute { [self] in self.answer(box.value, req, later.finish(raw)) }
            }
        }
        return false
    }

    /// Writes a handler's response on the loop; with `takeNext` it also takes the connection's
    /// next request, else it returns whether the caller may take it.
    @discardableResult
    private func answer(_ state: HTTPConnectionState, _ req: HTTPRequest, _ response: HTTPResponse, takeNext: Bool = true) -> Bool {
        let shard = shard(state.conn)
        precondition(state.busy, "a response answers the request in progress")
        inFlight.subtract(1, ordering: .relaxed)
        state.busy = false
        guard !state.conn.isClosed else { return false }
        let keep = req.keepAlive && !shard.draining && response.header("Connection")?.lowercased() != "close"
        state.conn.write(response.serialize(keepAlive: keep, headOnly: req.method == "HEAD"))
        guard keep else { state.conn.closeWhenFlushed(); return false }
        if takeNext { process(state); return false }
        return true
    }

    /// The `shouldContinue` hook refused a request before its body was sent: answer and close
    /// (the client never sent the body, so nothing is left unread on the connection).
    private func refuseEarly(_ state: HTTPConnectionState, _ response: HTTPResponse) {
        state.failed = true
        state.conn.pauseReading()
        state.conn.write(response.serialize(keepAlive: false))
        state.conn.closeWhenFlushed()
    }

    private func fail(_ state: HTTPConnectionState, _ error: HTTPParseError) {
        state.failed = true
        state.conn.pauseReading()
        let body = "{\"error\":\(jsonQuote(error.message))}\n"
        state.conn.write(HTTPResponse.json(body, status: error.status).serialize(keepAlive: false))
        state.conn.closeWhenFlushed()
    }
}

/// One loop's connections; touched only on that loop.
final class HTTPShard: @unchecked Sendable {  // sent only to its own loop, which alone touches it
    let loop: EventLoop
    var connections: [ObjectIdentifier: HTTPConnectionState] = [:]
    var webSockets: [ObjectIdentifier: WebSocketConnection] = [:]
    var draining = false
    init(loop: EventLoop) { self.loop = loop }
}

/// Per-connection state, confined to the loop of its connection.
final class HTTPConnectionState {
    let conn: TCPConnection
    var parser: HTTPRequestParser
    var busy = false
    /// A protocol error was answered; nothing more is read or processed.
    var failed = false
    var timer: UInt64?
    /// When the armed timer fires (loop clock), so reads do not re-arm an unchanged deadline.
    var timerFiresAt: UInt64 = 0
    /// First byte of the request in progress, and the moment its head was complete (loop clock).
    var requestStartedAt: UInt64?
    var bodyStartedAt: UInt64?
    /// The `Expect: 100-continue` decision for the pending head was made.
    var continueDecided = false
    /// The client shut down its sending side (half-close).
    var inputEnded = false
    init(conn: TCPConnection, parser: HTTPRequestParser) { self.conn = conn; self.parser = parser }
}

/// Carries a loop-confined reference through a worker and back to its loop.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
