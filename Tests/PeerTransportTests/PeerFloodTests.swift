#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Net
import Testing
@testable import PeerTransport

/// Connections that never authenticate must not keep a real peer out of the Raft port.
@Suite(.serialized) struct PeerFloodTests {
    static func pending(_ sources: [(String, Bool)]) -> [(source: String, fromPeerHost: Bool)] { sources.map { ($0.0, $0.1) } }

    @Test func admissionKeepsSlotsForPeersAndCapsEachStranger() {
        var limits = PeerTransport.Limits()
        limits.maxUnauthenticatedInbound = 8
        limits.maxUnauthenticatedPerSource = 2
        limits.reservedForPeers = 3
        let decide = { (source: String, peer: Bool, pending: [(String, Bool)]) in
            InboundAdmission.decide(source: source, fromPeerHost: peer, pending: Self.pending(pending), limits: limits)
        }
        #expect(decide("10.0.0.9", false, []) == .admit)
        // One stranger address holds at most maxUnauthenticatedPerSource.
        guard case .refuse(let perSource) = decide("10.0.0.9", false, [("10.0.0.9", false), ("10.0.0.9", false)]) else {
            Issue.record("a third connection from one stranger must be refused"); return
        }
        #expect(perSource.contains("at most 2 per address"))
        // Strangers together leave the reserve: 5 of 8 slots.
        let five = (1...5).map { ("10.0.1.\($0)", false) }
        guard case .refuse(let full) = decide("10.0.2.1", false, five) else { Issue.record("strangers must leave the reserve"); return }
        #expect(full.contains("5 handshake slots for unknown addresses"))
        // ... which a peer's address still gets.
        #expect(decide("10.0.0.2", true, five) == .admit)
        // A peer address past its share replaces its own oldest pending connection, then the oldest stranger's.
        let peerFlood = [("10.0.1.1", false), ("10.0.0.2", true), ("10.0.0.2", true), ("10.0.0.2", true)]
        #expect(decide("10.0.0.2", true, peerFlood) == .admitReplacing(1))
        let allFull = (1...5).map { ("10.0.1.\($0)", false) } + [("10.0.0.3", true), ("10.0.0.4", true), ("10.0.0.5", true)]
        #expect(decide("10.0.0.2", true, allFull) == .admitReplacing(0))
    }

    @Test func refusalLogIsRateLimited() {
        var r = InboundRefusals()
        #expect(r.shouldLog("stranger", nowMillis: 1000) == 0)
        #expect(r.shouldLog("stranger", nowMillis: 1200) == nil)
        #expect(r.shouldLog("stranger", nowMillis: 1500) == nil)
        #expect(r.shouldLog("peer-host", nowMillis: 1500) == 0, "kinds are limited separately")
        #expect(r.shouldLog("stranger", nowMillis: 2001) == 2, "the next line says how many were not logged")
    }

    /// Two meshed peers whose handshake deadline outlasts the test, so a flood holds its slots throughout.
    static func meshedPair() throws -> (TestPeer, TestPeer, PeerTransport.Limits) {
        var limits = PeerTransport.Limits()
        limits.handshakeTimeoutMillis = 60_000
        let a = try TestPeer(id: 1, limits: limits), b = try TestPeer(id: 2, limits: limits)
        try TestPeer.mesh([a, b])
        return (a, b, limits)
    }

    /// Node 2 restarts (new process, same port) and dials node 1 again: its messages must arrive.
    static func restartAndDeliver(_ a: TestPeer, _ b: inout TestPeer, _ limits: PeerTransport.Limits, count: Int) throws {
        let port = b.address.port
        b.shutdown()
        b = try TestPeer(id: 2, limits: limits, listen: SocketAddress(host: "127.0.0.1", port: port))
        b.transport.setPeers([1: a.address])
        for i in 0..<count { #expect(b.transport.send(to: 1, type: 1, payload: [UInt8(i)])) }
        try eventually("restarted peer delivers through the flood") { a.inbox.count(from: 2) >= count }
    }

    /// 80 connections from other addresses held open (never authenticating, with a handshake
    /// deadline longer than the test) while a peer restarts: it must get back in at once.
    @Test func restartedPeerRejoinsThroughAFlood() throws {
        var (a, b, limits) = try Self.meshedPair()
        defer { a.shutdown(); b.shutdown() }

        var flood = [RawClient]()
        var refusedAtConnect = 0
        for i in 0..<80 {
            let source = "127.0.\(1 + i / 40).\(2 + i % 20)"
            do { flood.append(try RawClient(to: a.address, from: source)) } catch { refusedAtConnect += 1 }
        }
        #expect(refusedAtConnect == 0, "the kernel accepts every connection; the transport decides")
        try eventually("strangers beyond their slots are refused") { a.transport.refusedInbound >= 80 - UInt64(limits.maxUnauthenticatedInbound - limits.reservedForPeers) }
        let refusalLines = a.logLines.filter { $0.contains("\"event\":\"peer_connection_refused\"") }.count
        #expect(refusalLines >= 1 && refusalLines < Int(a.transport.refusedInbound), "refusals are logged, rate-limited (\(refusalLines) lines)")

        try Self.restartAndDeliver(a, &b, limits, count: 20)
        #expect(flood.count == 80)
    }

    /// A flood from a peer's own address (a shared NAT, or loopback in development) cannot
    /// lock that peer out either: its newest connection replaces the oldest pending one.
    @Test func floodFromAPeersAddressDoesNotLockItOut() throws {
        var (a, b, limits) = try Self.meshedPair()
        defer { a.shutdown(); b.shutdown() }
        let flood = try (0..<80).map { _ in try RawClient(to: a.address) }
        try Self.restartAndDeliver(a, &b, limits, count: 10)
        #expect(flood.count == 80)
    }
}
