#if canImport(Glibc)
import TestSupport
import Glibc
#endif
import Foundation
import Net
import Synchronization
import Telemetry
@testable import PeerTransport

/// Messages a transport delivered, per sender, in arrival order.
final class Inbox: Sendable {
    private let received = Mutex<[UInt64: [(type: UInt8, payload: [UInt8])]]>([:])
    func record(_ from: UInt64, _ type: UInt8, _ payload: [UInt8]) { received.withLock { $0[from, default: []].append((type, payload)) } }
    func count(from: UInt64) -> Int { received.withLock { $0[from]?.count ?? 0 } }
    func messages(from: UInt64) -> [(type: UInt8, payload: [UInt8])] { received.withLock { $0[from] ?? [] } }
}

/// One node's transport on its own loop, with its log captured.
final class TestPeer: @unchecked Sendable {
    let id: UInt64
    let loop: EventLoop
    let sink = Logger.Sink(minimum: .debug, capture: true)
    let inbox = Inbox()
    var transport: PeerTransport
    static let secret = Array("test-cluster-secret".utf8)

    init(id: UInt64, limits: PeerTransport.Limits = .init(), listen: SocketAddress = SocketAddress(host: "127.0.0.1", port: 0),
         loop: EventLoop? = nil, secret: [UInt8] = TestPeer.secret, tls: PeerTransport.TLS? = nil) throws {
        self.id = id
        if let loop { self.loop = loop } else {
            self.loop = try EventLoop(name: "peer-\(id)")
            self.loop.start()
        }
        transport = PeerTransport(nodeID: id, clusterID: "test", secret: secret, listen: listen, peers: [:], loop: self.loop,
                                  logger: Logger(component: "peer", sink: sink, context: [("node", "\(id)")]), limits: limits, tls: tls)
        let inbox = self.inbox
        transport.onMessage = { from, type, payload in inbox.record(from, type, payload) }
        try transport.start()
    }

    var address: SocketAddress { transport.boundAddress }
    var logLines: [String] { sink.lines }

    func connected(to peer: UInt64) -> Bool { transport.status()[peer]?.connected == true }

    func shutdown() {
        transport.stop()
        loop.stop()
    }

    /// Connects every peer to every other and waits until all outbound links are up.
    static func mesh(_ peers: [TestPeer]) throws {
        let addresses = Dictionary(uniqueKeysWithValues: peers.map { ($0.id, $0.address) })
        for p in peers { p.transport.setPeers(addresses.filter { $0.key != p.id }) }
        try eventually("all peers connected") { peers.allSatisfy { p in peers.allSatisfy { $0.id == p.id || p.connected(to: $0.id) } } }
    }
}

/// A hand-driven TCP client for playing a misbehaving peer: blocking socket, short receive timeout.
final class RawClient {
    let fd: Int32
    let localAddress: SocketAddress
    private var decoder = FrameDecoder()

    /// `source` binds the local end first (any 127.x.y.z is loopback), to play another host.
    init(to address: SocketAddress, from source: String? = nil) throws {
        if let source {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            _ = inet_pton(AF_INET, source, &local.sin_addr)
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = address.port.bigEndian
            _ = inet_pton(AF_INET, address.host, &remote.sin_addr)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, connected == 0 else {
                let e = SocketError("connect", detail: "from \(source) to \(address)"); close(fd); throw e
            }
            self.fd = fd
        } else {
            fd = try Socket.connectBlocking(to: address, timeoutMillis: 5000)
        }
        Socket.setTimeouts(fd, millis: 100)
        localAddress = Socket.localAddress(fd)!
    }

    deinit { close(fd) }

    /// Sends everything; false once the server has closed (EPIPE/ECONNRESET).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    func sendFrame(type: UInt8, _ payload: [UInt8]) { send(Frame(type: type, payload: payload).encoded()) }

    /// Reads until one frame is complete.
    func readFrame(timeoutSeconds: Double = 10) throws -> Frame {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            if let f = try decoder.next() { return f }
            guard Date() < deadline else { throw TestFailure("no frame from the server within \(timeoutSeconds) s") }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { throw TestFailure("server closed the connection while a frame was expected") }
            if n > 0 { try decoder.feed(Array(buf[0..<n])) }
        }
    }

    /// Waits until the server closes the connection (end of stream or reset), discarding what it sends.
    func waitUntilClosedByServer(timeoutSeconds: Double = 10) throws {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { return }
        }
        throw TestFailure("the server kept the connection from \(localAddress) open for \(timeoutSeconds) s")
    }

    /// Completes a genuine dialer handshake as `node`, using the given secret and cluster id.
    /// Returns the handshake's outcome as the dialer saw it.
    func handshake(as node: UInt64, expecting peer: UInt64, cluster: String = "test", secret: [UInt8] = TestPeer.secret) throws -> [Handshake.Action] {
        var h = Handshake(role: .dialer(expectedPeer: peer), config: Handshake.Config(nodeID: node, clusterID: cluster, secret: secret))
        for case let .send(m) in h.start() { sendFrame(type: 0, m) }
        let reply = try readFrame()
        let actions = h.receive(reply.payload)
        for case let .send(m) in actions { sendFrame(type: 0, m) }
        return actions
    }
}
