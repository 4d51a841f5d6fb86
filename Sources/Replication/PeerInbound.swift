import Net
import Telemetry

/// A connection a peer dialed to this node; loop-confined. Nothing it sends reaches
/// `onMessage` until its handshake has completed.
final class PeerInboundSession {
    let connection: TCPConnection
    var handshake: Handshake
    /// Small until the peer authenticates, so a stranger cannot make this node buffer a large frame.
    var decoder = FrameDecoder(maxPayloadBytes: Handshake.maxMessageBytes)
    var peer: UInt64?
    var handshakeTimer: UInt64?
    var closed = false

    init(connection: TCPConnection, handshake: Handshake) {
        self.connection = connection
        self.handshake = handshake
    }
}

extension PeerTransport {
    /// Called by the listener on the loop.
    func accept(_ connection: TCPConnection) {
        guard !stopped else { connection.close(); return }
        let address = connection.remote.description
        let unauthenticated = inboundSessions.values.lazy.filter { $0.peer == nil }.count
        guard unauthenticated < limits.maxUnauthenticatedInbound else {
            logger.warn("peer_handshake_failed", [("address", address), ("direction", "inbound"),
                                                  ("reason", "refused: \(unauthenticated) connections are already in their handshake")])
            connection.close()
            return
        }
        let allowed = Set(shared.withLock { $0.keys })
        let session = PeerInboundSession(connection: connection, handshake: Handshake(role: .acceptor(allowedPeers: allowed), config: handshakeConfig))
        inboundSessions[ObjectIdentifier(session)] = session
        connection.onRead = { [weak self] bytes in self?.inboundRead(session, bytes) }
        connection.onClose = { [weak self] error in
            guard let self, !session.closed else { return }
            let how = error.map { "connection lost: \($0)" } ?? "connection closed by the peer"
            if session.peer == nil {
                self.dropInbound(session, event: "peer_handshake_failed", reason: "\(how) before completing the handshake", level: .warn)
            } else {
                self.dropInbound(session, event: "peer_disconnected", reason: how, level: .info)
            }
        }
        session.handshakeTimer = loop.schedule(afterMillis: limits.handshakeTimeoutMillis) { [weak self] in
            guard let self, !session.closed, session.peer == nil else { return }
            session.handshakeTimer = nil
            self.dropInbound(session, event: "peer_handshake_failed",
                             reason: "handshake not completed within \(self.limits.handshakeTimeoutMillis) ms", level: .warn)
        }
    }

    private func inboundRead(_ session: PeerInboundSession, _ bytes: [UInt8]) {
        do {
            try session.decoder.feed(bytes)
            while !session.closed, let frame = try session.decoder.next() {
                if frame.type == Handshake.frameType {
                    inboundHandshake(session, frame.payload)
                } else if let peer = session.peer {
                    deliver(from: peer, frame)
                } else {
                    dropInbound(session, event: "peer_handshake_failed",
                                reason: "sent a type-\(frame.type) message before completing the handshake", level: .warn)
                }
            }
        } catch {
            dropInbound(session, event: session.peer == nil ? "peer_handshake_failed" : "peer_disconnected",
                        reason: "\(error)", level: .warn)
        }
    }

    private func inboundHandshake(_ session: PeerInboundSession, _ message: [UInt8]) {
        let actions = session.handshake.receive(message)
        for action in actions where !session.closed {
            switch action {
            case let .send(reply):
                session.connection.write(Frame(type: Handshake.frameType, payload: reply).encoded())
            case let .established(peer):
                session.peer = peer
                session.decoder.maxPayloadBytes = limits.maxFrameBytes
                if let t = session.handshakeTimer { loop.cancelTimer(t); session.handshakeTimer = nil }
                // A peer that redials (after a restart, or a connection this side has not yet
                // noticed is dead) supersedes its previous connection.
                if let previous = inboundByPeer[peer], previous !== session {
                    dropInbound(previous, event: "peer_disconnected", reason: "superseded by a new connection from the same node", level: .info)
                }
                inboundByPeer[peer] = session
                updateRecord(peer) { $0.inboundConnected = true }
                logger.info("peer_connected", [("peer", peer), ("address", session.connection.remote.description), ("direction", "inbound")])
            case let .failed(failure):
                let event = session.peer == nil ? "peer_handshake_failed" : "peer_disconnected"
                dropInbound(session, event: event, reason: "handshake failed: \(failure)", level: .warn)
            }
        }
    }

    func dropInbound(_ session: PeerInboundSession, event: String, reason: String, level: Logger.Level) {
        guard !session.closed else { return }
        session.closed = true
        if let t = session.handshakeTimer { loop.cancelTimer(t); session.handshakeTimer = nil }
        inboundSessions[ObjectIdentifier(session)] = nil
        var fields: [(String, Any)] = [("address", session.connection.remote.description), ("direction", "inbound"), ("reason", reason)]
        if let peer = session.peer {
            fields.insert(("peer", peer), at: 0)
            if inboundByPeer[peer] === session {
                inboundByPeer[peer] = nil
                updateRecord(peer) { $0.inboundConnected = false }
            }
        }
        logger.log(level, event, fields)
        session.connection.onClose = nil
        session.connection.close()
    }
}
