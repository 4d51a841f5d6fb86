import Foundation
import Net
import Testing
import TestSupport
@testable import PeerTransport

/// Peer links over TLS 1.3 with certificates from a cluster CA (made by `Certificates`,
/// as `infrastack certs` does): both sides must present one, and the HMAC handshake with
/// the cluster secret still runs inside, so neither a certificate nor the secret alone is enough.
@Suite(.serialized) struct PeerTLSTests {
    static func pki(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "infrastack-pki-\(name)-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Certificates.createAuthority(in: dir, name: "test \(name) CA", days: 2)
        for id in 1...3 { try Certificates.issue(caDirectory: dir, commonName: "infrastack-node-\(id)", hosts: ["127.0.0.1", "localhost"], days: 2, out: "\(dir)/node-\(id)") }
        return dir
    }

    static func tls(_ dir: String, _ id: Int, ca: String? = nil) throws -> PeerTransport.TLS {
        try PeerTransport.TLS(caFile: ca ?? "\(dir)/ca.pem", certificateFile: "\(dir)/node-\(id).pem", privateKeyFile: "\(dir)/node-\(id).key")
    }

    @Test func tlsPeersExchangeMessages() throws {
        let dir = try Self.pki("ok")
        let a = try TestPeer(id: 1, tls: try Self.tls(dir, 1)), b = try TestPeer(id: 2, tls: try Self.tls(dir, 2))
        defer { a.shutdown(); b.shutdown() }
        try TestPeer.mesh([a, b])
        for i in 0..<200 { #expect(a.transport.send(to: 2, type: 1, payload: Array(repeating: UInt8(i & 0xff), count: 10_000))) }
        try eventually("200 messages over TLS") { b.inbox.count(from: 1) == 200 }
        #expect(b.inbox.messages(from: 1)[199].payload == Array(repeating: 199, count: 10_000))
    }

    static func expectRefused(_ attacker: TestPeer, by victim: TestPeer, reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        attacker.transport.setPeers([victim.id: victim.address])
        victim.transport.setPeers([attacker.id: attacker.address])
        try eventually("the victim logs the refusal") {
            victim.logLines.contains { $0.contains("peer_handshake_failed") && $0.contains(reason) }
        }
        usleep(300_000)
        #expect(!victim.connected(to: attacker.id) && !attacker.connected(to: victim.id), sourceLocation: sourceLocation)
        #expect(attacker.transport.send(to: victim.id, type: 1, payload: [1]))
        usleep(300_000)
        #expect(victim.inbox.count(from: attacker.id) == 0, "nothing from the refused peer is delivered", sourceLocation: sourceLocation)
    }

    @Test func certificateFromAnotherCAIsRefused() throws {
        let dir = try Self.pki("ours"), other = try Self.pki("theirs")
        var limits = PeerTransport.Limits()
        limits.handshakeTimeoutMillis = 1000
        let victim = try TestPeer(id: 1, limits: limits, tls: try Self.tls(dir, 1))
        // Knows the secret, trusts our CA, but its own certificate is from another CA.
        let attacker = try TestPeer(id: 2, limits: limits, tls: try Self.tls(other, 2, ca: "\(dir)/ca.pem"))
        defer { victim.shutdown(); attacker.shutdown() }
        try Self.expectRefused(attacker, by: victim, reason: "certificate")
    }

    @Test func rightCertificateWithoutTheSecretIsRefused() throws {
        let dir = try Self.pki("nosecret")
        var limits = PeerTransport.Limits()
        limits.handshakeTimeoutMillis = 1000
        let victim = try TestPeer(id: 1, limits: limits, tls: try Self.tls(dir, 1))
        let attacker = try TestPeer(id: 2, limits: limits, secret: Array("not-the-cluster-secret".utf8), tls: try Self.tls(dir, 2))
        defer { victim.shutdown(); attacker.shutdown() }
        try Self.expectRefused(attacker, by: victim, reason: "handshake")
        #expect(!victim.logLines.contains { $0.contains("not-the-cluster-secret") })
    }

    @Test func plainTCPToATLSPeerIsRefused() throws {
        let dir = try Self.pki("plain")
        var limits = PeerTransport.Limits()
        limits.handshakeTimeoutMillis = 1000
        let victim = try TestPeer(id: 1, limits: limits, tls: try Self.tls(dir, 1))
        let plain = try TestPeer(id: 2, limits: limits)
        defer { victim.shutdown(); plain.shutdown() }
        try Self.expectRefused(plain, by: victim, reason: "TLS")
    }
}
