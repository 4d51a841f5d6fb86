import Net
import Telemetry

/// This node's connection to one peer, from dial through handshake to sending; loop-confined.
final class PeerOutboundLink {
    let peer: UInt64
    let address: SocketAddress
    var connection: TCPConnection?
    var handshake: Handshake?
    var decoder = FrameDecoder(maxPayloadBytes: Handshake.maxMessageBytes)
    var established = false
    /// Bumped whenever an attempt ends, so callbacks and timers of an old attempt recognise themselves.
    var attempt: UInt64 = 0
    var consecutiveFailures = 0
    /// The backoff or handshake deadline, whichever is pending.
    var timer: UInt64?
    var stallTimer: UInt64?
    /// An established connection failed and no redial has succeeded yet (nor been reported).
    var lost = false
    var probeTimer: UInt64?
    var pendingAtLastCheck = 0
    var handedSinceLastCheck = 0
    var closed = false

    init(peer: UInt64, address: SocketAddress) {
        self.peer = peer
        self.address = address
    }
}

extension PeerTransport {
    func dial(_ link: PeerOutboundLink) {
        guard !stopped, !link.closed else { return }
        link.attempt += 1
        let attempt = link.attempt
        TCPConnection.connect(to: link.address, on: loop, timeoutMillis: limits.connectTimeoutMillis) { [weak self] result in
            guard let self, !self.stopped, !link.closed, link.attempt == attempt else {
                if case let .success(c) = result { c.close() }
                return
            }
            switch result {
            case let .failure(error):
                self.attemptFailed(link, reason: "connect failed: \(error)", event: "peer_dial_failed")
            case let .success(connection):
                self.beginHandshake(link, connection)
            }
        }
    }

    private func beginHandshake(_ link: PeerOutboundLink, _ connection: TCPConnection) {
        let attempt = link.attempt
        link.connection = connection
        link.decoder = FrameDecoder(maxPayloadBytes: Handshake.maxMessageBytes)
        var handshake = Handshake(role: .dialer(expectedPeer: link.peer), config: handshakeConfig)
        let opening = handshake.start()
        link.handshake = handshake
        connection.onRead = { [weak self] bytes in self?.outboundRead(link, bytes) }
        connection.onClose = { [weak self] error in
            guard let self, link.attempt == attempt else { return }
            link.connection = nil
            let how = error.map { "connection lost: \($0)" } ?? "connection closed by the peer"
            self.attemptFailed(link, reason: link.established ? how : "\(how) during the handshake",
                               event: link.established ? "peer_disconnected" : "peer_handshake_failed")
        }
        connection.onDrained = { [weak self] in self?.flush(link.peer) }
        if let tls {
            // The peer's certificate must come from the cluster CA and name the address we dialed.
            do { connection.startTLS(try TLSSession(context: tls.client, serverName: link.address.host)) } catch {
                attemptFailed(link, reason: "TLS: \(error)", event: "peer_handshake_failed")
                return
            }
        }
        link.timer = loop.schedule(afterMillis: limits.handshakeTimeoutMillis) { [weak self] in
            guard let self, link.attempt == attempt, !link.established else { return }
            link.timer = nil
            self.attemptFailed(link, reason: "handshake not completed within \(self.limits.handshakeTimeoutMillis) ms", event: "peer_handshake_failed")
        }
        perform(opening, on: link)
    }

    private func outboundRead(_ link: PeerOutboundLink, _ bytes: [UInt8]) {
        let attempt = link.attempt
        do {
            try link.decoder.feed(bytes)
            while link.attempt == attempt, let frame = try link.decoder.next() {
                guard frame.type == Handshake.frameType, var handshake = link.handshake else {
                    // Peers receive only on connections they accepted, so they never send here.
                    attemptFailed(link, reason: "peer sent a type-\(frame.type) message on a connection this node dialed", event: "peer_disconnected")
                    return
                }
                let actions = handshake.receive(frame.payload)
                link.handshake = handshake
                perform(actions, on: link)
            }
        } catch {
            attemptFailed(link, reason: "\(error)", event: link.established ? "peer_disconnected" : "peer_handshake_failed")
        }
    }

