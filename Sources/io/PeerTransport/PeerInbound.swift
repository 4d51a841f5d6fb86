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
    /// The source host, and whether it is a configured peer's, for admission.
    let source: String
    let fromPeerHost: Bool
    let acceptedAt: UInt64

    init(connection: TCPConnection, handshake: Handshake, source: String, fromPeerHost: Bool, acceptedAt: UInt64) {
        self.connection = connection
        self.handshake = handshake
        self.source = source
        self.fromPeerHost = fromPeerHost
        self.acceptedAt = acceptedAt
    }
}

/// Who may start a handshake, so connections that never authenticate cannot starve the
/// port: a stranger's address holds a few slots at most, strangers together leave
/// `reservedForPeers` free, and a connection from a configured peer's address, when its
/// share is taken, replaces the oldest pending one from that address (a peer that
/// restarts redials at once, so its newest connection is the one to keep). Pure.
struct InboundAdmission {
    enum Decision: Equatable {
        case admit
        /// Admit, after closing this pending session (an index into `pending`).
        case admitReplacing(Int)
        case refuse(String)
    }

    static func decide(source: String, fromPeerHost: Bool, pending: [(source: String, fromPeerHost: Bool)],
                       limits: PeerTransport.Limits) -> Decision {
        precondition(limits.reservedForPeers < limits.maxUnauthenticatedInbound, "strangers must have some slots")
        precondition(limits.maxUnauthenticatedPerSource > 0, "a source must have a slot")
        let sameSource = pending.indices.filter { pending[$0].source == source }
        if fromPeerHost {
            if sameSource.count >= limits.reservedForPeers || pending.count >= limits.maxUnauthenticatedInbound {
                // Oldest from this address first; failing that, the oldest stranger's.
                if let oldest = sameSource.first ?? pending.indices.first(where: { !pending[$0].fromPeerHost }) {
                    return .admitReplacing(oldest)
                }
                return .refuse("all \(limits.maxUnauthenticatedInbound) handshake slots are held by peers' addresses")
            }
            return .admit
        }
        if sameSource.count >= limits.maxUnauthenticatedPerSource {
            return .refuse("\(source) already holds \(sameSource.count) connections in their handshake (at most \(limits.maxUnauthenticatedPerSource) per address)")
        }
        let strangers = pending.lazy.filter { !$0.fromPeerHost }.count
        let strangerSlots = limits.maxUnauthenticatedInbound - limits.reservedForPeers
        if strangers >= strangerSlots || pending.count >= limits.maxUnauthenticatedInbound {
            return .refuse("the \(strangerSlots) handshake slots for unknown addresses are taken")
        }
        return .admit
    }
}

/// Refused inbound connections, counted, with the log rate-limited to one line per reason
/// a second (how many were refused in between is in the next line), so a flood cannot
/// flood the logs too.
struct InboundRefusals {
    private var lastLogged: [String: UInt64] = [:]
    private var suppressed: [String: Int] = [:]

    /// nil when this refusal should not be logged now; else how many were not logged before it.
    mutating func shouldLog(_ kind: String, nowMillis: UInt64) -> Int? {
        if let last = lastLogged[kind], nowMillis < last + 1000 {
            suppressed[kind, default: 0] += 1
            return nil
        }
        lastLogged[kind] = nowMillis
        return suppressed.removeValue(forKey: kind) ?? 0
    }
}

extension PeerTransport {
    /// Called by the listener on the loop.
    func accept(_ connection: TCPConnection) {
        guard !stopped else { connection.close(); return }
        let address = connection.remote.description
        let source = connection.remote.host
        let peerHosts = Set(shared.withLock { $0.values.map(\.address.host) })
        let fromPeerHost = peerHosts.contains(source)
        let pending = inboundSessions.values.filter { $0.peer == nil }.sorted { $0.acceptedAt < $1.acceptedAt }
        switch InboundAdmission.decide(source: source, fromPeerHost: fromPeerHost,
                                       pending: pending.map { ($0.source, $0.fromPeerHost) }, limits: limits) {
        case .admit: break
        case .admitReplacing(let i):
            refused(pending[i].connection.remote.description, "replaced by a newer connection from a peer's address", kind: "replaced")
            dropInbound(pending[i], event: "peer_handshake_refused", reason: "replaced by a newer connection from a peer's address", level: .debug)
        case .refuse(let why):
            refused(address, why, kind: fromPeerHost ? "peer-host" : "stranger")
            connection.close()
            return
        }
        nextAcceptSequence += 1
        let allowed = Set(shared.withLock { $0.keys })
        let session = PeerInboundSession(connection: connection, handshake: Handshake(role: .acceptor(allowedPeers: allowed), config: handshakeConfig),
                                         source: source, fromPeerHost: fromPeerHost, acceptedAt: nextAcceptSequence)
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
        if let tls {
            do { connection.startTLS(try TLSSession(context: tls.server)) } catch {
                dropInbound(session, event: "peer_handshake_failed", reason: "TLS: \(error)", level: .warn)
                return
            }
            if connection.isClosed { return }
        }
        session.handshakeTimer = loop.schedule(afterMillis: limits.handshakeTimeoutMillis) { [weak self] in
            guard let self, !session.closed, session.peer == nil else { return }
            session.handshakeTimer = nil
            self.dropInbound(session, event: "peer_handshake_failed",
                             reason: "handshake not completed within \(self.limits.handshakeTimeoutMillis) ms", level: .warn)
        }
    }

    /// Counts a refused connection and logs it, at most once a second per kind.
    private func refused(_ address: String, _ why: String, kind: String) {
        refusedCount.add(1, ordering: .relaxed)
        guard let skipped = refusals.shouldLog(kind, nowMillis: EventLoop.nowMillis()) else { return }
        logger.warn("peer_connection_refused", [("address", address), ("reason", why), ("refusedTotal", refusedCount.load(ordering: .relaxed)),
                                                ("notLoggedSinceLast", skipped)])
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
