import Foundation
import Net
import Synchronization
import Telemetry

/// Carries opaque messages `(type, payload)` between cluster nodes over TCP.
///
/// Each node dials one outbound connection per peer and sends only on connections it
/// dialed; it receives only on connections it accepted. Two one-way connections per pair
/// cost one extra socket and remove every "which duplicate connection wins" race.
///
/// Both directions authenticate with the cluster secret (`Handshake`) before anything
/// else is read; frames are length-prefixed and checksummed (`Frame`). Per-peer send
/// queues are bounded: when one is full new messages are dropped and counted, because
/// Raft tolerates loss and must never block on a slow peer. A connection that fails, or a
/// peer that misbehaves, is closed and logged, and the dialer retries with exponential
/// backoff and jitter. Messages queued when a connection fails are discarded (and counted
/// as dropped): Raft will resend what still matters, and stale messages only delay it.
///
/// Threading: `send`, `status`, `setPeers`, `start` and `stop` may be called from any
/// thread. Everything else — connections, timers, `onMessage` — runs on `loop`.
public final class PeerTransport: @unchecked Sendable {
    public struct Limits: Sendable {
        public var maxQueuedMessages = 4096
        public var maxQueuedBytes = 64 << 20
        /// Largest payload accepted from an authenticated peer, and largest `send` accepted.
        public var maxFrameBytes = Frame.defaultMaxPayloadBytes
        /// Stop handing queued messages to a connection while this many bytes await the socket.
        public var writeHighWaterBytes = 1 << 20
        public var connectTimeoutMillis = 3000
        /// Both sides must complete the handshake within this; a silent peer is cut off.
        public var handshakeTimeoutMillis = 3000
        /// A connection whose pending writes make no progress for this long is presumed dead.
        public var writeStallTimeoutMillis = 15_000
        public var reconnectInitialMillis = 50
        /// After an established connection fails, how long redialing may take before the peer
        /// is reported unreachable (`onPeerUnreachable`); a refused redial reports at once.
        public var lostPeerProbeMillis = 300
        public var reconnectMaxMillis = 2000
        /// Accepted connections still in their handshake, from anywhere; more are refused at once.
        public var maxUnauthenticatedInbound = 64
        /// Of those, how many one source address (not a known peer's) may hold.
        public var maxUnauthenticatedPerSource = 4
        /// Of those, how many are kept for known peers' addresses: strangers together may hold
        /// only the rest, so a flood from elsewhere never keeps a real peer out.
        public var reservedForPeers = 16

        public init() {}
    }

    public typealias MessageHandler = @Sendable (_ from: UInt64, _ type: UInt8, _ payload: [UInt8]) -> Void

    /// TLS 1.3 for peer links, mutually authenticated with certificates from the cluster CA.
    /// The HMAC handshake still runs inside, so a certificate alone does not make a peer.
    public struct TLS: Sendable {
        public let server: TLSContext
        public let client: TLSContext

        public init(caFile: String, certificateFile: String, privateKeyFile: String) throws(TLSError) {
            var s = TLSConfiguration(role: .server)
            s.caFile = caFile
            s.certificateFile = certificateFile
            s.privateKeyFile = privateKeyFile
            s.requireClientCertificate = true
            s.requireTLS13 = true
            s.alpn = ["infrastack-raft"]
            var c = s
            c.role = .client
            c.requireClientCertificate = false
            server = try TLSContext(s)
            client = try TLSContext(c)
        }
    }

    public let nodeID: UInt64
    public let limits: Limits
    let loop: EventLoop
    let logger: Logger
    let handshakeConfig: Handshake.Config
    /// nil: plain TCP (loopback development).
    let tls: TLS?
    private let listenAddress: SocketAddress

