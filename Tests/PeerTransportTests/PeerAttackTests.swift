#if canImport(Glibc)
import TestSupport
import Glibc
#endif
import Foundation
import Net
import Testing
@testable import PeerTransport

/// Misbehaving clients against a real transport: each must be cut off and logged while
/// the genuine peers keep talking.
@Suite(.serialized) struct PeerAttackTests {
    /// Node 9 is a configured peer of node 1 whose address accepts nothing; the attacks that
    /// need a completed handshake impersonate it (they know the secret — a buggy peer).
    static func setUp() throws -> (TestPeer, TestPeer) {
        var limits = PeerTransport.Limits()
        limits.handshakeTimeoutMillis = 300
        let a = try TestPeer(id: 1, limits: limits), b = try TestPeer(id: 2, limits: limits)
        try TestPeer.mesh([a, b])
        a.transport.setPeers([2: b.address, 9: SocketAddress(host: "127.0.0.1", port: 1)])
        return (a, b)
    }

    /// The attacker's connection was closed, and node 1 logged it with the attacker's address and a reason.
    static func expectCutOff(_ client: RawClient, by node: TestPeer, event: String = "peer_handshake_failed",
                             reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try client.waitUntilClosedByServer()
        let address = "\"address\":\"\(client.localAddress)\""
        try eventually("log line for \(client.localAddress)") { node.logLines.contains { $0.contains(address) && $0.contains("\"event\":\"\(event)\"") } }
        let line = node.logLines.first { $0.contains(address) && $0.contains("\"event\":\"\(event)\"") } ?? ""
        #expect(line.contains(reason), "log line \(line) should give the reason \(reason)", sourceLocation: sourceLocation)
        #expect(!line.contains(String(decoding: TestPeer.secret, as: UTF8.self)), sourceLocation: sourceLocation)
    }

    static func expectStillExchanging(_ a: TestPeer, _ b: TestPeer) throws {
        let before = (b.inbox.count(from: 1), a.inbox.count(from: 2))
        for i in 0..<100 {
            #expect(a.transport.send(to: 2, type: 1, payload: [UInt8(i)]))
            #expect(b.transport.send(to: 1, type: 1, payload: [UInt8(i)]))
        }
        try eventually("genuine peers still exchanging") { b.inbox.count(from: 1) == before.0 + 100 && a.inbox.count(from: 2) == before.1 + 100 }
    }

    @Test func everyKindOfMisbehaviourIsCutOffAndLogged() throws {
        let seed = SeededRandom.seed("garbage attacker")
        var rng = SeededRandom(seed: seed)
        let (a, b) = try Self.setUp()
        defer { a.shutdown(); b.shutdown() }

        // Garbage: whatever its first four bytes declare, it is oversized or fails its checksum.
        let garbage = try RawClient(to: a.address)
        var noise = rng.bytes(4096)
        noise[0] = 0xFF
        garbage.send(noise)
        try Self.expectCutOff(garbage, by: a, reason: "over the limit of \(Handshake.maxMessageBytes) bytes")

        // Random garbage with a small declared length fails its checksum instead.
        let smallGarbage = try RawClient(to: a.address)
        smallGarbage.send([0, 0, 0, 16] + rng.bytes(100))
        try Self.expectCutOff(smallGarbage, by: a, reason: "failed its checksum")

        // Wrong secret: the hello is fine, the proof is not.
        let wrongSecret = try RawClient(to: a.address)
        var forger = Handshake(role: .dialer(expectedPeer: 1), config: Handshake.Config(nodeID: 2, clusterID: "test", secret: Array("guess".utf8)),
                               nonce: [UInt8](repeating: 7, count: 32))
        for case let .send(m) in forger.start() { wrongSecret.sendFrame(type: 0, m) }
        let reply = try wrongSecret.readFrame()
        let acceptorNonce = Array(reply.payload[11..<43])
        let forged = Handshake.proof(secret: Array("guess".utf8), role: "dialer", clusterID: "test", dialerID: 2, acceptorID: 1,
                                     dialerNonce: [UInt8](repeating: 7, count: 32), acceptorNonce: acceptorNonce)
        wrongSecret.sendFrame(type: 0, [Handshake.MessageKind.proof.rawValue] + forged)
        try Self.expectCutOff(wrongSecret, by: a, reason: "node 2 failed to prove knowledge of the cluster secret")

        // Wrong cluster id.
        let wrongCluster = try RawClient(to: a.address)
        let outcome = try wrongCluster.handshake(as: 2, expecting: 1, cluster: "another-cluster")
        #expect(outcome.contains { if case .failed(.rejectedByPeer) = $0 { true } else { false } }, "the rejection tells the dialer why: \(outcome)")
        try Self.expectCutOff(wrongCluster, by: a, reason: "peer belongs to cluster \\\"another-cluster\\\"")

        // A message before the handshake never reaches onMessage.
        let eager = try RawClient(to: a.address)
        eager.sendFrame(type: 5, [1, 2, 3])
        try Self.expectCutOff(eager, by: a, reason: "sent a type-5 message before completing the handshake")
        #expect(a.inbox.count(from: 2) == 0 && a.inbox.count(from: 9) == 0)

        // Oversized length header before authentication.
        let huge = try RawClient(to: a.address)
        huge.send([0x7F, 0xFF, 0xFF, 0xFF, 1])
        try Self.expectCutOff(huge, by: a, reason: "declares a 2147483647-byte payload")

        // Silent: connects and says nothing.
        let silent = try RawClient(to: a.address)
        try Self.expectCutOff(silent, by: a, reason: "handshake not completed within 300 ms")

        // Corrupt frame after a good handshake (as configured node 9): the good message
        // before it is delivered, then the connection is cut.
        let corrupt = try RawClient(to: a.address)
        let established = try corrupt.handshake(as: 9, expecting: 1)
        #expect(established.last == .established(peer: 1))
        corrupt.sendFrame(type: 3, [42])
        var bad = Frame(type: 3, payload: [1, 2, 3, 4]).encoded()
        bad[bad.count - 1] ^= 0xFF
        corrupt.send(bad)
        try Self.expectCutOff(corrupt, by: a, event: "peer_disconnected", reason: "failed its checksum")
        #expect(a.inbox.messages(from: 9).map(\.payload) == [[42]])

        // Oversized frame after a good handshake: just over the 64 MiB default.
        let tooBig = try RawClient(to: a.address)
        _ = try tooBig.handshake(as: 9, expecting: 1)
        var header = [UInt8]()
        appendBigEndian(UInt32(Frame.defaultMaxPayloadBytes + 1), to: &header)
        tooBig.send(header + [3, 0, 0, 0, 0])
        try Self.expectCutOff(tooBig, by: a, event: "peer_disconnected", reason: "over the limit of \(Frame.defaultMaxPayloadBytes) bytes")

        try Self.expectStillExchanging(a, b)
        #expect(a.connected(to: 2) && b.connected(to: 1))
    }

