import Testing
@testable import PeerTransport

@Suite struct HandshakeTests {
    static let secret = Array("correct horse battery staple".utf8)
    static func config(_ node: UInt64, cluster: String = "c1", secret: [UInt8] = HandshakeTests.secret, version: UInt16 = Handshake.protocolVersion) -> Handshake.Config {
        Handshake.Config(nodeID: node, clusterID: cluster, secret: secret, protocolVersion: version)
    }

    /// Runs both machines against each other until neither has anything to send; returns each side's terminal actions.
    static func run(_ dialer: inout Handshake, _ acceptor: inout Handshake) -> (dialer: [Handshake.Action], acceptor: [Handshake.Action]) {
        var dialerOutcomes = [Handshake.Action](), acceptorOutcomes = [Handshake.Action]()
        var toAcceptor = [[UInt8]](), toDialer = [[UInt8]]()
        func route(_ actions: [Handshake.Action], to queue: inout [[UInt8]], outcomes: inout [Handshake.Action]) {
            for a in actions { if case let .send(m) = a { queue.append(m) } else { outcomes.append(a) } }
        }
        route(dialer.start(), to: &toAcceptor, outcomes: &dialerOutcomes)
        while !toAcceptor.isEmpty || !toDialer.isEmpty {
            if !toAcceptor.isEmpty { route(acceptor.receive(toAcceptor.removeFirst()), to: &toDialer, outcomes: &acceptorOutcomes) }
            if !toDialer.isEmpty { route(dialer.receive(toDialer.removeFirst()), to: &toAcceptor, outcomes: &dialerOutcomes) }
        }
        return (dialerOutcomes, acceptorOutcomes)
    }

    @Test func mutualAuthenticationSucceeds() {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1))
        var a = Handshake(role: .acceptor(allowedPeers: [1, 3]), config: Self.config(2))
        let r = Self.run(&d, &a)
        #expect(r.dialer == [.established(peer: 2)])
        #expect(r.acceptor == [.established(peer: 1)])
        #expect(d.peer == 2 && a.peer == 1)
    }

    @Test func wrongVersionIsRejected() {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1, version: 9))
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
        let r = Self.run(&d, &a)
        #expect(r.acceptor == [.failed(.unsupportedVersion(peer: 9, local: 1))])
        #expect(r.dialer == [.failed(.rejectedByPeer("peer speaks protocol version 9, this node speaks version 1"))])
    }

    @Test func wrongClusterIsRejected() {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1, cluster: "other"))
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
        let r = Self.run(&d, &a)
        #expect(r.acceptor == [.failed(.clusterMismatch(peer: "other", local: "c1"))])
        guard case .failed(.rejectedByPeer(let reason)) = r.dialer.first else { Issue.record("dialer: \(r.dialer)"); return }
        #expect(reason.contains("cluster \"other\""))
    }

    @Test func acceptorRefusesUnconfiguredNode() {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(7))
        var a = Handshake(role: .acceptor(allowedPeers: [1, 3]), config: Self.config(2))
        #expect(Self.run(&d, &a).acceptor == [.failed(.unknownNode(7))])
    }

    @Test func acceptorRefusesItsOwnID() {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(2))
        var a = Handshake(role: .acceptor(allowedPeers: [1, 2]), config: Self.config(2))
        #expect(Self.run(&d, &a).acceptor == [.failed(.unknownNode(2))])
    }

    @Test func dialerRefusesAnUnexpectedNode() {
        // Dialed node 3's address, but node 2 answers (stale membership, wrong address).
        var d = Handshake(role: .dialer(expectedPeer: 3), config: Self.config(1))
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
        let r = Self.run(&d, &a)
        #expect(r.dialer == [.failed(.unexpectedNode(got: 2, expected: 3))])
        guard case .failed(.rejectedByPeer) = r.acceptor.first else { Issue.record("acceptor: \(r.acceptor)"); return }
    }

    @Test func dialerWithWrongSecretIsRejectedByAcceptor() {
        // The dialer checks the acceptor's proof first, so to reach the acceptor's check the
        // test forges the dialer's half by hand with the wrong secret.
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2), nonce: [UInt8](repeating: 2, count: 32))
        let dialerNonce = [UInt8](repeating: 1, count: 32)
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1, secret: Array("wrong".utf8)), nonce: dialerNonce)
        guard case let .send(hello) = d.start().first, case .send = a.receive(hello).first else { Issue.record("no hello exchange"); return }
        let forged = Handshake.proof(secret: Array("wrong".utf8), role: "dialer", clusterID: "c1", dialerID: 1, acceptorID: 2,
                                     dialerNonce: dialerNonce, acceptorNonce: [UInt8](repeating: 2, count: 32))
        let actions = a.receive([Handshake.MessageKind.proof.rawValue] + forged)
        #expect(actions.last == .failed(.badProof(peer: 1)))
        #expect(!a.isEstablished)
    }

    @Test func acceptorWithWrongSecretIsRejectedByDialer() {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1))
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2, secret: Array("wrong".utf8)))
        let r = Self.run(&d, &a)
        #expect(r.dialer == [.failed(.badProof(peer: 2))])
        #expect(!a.isEstablished)
    }

    @Test func proofFromAnotherSessionDoesNotReplay() {
        // A recorded dialer proof is bound to both nonces, so it fails against a fresh acceptor nonce.
        let dialerNonce = [UInt8](repeating: 1, count: 32)
        var d1 = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1), nonce: dialerNonce)
        var a1 = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2), nonce: [UInt8](repeating: 5, count: 32))
        guard case let .send(hello) = d1.start().first, case let .send(reply) = a1.receive(hello).first,
              case let .send(recordedProof) = d1.receive(reply).first else { Issue.record("setup failed"); return }
        var a2 = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2), nonce: [UInt8](repeating: 6, count: 32))
        _ = a2.receive(hello)
        #expect(a2.receive(recordedProof).last == .failed(.badProof(peer: 1)))
    }

    @Test func malformedAndOutOfOrderMessagesFail() {
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
        guard case .failed(.malformed) = a.receive([]).last else { Issue.record("empty message accepted"); return }
        var b = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
        guard case .failed(.unexpectedMessage) = b.receive([Handshake.MessageKind.proof.rawValue] + [UInt8](repeating: 0, count: 32)).last else {
            Issue.record("proof before hello accepted"); return
        }
        var c = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
        guard case .failed(.malformed) = c.receive([1, 0, 1, 0, 0]).last else { Issue.record("truncated hello accepted"); return }
    }

    @Test func secretNeverAppearsInDescriptionsOrRejections() {
        let secretText = String(decoding: Self.secret, as: UTF8.self)
        #expect(!Self.config(1).description.contains(secretText))
        #expect(!"\(Self.config(1))".contains(secretText))
        var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1))
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2, secret: Array("wrong".utf8)))
        let r = Self.run(&d, &a)
        for action in r.dialer + r.acceptor {
            #expect(!"\(action)".contains(secretText))
        }
    }
}