    /// What other threads read and write: peers, their queues and counters.
    struct PeerRecord {
        var address: SocketAddress
        var queue = PeerSendQueue()
        /// A `flush` task is already on its way to the loop; saves one wakeup per message.
        var flushScheduled = false
        var connected = false
        var inboundConnected = false
        var dropped: UInt64 = 0
        var sent: UInt64 = 0
        var received: UInt64 = 0
        var sentBytes: UInt64 = 0
        var receivedBytes: UInt64 = 0
        var lastError: String?
        var reconnectAttempts = 0
        var connectionsEstablished: UInt64 = 0
    }
    let shared = Mutex<[UInt64: PeerRecord]>([:])
    /// The callbacks live in class boxes: a closure stored directly in a `Mutex` is
    /// re-abstracted on every `withLock` (its inout value goes through a thunk each way and
    /// is written back wrapped), so each delivery called through one more pair of thunks —
    /// after a million messages the raft loop spent most of its time in them.
    private let handler = Mutex<CallbackBox<MessageHandler>?>(nil)
    let unreachableHandler = Mutex<CallbackBox<@Sendable (UInt64) -> Void>?>(nil)

    final class CallbackBox<Call: Sendable>: Sendable {
        let call: Call
        init(_ call: Call) { self.call = call }
    }
    private let bound: Mutex<SocketAddress>

    // Loop-confined state.
    var listener: TCPListener?
    var outbound: [UInt64: PeerOutboundLink] = [:]
    var inboundSessions: [ObjectIdentifier: PeerInboundSession] = [:]
    var inboundByPeer: [UInt64: PeerInboundSession] = [:]
    var stopped = false
    /// Inbound connections refused before their handshake, by reason, and the log's rate limit.
    var refusals = InboundRefusals()
    var nextAcceptSequence: UInt64 = 0

    /// Called on the loop thread for every message from an authenticated peer.
    public var onMessage: MessageHandler? {
        get { handler.withLock { $0?.call } }
        set { handler.withLock { $0 = newValue.map(CallbackBox.init) } }
    }

    /// Called on the loop thread when an established connection to a peer failed and could
    /// not be redialed within `lostPeerProbeMillis` (a process that died closes its sockets,
    /// so its peers learn of it long before any timeout). Once per loss.
    public var onPeerUnreachable: (@Sendable (_ peer: UInt64) -> Void)? {
        get { unreachableHandler.withLock { $0?.call } }
        set { unreachableHandler.withLock { $0 = newValue.map(CallbackBox.init) } }
    }

    /// The listening address; after `start`, with the port the system picked for port 0.
    public var boundAddress: SocketAddress { bound.withLock { $0 } }

    public init(nodeID: UInt64, clusterID: String, secret: [UInt8], listen: SocketAddress, peers: [UInt64: SocketAddress],
                loop: EventLoop, logger: Logger, limits: Limits = Limits(), tls: TLS? = nil) {
        self.nodeID = nodeID
        self.tls = tls
        self.limits = limits
        self.loop = loop
        self.logger = logger
        self.listenAddress = listen
        self.bound = Mutex(listen)
        self.handshakeConfig = Handshake.Config(nodeID: nodeID, clusterID: clusterID, secret: secret)
        applyPeers(peers)
    }

    /// Binds the listener (errors surface here) and starts dialing peers.
    public func start() throws {
        let l = try TCPListener(address: listenAddress, loop: loop)
        bound.withLock { $0 = l.address }
        l.start { [weak self] connection in
            guard let self else { connection.close(); return }
            self.accept(connection)
        }
        loop.execute { [self] in
            guard !stopped else { l.close(); return }
            listener = l
            logger.info("peer_listening", [("address", l.address.description)])
            reconcile()
        }
    }

    /// Closes the listener and every connection. When called off the loop, returns once
    /// they are closed (so a replacement may bind the same port). Not restartable.
    public func stop() {
        if loop.inLoop { shutdown(); return }
        let done = DispatchSemaphore(value: 0)
        loop.execute { [self] in
            shutdown()
            // TCPListener.close defers to the loop too; this runs after it.
            loop.execute { done.signal() }
        }
        _ = done.wait(timeout: .now() + 10)
    }

