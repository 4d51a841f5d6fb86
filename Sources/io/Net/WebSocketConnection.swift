/// The server side of one upgraded connection: reads frames, answers pings and closes, keeps
/// the connection alive (or ends it when the client goes silent), applies the slow-client
/// policy, and hands messages to the application in order through a serial queue.
///
/// Confined to the server's event loop; the application reaches it only through `WebSocket`,
/// which marshals onto the loop.
final class WebSocketConnection {
    let conn: TCPConnection
    let socket: WebSocket
    private let loop: EventLoop
    private let handler: WebSocketHandler
    private let limits: WebSocketLimits
    private let delivery: SerialTaskQueue
    private let reference: LoopConfinedReference<WebSocketConnection>
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler

    private enum State {
        case open
        /// A close frame has been sent or received: no more data is sent or delivered.
        case closing
        case closed
    }
    private var state = State.open
    private var peerCloseCode: WebSocketCloseCode?
    private var sentCloseCode: WebSocketCloseCode?
    /// Reading stopped for good (a close arrived or the connection failed).
    private var readingStopped = false
    /// Reading paused because the application has fallen behind.
    private var pausedForApplication = false
    private var undeliveredMessages = 0
    private var lastHeardMillis = EventLoop.nowMillis()
    /// Whether any bytes arrived since the last keepalive tick; if none did, the tick pings.
    private var heardSinceTick = false
    private var keepaliveTimer: UInt64?
    private var closeTimer: UInt64?

    /// Called on the loop once the TCP connection has closed (the server's bookkeeping).
    var onFinished: (() -> Void)?

    init(conn: TCPConnection, request: HTTPRequest, id: UInt64, handler: WebSocketHandler, limits: WebSocketLimits, workers: WorkerPool) {
        self.conn = conn
        self.loop = conn.loop
        self.handler = handler
        self.limits = limits
        self.delivery = SerialTaskQueue(workers: workers)
        self.parser = WebSocketFrameParser(role: .server, maxPayloadBytes: limits.maxMessageBytes)
        self.assembler = WebSocketMessageAssembler(maxMessageBytes: limits.maxMessageBytes)
        let reference = LoopConfinedReference<WebSocketConnection>()
        self.reference = reference
        self.socket = WebSocket(id: id, request: request, loop: conn.loop, connection: reference)
        reference.value = self
    }

    /// Takes over the TCP connection; `leftover` is what the client sent right after its handshake.
    func start(leftover: [UInt8]) {
        loop.assertInLoop()
        conn.onRead = { [weak self] bytes in self?.received(bytes) }
        conn.onClose = { [weak self] _ in self?.tcpClosed() }
        conn.onDrained = nil
        let (handler, socket) = (self.handler, self.socket)
        delivery.enqueue { handler.onOpen(socket) }
        armKeepalive(afterMillis: limits.pingIntervalMillis)
        if !leftover.isEmpty { received(leftover) }
    }

    // MARK: Inbound

    private func received(_ bytes: [UInt8]) {
        guard state != .closed, !readingStopped else { return }
        lastHeardMillis = EventLoop.nowMillis()
        heardSinceTick = true
        parser.feed(bytes)
        while state != .closed && !readingStopped {
            do {
                guard let frame = try parser.next() else { return }
                if let event = try assembler.take(frame) { handle(event) }
            } catch {
                fail(error.code, error.message)
                return
            }
        }
    }

    private func handle(_ event: WebSocketEvent) {
        let (handler, socket) = (self.handler, self.socket)
        switch event {
        case .text(let text):
            guard state == .open else { return }
            deliverMessage { handler.onText(socket, text) }
        case .binary(let bytes):
            guard state == .open else { return }
            guard let onBinary = handler.onBinary else {
                close(code: .unsupportedData, reason: "binary messages are not accepted")
                return
            }
            deliverMessage { onBinary(socket, bytes) }
        case .ping(let payload):
            // After our close frame nothing more may be sent (§5.5.1), not even a pong.
            guard state == .open else { return }
            write(WebSocketFrame(opcode: .pong, payload: payload).encoded())
        case .pong:
            break  // Its arrival already counted as hearing from the client.
        case .close(let code, _):
            peerCloseCode = code ?? .noStatusReceived
            if sentCloseCode == nil {
                // Echo the client's code (§5.5.1); a close without a code is answered without one.
                let payload = code.map { WebSocketFrame.closePayload(code: $0, reason: "") } ?? []
                sentCloseCode = code ?? .normal
                conn.write(WebSocketFrame(opcode: .close, payload: payload).encoded())
            }
            beginClosing()
            // The server closes the TCP connection first (§7.1.1), as soon as the echo is out.
            stopReading()
            conn.closeWhenFlushed()
            armCloseTimer()
        }
    }

