/// Switching an HTTP connection to WebSocket (RFC 6455 §4.2).
extension HTTPServer {
    private enum UpgradeDecision: Sendable {
        case accept(acceptValue: String, handler: WebSocketHandler)
        case refuse(HTTPResponse)
    }

    /// Decides an upgrade request on a worker (the application's hook may block, e.g. to check
    /// credentials), then switches protocols or answers with a refusal on the loop.
    func upgrade(_ state: HTTPConnectionState, _ request: HTTPRequest) {
        let loop = state.conn.loop
        state.busy = true
        if let t = state.timer { loop.cancelTimer(t); state.timer = nil }
        inFlight.add(1, ordering: .relaxed)
        let (hook, handler) = (webSocketUpgrade, self.handler)
        let box = UncheckedBox(state)
        workers.submit { [self] in
            let decision: UpgradeDecision
            switch WebSocketHandshake.validate(request) {
            case .failure(let refusal):
                decision = .refuse(refusal.response)
            case .success(let acceptValue):
                if let wsHandler = hook?(request) {
                    decision = .accept(acceptValue: acceptValue, handler: wsHandler)
                } else {
                    decision = .refuse(handler(request).settled())
                }
            }
            loop.execute { [self] in
                self.inFlight.subtract(1, ordering: .relaxed)
                let state = box.value
                state.busy = false
                guard !state.conn.isClosed else { return }
                switch decision {
                case .accept where self.shard(state.conn).draining:
                    self.refuseUpgrade(state, .text("server is shutting down\n", status: 503))
                case .accept(let acceptValue, let wsHandler):
                    self.switchToWebSocket(state, request, acceptValue: acceptValue, handler: wsHandler)
                case .refuse(let response):
                    self.refuseUpgrade(state, response)
                }
            }
        }
    }

    /// A client that asked to upgrade is not expected to reuse the connection for HTTP, and
    /// anything it sent after the request may already be WebSocket frames: answer and close.
    private func refuseUpgrade(_ state: HTTPConnectionState, _ response: HTTPResponse) {
        state.failed = true
        state.conn.pauseReading()
        state.conn.write(response.serialize(keepAlive: false))
        state.conn.closeWhenFlushed()
    }

    private func switchToWebSocket(_ state: HTTPConnectionState, _ request: HTTPRequest, acceptValue: String, handler: WebSocketHandler) {
        let conn = state.conn
        let key = ObjectIdentifier(conn)
        let shard = shard(conn)
        shard.connections[key] = nil
        // The WebSocket owns end of input from here on (it closes on EOF).
        conn.onEndOfInput = nil
        conn.write(WebSocketHandshake.switchingProtocols(accept: acceptValue))
        let ws = WebSocketConnection(conn: conn, request: request, id: nextWebSocketId.wrappingAdd(1, ordering: .relaxed).oldValue, handler: handler,
                                     limits: webSocketLimits, workers: workers)
        shard.webSockets[key] = ws
        webSocketCount.add(1, ordering: .relaxed)
        ws.onFinished = { [weak self] in
            guard let self else { return }
            shard.webSockets[key] = nil
            self.webSocketCount.subtract(1, ordering: .releasing)
            self.openCount.subtract(1, ordering: .relaxed)
        }
        // Reading resumes in case HTTP backpressure had paused it; the WebSocket applies its own.
        conn.resumeReading()
        ws.start(leftover: state.parser.takeBufferedBytes())
    }
}
