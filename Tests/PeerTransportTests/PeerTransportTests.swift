import TestSupport
import Foundation
import Net
import Telemetry
import Synchronization
import Testing
@testable import PeerTransport

/// Real transports on loopback. Transports share nothing but sockets, so each runs on its own loop.
@Suite(.serialized) struct PeerTransportTests {
    /// Sequence number (8 bytes) ‖ filler; receivers check order by the sequence.
    static func message(_ seq: Int, filler: Int) -> [UInt8] {
        var m = [UInt8]()
        appendBigEndian(UInt64(seq), to: &m)
        m.append(contentsOf: repeatElement(UInt8(truncatingIfNeeded: seq), count: filler))
        return m
    }

    static func sequence(_ payload: [UInt8]) -> Int { Int(payload.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }

    @Test func threeNodesExchangeThousandsOfMessagesInOrder() throws {
        let seed = SeededRandom.seed("three-node exchange")
        var rng = SeededRandom(seed: seed)
        let nodes = try (1...3).map { try TestPeer(id: UInt64($0)) }
        defer { nodes.forEach { $0.shutdown() } }
        try TestPeer.mesh(nodes)

        let perPair = 3000
        // Sizes vary from empty-ish to several socket buffers, so backpressure and
        // resumption on drain are exercised along with batching of small messages.
        var sizes = (0..<perPair).map { _ in Int.random(in: 0...600, using: &rng) }
        for i in stride(from: 0, to: perPair, by: 500) { sizes[i] = 512 * 1024 }
        let fixedSizes = sizes
        let senders = nodes.map { sender in
            Thread {
                for i in 0..<perPair {
                    for receiver in nodes where receiver.id != sender.id {
                        // A full queue is not an error for the transport, but this test must lose nothing: retry.
                        while !sender.transport.send(to: receiver.id, type: UInt8(1 + i % 200), payload: Self.message(i, filler: fixedSizes[i])) {
                            usleep(1000)
                        }
                    }
                }
            }
        }
        senders.forEach { $0.start() }
        try eventually("every message delivered", timeoutSeconds: 30) {
            nodes.allSatisfy { r in nodes.allSatisfy { s in s.id == r.id || r.inbox.count(from: s.id) == perPair } }
        }
        for r in nodes {
            for s in nodes where s.id != r.id {
                let got = r.inbox.messages(from: s.id)
                let inOrder = got.enumerated().allSatisfy { i, m in Self.sequence(m.payload) == i && m.type == UInt8(1 + i % 200) && m.payload.count == 8 + sizes[i] }
                #expect(inOrder, "seed \(seed): node \(r.id) received node \(s.id)'s messages out of order or altered")
                #expect(r.transport.status()[s.id]?.receivedMessages == UInt64(perPair))
            }
        }
    }

    @Test func reconnectsAfterThePeerRestarts() throws {
        let a = try TestPeer(id: 1, limits: Self.fastReconnect)
        var b = try TestPeer(id: 2, limits: Self.fastReconnect)
        defer { a.shutdown(); b.shutdown() }
        try TestPeer.mesh([a, b])
        #expect(a.transport.send(to: 2, type: 1, payload: [1]))
        try eventually("first message") { b.inbox.count(from: 1) == 1 }

        let port = b.address
        b.shutdown()
        try eventually("node 1 notices node 2 is gone") { !a.connected(to: 2) }
        try eventually("node 1 retries") { (a.transport.status()[2]?.reconnectAttempts ?? 0) >= 2 }
        #expect(a.transport.status()[2]?.lastError != nil)
        #expect(a.transport.status()[2]?.linkState == .reconnecting)

        b = try TestPeer(id: 2, limits: Self.fastReconnect, listen: port)
        b.transport.setPeers([1: a.address])
        try eventually("node 1 reconnects to the restarted node 2") { a.connected(to: 2) && b.connected(to: 1) }
        #expect(a.transport.status()[2]?.reconnectAttempts == 0)
        #expect(a.transport.status()[2]?.linkState == .connected)
        #expect((a.transport.status()[2]?.connectionsEstablished ?? 0) >= 2, "the link was established, lost and established again")
        // Messages sent around a reconnect may be dropped; once connected, they flow both ways.
        try eventually("messages flow again") {
            a.transport.send(to: 2, type: 7, payload: [2])
            b.transport.send(to: 1, type: 7, payload: [3])
            usleep(20_000)
            return b.inbox.count(from: 1) > 0 && a.inbox.count(from: 2) > 0
        }
        #expect(a.logLines.contains { $0.contains("\"event\":\"peer_disconnected\"") && $0.contains("\"peer\":2") })
    }

    /// A peer whose process is gone closes its sockets: the redial is refused and the peer
    /// is reported unreachable once, well before any election timeout. A peer that comes
    /// back and is lost again is reported again.
    @Test func reportsAPeerWhoseConnectionResetAndCannotBeRedialed() throws {
        let a = try TestPeer(id: 1, limits: Self.fastReconnect)
        var b = try TestPeer(id: 2, limits: Self.fastReconnect)
        defer { a.shutdown(); b.shutdown() }
        let reports = Mutex<[UInt64]>([])
        a.transport.onPeerUnreachable = { peer in reports.withLock { $0.append(peer) } }
        try TestPeer.mesh([a, b])
        #expect(reports.withLock { $0 }.isEmpty, "a healthy link is never reported")

        let port = b.address
        b.shutdown()
        try eventually("node 1 reports node 2 unreachable") { reports.withLock { $0 } == [2] }
        usleep(300_000)
        #expect(reports.withLock { $0 } == [2], "one report per loss, however many redials fail")
        #expect(a.logLines.contains { $0.contains("\"event\":\"peer_unreachable\"") && $0.contains("\"peer\":2") })

        b = try TestPeer(id: 2, limits: Self.fastReconnect, listen: port)
        b.transport.setPeers([1: a.address])
        try eventually("node 1 reconnects") { a.connected(to: 2) }
        b.shutdown()
        try eventually("the second loss is reported too") { reports.withLock { $0 } == [2, 2] }
    }

    /// Bytes are counted as frames on both sides, and the registry reads the same records.
    @Test func countsFramesAndBytesAndExposesThemAsMetrics() throws {
        let a = try TestPeer(id: 1), b = try TestPeer(id: 2)
        defer { a.shutdown(); b.shutdown() }
        try TestPeer.mesh([a, b])
        let registry = MetricsRegistry()
        a.transport.registerMetrics(in: registry)
        let sizes = [0, 1, 100, 70_000]
        for (i, n) in sizes.enumerated() { #expect(a.transport.send(to: 2, type: UInt8(1 + i), payload: [UInt8](repeating: 7, count: n))) }
        try eventually("every message delivered") { b.inbox.count(from: 1) == sizes.count }
        let frameBytes = UInt64(sizes.reduce(0) { $0 + $1 + Frame.headerByteCount })
        let sent = try #require(a.transport.status()[2])
        #expect(sent.sentMessages == UInt64(sizes.count) && sent.sentBytes == frameBytes)
        // lastError is not checked: under load a dial can fail before the peer listens
        // (CI saw it once) without changing what was counted on the one link that formed.
        #expect(sent.connectionsEstablished == 1 && sent.linkState == .connected, "last error: \(sent.lastError ?? "none")")
        let received = try #require(b.transport.status()[1])
        #expect(received.receivedMessages == UInt64(sizes.count) && received.receivedBytes == frameBytes)
        let m = registry.snapshot()
        #expect(m["peer_sent_bytes_total"]?.counter(["peer": "2"]) == frameBytes)
        #expect(m["peer_sent_messages_total"]?.counter(["peer": "2"]) == UInt64(sizes.count))
        #expect(m["peer_outbound_connected"]?.gauge(["peer": "2"]) == 1)
        #expect(m["peer_link_state"]?.gauge(["peer": "2", "state": "connected"]) == 1)
        #expect(m["peer_link_state"]?.gauge(["peer": "2", "state": "reconnecting"]) == 0)
        #expect(m["peer_connections_total"]?.counter(["peer": "2"]) == 1)
        #expect(m["peer_inbound_refused_total"]?.counter() == 0)
    }

    @Test func fullQueueDropsNewMessagesAndCountsThem() throws {
        // The peer accepts TCP but never answers the handshake, so nothing drains the queue.
        let mute = try TCPListener(address: SocketAddress(host: "127.0.0.1", port: 0), loop: EventLoop(name: "unused"))
        defer { Glibc.close(mute.fd) }
        var limits = PeerTransport.Limits()
        limits.maxQueuedMessages = 10
        limits.handshakeTimeoutMillis = 60_000
        let a = try TestPeer(id: 1, limits: limits)
        defer { a.shutdown() }
        a.transport.setPeers([2: mute.address])
        let accepted = (0..<50).map { a.transport.send(to: 2, type: 1, payload: [UInt8($0)]) }
        #expect(accepted == Array(repeating: true, count: 10) + Array(repeating: false, count: 40))
        let s = try #require(a.transport.status()[2])
        #expect(s.queuedMessages == 10 && s.queuedBytes == 10 && s.droppedMessages == 40 && !s.connected)
        #expect(!a.transport.send(to: 99, type: 1, payload: []), "an unknown peer is refused")
    }

    @Test func membershipChangesAddAndRemovePeers() throws {
        let a = try TestPeer(id: 1), b = try TestPeer(id: 2)
        defer { a.shutdown(); b.shutdown() }
        try TestPeer.mesh([a, b])
        let c = try TestPeer(id: 3)
        defer { c.shutdown() }
        a.transport.setPeers([2: b.address, 3: c.address])
        c.transport.setPeers([1: a.address])
        try eventually("node 3 joins") { a.connected(to: 3) && c.connected(to: 1) }
        #expect(a.transport.send(to: 3, type: 4, payload: [4]))
        try eventually("message to the new peer") { c.inbox.count(from: 1) == 1 }

        a.transport.setPeers([2: b.address])
        #expect(a.transport.status()[3] == nil)
        #expect(!a.transport.send(to: 3, type: 4, payload: [5]))
        // Node 1 no longer accepts node 3 either: its redial fails the handshake.
        try eventually("node 3 is refused by node 1") {
            a.logLines.contains { $0.contains("peer_handshake_failed") && $0.contains("node 3 is not a configured peer") }
        }
        #expect(!c.connected(to: 1))
        #expect(a.transport.send(to: 2, type: 4, payload: [6]))
        try eventually("remaining peer unaffected") { b.inbox.count(from: 1) == 1 }
    }

    static var fastReconnect: PeerTransport.Limits {
        var l = PeerTransport.Limits()
        l.reconnectInitialMillis = 20
        l.reconnectMaxMillis = 200
        return l
    }
}