    private func perform(_ actions: [Handshake.Action], on link: PeerOutboundLink) {
        for action in actions {
            guard let connection = link.connection else { return }
            switch action {
            case let .send(message):
                connection.write(Frame(type: Handshake.frameType, payload: message).encoded())
            case .established:
                established(link)
            case let .failed(failure):
                attemptFailed(link, reason: "handshake failed: \(failure)", event: "peer_handshake_failed")
            }
        }
    }

    private func established(_ link: PeerOutboundLink) {
        link.established = true
        link.consecutiveFailures = 0
        if let t = link.timer { loop.cancelTimer(t); link.timer = nil }
        updateRecord(link.peer) { r in
            r.connected = true
            r.reconnectAttempts = 0
            r.connectionsEstablished += 1
            r.flushScheduled = true
        }
        logger.info("peer_connected", [("peer", link.peer), ("address", link.address.description), ("direction", "outbound")])
        link.pendingAtLastCheck = 0
        link.handedSinceLastCheck = 0
        endProbe(link)
        scheduleStallCheck(link)
        flush(link.peer)
    }

    /// An established link failed: report the peer unreachable unless a redial succeeds
    /// within the probe window (a refused redial reports sooner, in `attemptFailed`).
    private func startProbe(_ link: PeerOutboundLink) {
        endProbe(link)
        link.lost = true
        link.probeTimer = loop.schedule(afterMillis: limits.lostPeerProbeMillis) { [weak self] in
            link.probeTimer = nil
            guard let self, link.lost, !link.established, !link.closed else { return }
            self.reportUnreachable(link, why: "not reconnected within \(self.limits.lostPeerProbeMillis) ms")
        }
    }

    private func endProbe(_ link: PeerOutboundLink) {
        link.lost = false
        if let t = link.probeTimer { loop.cancelTimer(t); link.probeTimer = nil }
    }

    private func reportUnreachable(_ link: PeerOutboundLink, why: String) {
        precondition(link.lost && !link.established, "only a lost link is reported")
        endProbe(link)
        logger.info("peer_unreachable", [("peer", link.peer), ("address", link.address.description), ("reason", why)])
        unreachableHandler.withLock { $0 }?.call(link.peer)
    }

    /// Hands queued messages to the connection until the queue is empty or the socket
    /// backlog reaches the high-water mark; `onDrained` resumes it.
    func flush(_ peer: UInt64) {
        guard let link = outbound[peer], link.established, let connection = link.connection, !connection.isClosed else {
            updateRecord(peer) { $0.flushScheduled = false }
            return
        }
        var first = true
        while true {
            let budget = limits.writeHighWaterBytes - connection.pendingWriteBytes
            let batch = shared.withLock { peers -> [PeerSendQueue.Message] in
                guard peers[peer] != nil else { return [] }
                if first { peers[peer]!.flushScheduled = false }
                guard budget > 0 else { return [] }
                let taken = peers[peer]!.queue.take(budgetBytes: budget)
                peers[peer]!.sent += UInt64(taken.count)
                peers[peer]!.sentBytes += UInt64(taken.reduce(0) { $0 + $1.payload.count + Frame.headerByteCount })
                return taken
            }
            first = false
            guard !batch.isEmpty else { return }
            var bytes = [UInt8]()
            bytes.reserveCapacity(batch.reduce(0) { $0 + $1.payload.count + Frame.headerByteCount })
            for m in batch { Frame.encode(type: m.type, payload: m.payload, into: &bytes) }
            link.handedSinceLastCheck += bytes.count
            connection.write(bytes)
            if connection.isClosed || connection.pendingWriteBytes >= limits.writeHighWaterBytes { return }
        }
    }