    /// Queues a message for `peer`; false if it was dropped (unknown peer, full queue, or too large).
    /// Type 0 is reserved for the handshake.
    @discardableResult
    public func send(to peer: UInt64, type: UInt8, payload: [UInt8]) -> Bool {
        precondition(type != Handshake.frameType, "message type 0 is reserved for the peer handshake")
        let (accepted, wake) = shared.withLock { peers -> (Bool, Bool) in
            guard peers[peer] != nil else { return (false, false) }
            guard payload.count <= limits.maxFrameBytes,
                  peers[peer]!.queue.enqueue(.init(type: type, payload: payload), maxMessages: limits.maxQueuedMessages, maxBytes: limits.maxQueuedBytes)
            else {
                peers[peer]!.dropped += 1
                return (false, false)
            }
            if peers[peer]!.flushScheduled || !peers[peer]!.connected { return (true, false) }
            peers[peer]!.flushScheduled = true
            return (true, true)
        }
        if wake { loop.execute { [weak self] in self?.flush(peer) } }
        return accepted
    }

    /// Replaces the peer set (membership change): new peers are dialed, removed ones
    /// disconnected (their queued messages dropped), moved ones redialed at the new address.
    public func setPeers(_ peers: [UInt64: SocketAddress]) {
        applyPeers(peers)
        loop.execute { [weak self] in self?.reconcile() }
    }

    /// Inbound connections refused before any handshake (flood protection), since start.
    public var refusedInbound: UInt64 { refusedCount.load(ordering: .relaxed) }
    let refusedCount = Atomic<UInt64>(0)

    public func status() -> [UInt64: PeerStatus] {
        shared.withLock { peers in
            peers.mapValues { r in
                PeerStatus(address: r.address, connected: r.connected, inboundConnected: r.inboundConnected,
                           queuedMessages: r.queue.count, queuedBytes: r.queue.byteCount, droppedMessages: r.dropped,
                           sentMessages: r.sent, receivedMessages: r.received, sentBytes: r.sentBytes, receivedBytes: r.receivedBytes,
                           lastError: r.lastError, reconnectAttempts: r.reconnectAttempts, connectionsEstablished: r.connectionsEstablished)
            }
        }
    }

    private func applyPeers(_ peers: [UInt64: SocketAddress]) {
        shared.withLock { current in
            for id in current.keys where peers[id] == nil { current[id] = nil }
            for (id, address) in peers where id != nodeID {
                if current[id] == nil { current[id] = PeerRecord(address: address) } else { current[id]!.address = address }
            }
        }
    }

    /// Brings connections in line with the peer set. Loop only.
    func reconcile() {
        guard !stopped else { return }
        let wanted = shared.withLock { $0.mapValues(\.address) }
        for (id, link) in outbound where wanted[id] == nil {
            outbound[id] = nil
            closeLink(link, reason: "peer removed from the configuration")
        }
        for (id, session) in inboundByPeer where wanted[id] == nil {
            dropInbound(session, event: "peer_disconnected", reason: "peer removed from the configuration", level: .info)
        }
        for (id, address) in wanted {
            if let link = outbound[id] {
                guard link.address != address else { continue }
                closeLink(link, reason: "peer address changed to \(address)")
            }
            let link = PeerOutboundLink(peer: id, address: address)
            outbound[id] = link
            dial(link)
        }
    }

    private func shutdown() {
        guard !stopped else { return }
        stopped = true
        listener?.close()
        listener = nil
        for link in outbound.values { closeLink(link, reason: "transport stopped") }
        outbound.removeAll()
        for session in Array(inboundSessions.values) {
            dropInbound(session, event: "peer_disconnected", reason: "transport stopped", level: .info)
        }
        shared.withLock { peers in
            for id in peers.keys { peers[id]!.connected = false; peers[id]!.inboundConnected = false }
        }
        logger.info("peer_transport_stopped", [("address", boundAddress.description)])
    }

    func deliver(from peer: UInt64, _ frame: Frame) {
        shared.withLock { peers in
            peers[peer]?.received += 1
            peers[peer]?.receivedBytes += UInt64(Frame.headerByteCount + frame.payload.count)
        }
        handler.withLock { $0 }?.call(peer, frame.type, frame.payload)
    }

    func updateRecord(_ peer: UInt64, _ change: (inout PeerRecord) -> Void) {
        shared.withLock { peers in
            if peers[peer] != nil { change(&peers[peer]!) }
        }
    }
}