    @Test func anImpostorAcceptorIsRefusedByTheDialer() throws {
        // Node 1 believes node 2 lives at an address where a node with another secret listens.
        let a = try TestPeer(id: 1, limits: PeerTransportTests.fastReconnect)
        let impostor = try TestPeer(id: 2, secret: Array("not-the-secret".utf8))
        defer { a.shutdown(); impostor.shutdown() }
        impostor.transport.setPeers([1: SocketAddress(host: "127.0.0.1", port: 1)])
        a.transport.setPeers([2: impostor.address])
        try eventually("node 1 rejects the impostor") {
            a.logLines.contains { $0.contains("peer_handshake_failed") && $0.contains("node 2 failed to prove knowledge of the cluster secret") }
        }
        #expect(!a.connected(to: 2))
        #expect(a.transport.status()[2]?.lastError?.contains("failed to prove") == true)
    }
}

@Suite struct PeerStallTests {
    /// A peer that completes the handshake as acceptor and then never reads: once the socket
    /// buffers fill, the dialer sees no write progress, drops the connection and says why.
    @Test func aPeerThatStopsReadingIsDisconnected() throws {
        let listenFD = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
        defer { close(listenFD) }
        let stuckAddress = try #require(Socket.localAddress(listenFD))
        var limits = PeerTransport.Limits()
        limits.writeStallTimeoutMillis = 300
        limits.reconnectInitialMillis = 10_000  // one attempt is enough for this test
        limits.reconnectMaxMillis = 10_000
        let a = try TestPeer(id: 1, limits: limits)
        defer { a.shutdown() }
        a.transport.setPeers([2: stuckAddress])

        var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
        try #require(poll(&p, 1, 10_000) == 1, "node 1 never dialed")
        let fd = accept(listenFD, nil, nil)
        try #require(fd >= 0)
        defer { close(fd) }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        Socket.setTimeouts(fd, millis: 10_000)
        let stuck = RawServerSide(fd: fd)
        var acceptor = Handshake(role: .acceptor(allowedPeers: [1]), config: Handshake.Config(nodeID: 2, clusterID: "test", secret: TestPeer.secret))
        for case let .send(m) in acceptor.receive(try stuck.readFrame().payload) { stuck.write(Frame(type: 0, payload: m).encoded()) }
        #expect(acceptor.receive(try stuck.readFrame().payload) == [.established(peer: 1)])

        try eventually("node 1 connected") { a.connected(to: 2) }
        try eventually("node 1 gives up on the stalled peer", timeoutSeconds: 20) {
            _ = a.transport.send(to: 2, type: 1, payload: [UInt8](repeating: 1, count: 256 * 1024))
            usleep(2000)
            return !a.connected(to: 2)
        }
        let s = try #require(a.transport.status()[2])
        #expect(s.lastError == "no write progress for 300 ms")
        // The connection's state changes before its log line is written, on another thread.
        try eventually("the disconnect is logged with its reason") {
            a.logLines.contains { $0.contains("\"event\":\"peer_disconnected\"") && $0.contains("no write progress") }
        }
    }
}

/// The accepting end of a raw socket, driven by hand.
private struct RawServerSide {
    let fd: Int32
    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    /// Reads exactly one frame, byte by byte after the header (handshake frames are tiny).
    func readFrame() throws -> Frame {
        var decoder = FrameDecoder()
        var byte: UInt8 = 0
        while true {
            if let f = try decoder.next() { return f }
            guard recv(fd, &byte, 1, 0) == 1 else { throw TestFailure("peer closed or timed out during the handshake") }
            try decoder.feed([byte])
        }
    }
}