    /// Declares a connection dead when its socket backlog stops shrinking (a peer that
    /// vanished without a FIN would otherwise hold the queue until TCP gives up, minutes later).
    private func scheduleStallCheck(_ link: PeerOutboundLink) {
        let attempt = link.attempt
        link.stallTimer = loop.schedule(afterMillis: limits.writeStallTimeoutMillis) { [weak self] in
            guard let self, link.attempt == attempt, let connection = link.connection else { return }
            link.stallTimer = nil
            let pending = connection.pendingWriteBytes
            let written = link.pendingAtLastCheck + link.handedSinceLastCheck - pending
            if link.pendingAtLastCheck > 0 && written == 0 {
                self.attemptFailed(link, reason: "no write progress for \(self.limits.writeStallTimeoutMillis) ms", event: "peer_disconnected")
                return
            }
            link.pendingAtLastCheck = pending
            link.handedSinceLastCheck = 0
            self.scheduleStallCheck(link)
        }
    }

    /// Ends the current attempt, discards what was queued, logs, and schedules a redial.
    func attemptFailed(_ link: PeerOutboundLink, reason: String, event: String) {
        guard !link.closed else { return }
        let wasEstablished = link.established
        endAttempt(link)
        if wasEstablished {
            startProbe(link)
        } else if link.lost {
            reportUnreachable(link, why: "redial failed: \(reason)")
        }
        link.consecutiveFailures += 1
        let failures = link.consecutiveFailures
        let discarded = shared.withLock { peers -> Int in
            guard peers[link.peer] != nil else { return 0 }
            let n = peers[link.peer]!.queue.discardAll()
            peers[link.peer]!.dropped += UInt64(n)
            peers[link.peer]!.connected = false
            peers[link.peer]!.lastError = reason
            peers[link.peer]!.reconnectAttempts = failures
            return n
        }
        // A peer that is simply down fails every couple of seconds; log the first failure and then
        // exponentially fewer, so a long outage does not flood the log.
        if wasEstablished || event != "peer_dial_failed" || failures & (failures - 1) == 0 {
            logger.warn(event, [("peer", link.peer), ("address", link.address.description), ("direction", "outbound"),
                                ("reason", reason), ("attempt", failures), ("discardedMessages", discarded)])
        }
        let delay = backoffMillis(failures: failures)
        link.timer = loop.schedule(afterMillis: delay) { [weak self] in
            link.timer = nil
            self?.dial(link)
        }
    }

    /// Closes the link for good (peer removed, address changed, transport stopped).
    func closeLink(_ link: PeerOutboundLink, reason: String) {
        let wasEstablished = link.established
        endAttempt(link)
        endProbe(link)
        link.closed = true
        updateRecord(link.peer) { $0.connected = false }
        if wasEstablished {
            logger.info("peer_disconnected", [("peer", link.peer), ("address", link.address.description), ("direction", "outbound"), ("reason", reason)])
        }
    }

    private func endAttempt(_ link: PeerOutboundLink) {
        link.attempt += 1
        link.established = false
        link.handshake = nil
        if let t = link.timer { loop.cancelTimer(t); link.timer = nil }
        if let t = link.stallTimer { loop.cancelTimer(t); link.stallTimer = nil }
        if let c = link.connection {
            link.connection = nil
            c.onClose = nil
            c.close()
        }
    }

    /// Exponential from `reconnectInitialMillis` to `reconnectMaxMillis`, with full jitter in
    /// the upper half so peers that failed together do not redial in lockstep.
    func backoffMillis(failures: Int) -> Int {
        let exponent = min(max(failures - 1, 0), 20)
        let ceiling = min(limits.reconnectMaxMillis, limits.reconnectInitialMillis << exponent)
        return Int.random(in: (ceiling / 2)...max(ceiling / 2, ceiling))
    }
}