    private func deliverMessage(_ work: @escaping @Sendable () -> Void) {
        undeliveredMessages += 1
        if undeliveredMessages > limits.maxQueuedMessages && !pausedForApplication {
            pausedForApplication = true
            conn.pauseReading()
        }
        let (loop, reference) = (self.loop, self.reference)
        delivery.enqueue {
            work()
            loop.execute { reference.value?.messageHandled() }
        }
    }

    private func messageHandled() {
        undeliveredMessages -= 1
        if pausedForApplication && undeliveredMessages <= limits.maxQueuedMessages / 2 {
            pausedForApplication = false
            // Silence while we were not reading is not the client's.
            lastHeardMillis = EventLoop.nowMillis()
            if !readingStopped && state != .closed { conn.resumeReading() }
        }
    }

    // MARK: Outbound

    /// An encoded data frame from `WebSocket.send`; dropped once closing has begun.
    func sendFromApplication(_ bytes: [UInt8]) {
        guard state == .open else { return }
        write(bytes)
    }

    /// Writes a frame, then applies the slow-client policy.
    private func write(_ bytes: [UInt8]) {
        conn.write(bytes)
        if state == .open && conn.pendingWriteBytes > limits.maxPendingWriteBytes {
            fail(.policyViolation, "client too slow")
        }
    }

    // MARK: Closing

    /// Server-initiated close handshake: send our close frame and keep reading until the client
    /// answers with its own, or the close timeout passes.
    func close(code: WebSocketCloseCode, reason: String) {
        guard state == .open else { return }
        beginClosing()
        sendClose(code, reason)
        armCloseTimer()
    }

    /// Fails the connection (§7.1.7): a close frame with the reason, and no more reading. The TCP
    /// connection closes once the frame is out, or after the close timeout if the client does not read.
    private func fail(_ code: WebSocketCloseCode, _ reason: String) {
        guard state != .closed else { return }
        if state == .open {
            beginClosing()
            sendClose(code, reason)
        }
        stopReading()
        conn.closeWhenFlushed()
        armCloseTimer()
    }

    private func beginClosing() {
        // A write can fail and close the socket underneath us; closed stays closed.
        guard state == .open else { return }
        state = .closing
        socket.markClosed()
        if let t = keepaliveTimer { loop.cancelTimer(t); keepaliveTimer = nil }
    }

    private func sendClose(_ code: WebSocketCloseCode, _ reason: String) {
        guard sentCloseCode == nil else { return }
        sentCloseCode = code
        conn.write(WebSocketFrame(opcode: .close, payload: WebSocketFrame.closePayload(code: code, reason: reason)).encoded())
    }

    private func stopReading() {
        readingStopped = true
        conn.pauseReading()
    }

    private func armCloseTimer() {
        guard closeTimer == nil, !conn.isClosed else { return }
        closeTimer = loop.schedule(afterMillis: limits.closeTimeoutMillis) { [weak self] in
            guard let self else { return }
            self.closeTimer = nil
            self.conn.close()
        }
    }

    /// Drops the TCP connection now (server shutdown past its deadline).
    func forceClose() { conn.close() }

    private func tcpClosed() {
        guard state != .closed else { return }
        state = .closed
        socket.markClosed()
        if let t = keepaliveTimer { loop.cancelTimer(t); keepaliveTimer = nil }
        if let t = closeTimer { loop.cancelTimer(t); closeTimer = nil }
        let code = peerCloseCode ?? sentCloseCode ?? .abnormalClosure
        let (handler, socket) = (self.handler, self.socket)
        delivery.enqueue { handler.onClose(socket, code) }
        onFinished?()
        onFinished = nil
    }

    // MARK: Keepalive

    private func armKeepalive(afterMillis millis: Int) {
        keepaliveTimer = loop.schedule(afterMillis: max(1, millis)) { [weak self] in self?.keepaliveTick() }
    }

    /// Pings a client not heard from since the previous tick; ends one silent past the idle timeout.
    private func keepaliveTick() {
        keepaliveTimer = nil
        guard state == .open else { return }
        let now = EventLoop.nowMillis()
        if pausedForApplication { lastHeardMillis = now; heardSinceTick = true }
        let silent = Int(now - min(now, lastHeardMillis))
        if silent >= limits.idleTimeoutMillis {
            fail(.internalError, "no frame from the client for \(limits.idleTimeoutMillis) ms")
            return
        }
        if !heardSinceTick {
            write(WebSocketFrame(opcode: .ping, payload: []).encoded())
            guard state == .open else { return }
        }
        heardSinceTick = false
        armKeepalive(afterMillis: min(limits.pingIntervalMillis, limits.idleTimeoutMillis - silent))
    }
}
