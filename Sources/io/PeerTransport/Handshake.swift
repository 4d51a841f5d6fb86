import ByteCodec
import Hashing
/// The peer handshake as a pure state machine: bytes in, bytes and outcomes out, no I/O.
///
///     dialer   → acceptor   hello{version, nodeID, nonce, clusterID}
///     acceptor → dialer     hello{…its own…} ‖ proof(role "acceptor")
///     dialer   → acceptor   proof(role "dialer")
///
/// proof = HMAC-SHA-256(secret, "infrastack-peer-v1" ‖ role ‖ len ‖ clusterID ‖
///                      dialerID ‖ acceptorID ‖ dialerNonce ‖ acceptorNonce)
///
/// Each side contributes a fresh nonce, so neither proof can be replayed from an earlier
/// session, and the role in the transcript stops a proof being reflected back. The side
/// that detects a failure sends a `reject` carrying the reason (never the secret) so the
/// other side's log says why, then both close.
///
/// Handshake messages travel in frames of type 0 (`Handshake.frameType`).
public struct Handshake: Sendable {
    public static let frameType: UInt8 = 0
    public static let protocolVersion: UInt16 = 1
    public static let nonceByteCount = 32
    static let transcriptLabel = Array("infrastack-peer-v1".utf8)
    /// Handshake messages are tiny; this bounds what an unauthenticated peer can make us buffer.
    public static let maxMessageBytes = 1024

    public struct Config: Sendable, CustomStringConvertible {
        public var nodeID: UInt64
        public var clusterID: String
        public var secret: [UInt8]
        public var protocolVersion: UInt16

        public init(nodeID: UInt64, clusterID: String, secret: [UInt8], protocolVersion: UInt16 = Handshake.protocolVersion) {
            precondition(!clusterID.isEmpty && clusterID.utf8.count <= 255, "cluster id must be 1–255 UTF-8 bytes")
            precondition(!secret.isEmpty, "the cluster secret must not be empty")
            self.nodeID = nodeID
            self.clusterID = clusterID
            self.secret = secret
            self.protocolVersion = protocolVersion
        }

        /// Never shows the secret, so logging or interpolating a config cannot leak it.
        public var description: String { "Handshake.Config(node \(nodeID), cluster \"\(clusterID)\", version \(protocolVersion), secret redacted)" }
    }

    public enum Role: Sendable, Equatable {
        /// Dialed `expectedPeer`: the answer must come from that node.
        case dialer(expectedPeer: UInt64)
        /// Accepted a connection: the dialer must be one of `allowedPeers`.
        case acceptor(allowedPeers: Set<UInt64>)
    }

    /// What the caller must do after feeding the machine.
    public enum Action: Sendable, Equatable {
        /// Send this payload in a frame of type `Handshake.frameType`.
        case send([UInt8])
        /// The peer is authenticated; it is this node.
        case established(peer: UInt64)
        /// The handshake failed; close the connection (after sending any preceding `.send`).
        case failed(HandshakeFailure)
    }

    enum MessageKind: UInt8 {
        case hello = 1, helloWithProof = 2, proof = 3, reject = 4
    }

    private enum State: Sendable {
        case initial, awaitingHelloReply, awaitingHello, awaitingProof(dialer: UInt64, dialerNonce: [UInt8])
        case established(peer: UInt64), failed
    }

    public let role: Role
    private let config: Config
    private let nonce: [UInt8]
    private var state: State

    /// `nonce` is injectable so tests are reproducible; production uses the system's CSPRNG.
    public init(role: Role, config: Config, nonce: [UInt8]? = nil) {
        var rng = SystemRandomNumberGenerator()
        let n = nonce ?? (0..<Self.nonceByteCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
        precondition(n.count == Self.nonceByteCount, "handshake nonce must be \(Self.nonceByteCount) bytes")
        self.role = role
        self.config = config
        self.nonce = n
        if case .dialer = role { state = .initial } else { state = .awaitingHello }
    }

    /// The authenticated peer, once established.
    public var peer: UInt64? { if case let .established(p) = state { return p } else { return nil } }
    public var isEstablished: Bool { peer != nil }

    /// The dialer's opening message; empty for the acceptor, who speaks second.
    public mutating func start() -> [Action] {
        guard case .dialer = role, case .initial = state else { return [] }
        state = .awaitingHelloReply
        return [.send(helloBytes(kind: .hello))]
    }

    /// Feeds one received handshake message (the payload of a type-0 frame).
    public mutating func receive(_ message: [UInt8]) -> [Action] {
        var reader = ByteReader(message, what: "handshake message")
        guard let kindByte = try? reader.u8() else { return fail(.malformed("empty handshake message")) }
        guard let kind = MessageKind(rawValue: kindByte) else { return fail(.malformed("unknown handshake message kind \(kindByte)")) }
        if kind == .reject {
            // A rejection is final whatever state we were in, including just after the dialer
            // sent its proof and already counted the session as established.
            let reason = String(decoding: reader.rest().prefix(256), as: UTF8.self)
            state = .failed
            return [.failed(.rejectedByPeer(HandshakeFailure.printable(reason)))]
        }
        switch (state, kind) {
        case (.awaitingHello, .hello):
            return acceptorReceivedHello(&reader)
        case (.awaitingHelloReply, .helloWithProof):
            return dialerReceivedReply(&reader)
        case let (.awaitingProof(dialer, dialerNonce), .proof):
            guard let proof = try? reader.raw(HMACSHA256.byteCount), reader.isAtEnd else { return fail(.malformed("proof must be exactly \(HMACSHA256.byteCount) bytes")) }
            let expected = Self.proof(secret: config.secret, role: "dialer", clusterID: config.clusterID,
                                      dialerID: dialer, acceptorID: config.nodeID, dialerNonce: dialerNonce, acceptorNonce: nonce)
            guard ConstantTime.equals(proof, expected) else { return fail(.badProof(peer: dialer)) }
            state = .established(peer: dialer)
            return [.established(peer: dialer)]
        default:
            return fail(.unexpectedMessage("\(kind) while \(stateName)"))
        }
    }

    private mutating func acceptorReceivedHello(_ reader: inout ByteReader) -> [Action] {
        guard case let .acceptor(allowed) = role else { return fail(.unexpectedMessage("hello sent to the dialer")) }
        let hello: Hello
        switch Hello.parse(&reader, localVersion: config.protocolVersion) {
        case let .success(h): hello = h
        case let .failure(f): return fail(f)
        }
        guard reader.isAtEnd else { return fail(.malformed("trailing bytes after hello")) }
        guard hello.clusterID == config.clusterID else { return fail(.clusterMismatch(peer: hello.clusterID, local: config.clusterID)) }
        guard allowed.contains(hello.nodeID), hello.nodeID != config.nodeID else { return fail(.unknownNode(hello.nodeID)) }
        state = .awaitingProof(dialer: hello.nodeID, dialerNonce: hello.nonce)
        var reply = helloBytes(kind: .helloWithProof)
        reply.append(contentsOf: Self.proof(secret: config.secret, role: "acceptor", clusterID: config.clusterID,
                                            dialerID: hello.nodeID, acceptorID: config.nodeID, dialerNonce: hello.nonce, acceptorNonce: nonce))
        return [.send(reply)]
    }

    private mutating func dialerReceivedReply(_ reader: inout ByteReader) -> [Action] {
        guard case let .dialer(expectedPeer) = role else { return fail(.unexpectedMessage("hello reply sent to the acceptor")) }
        let hello: Hello
        switch Hello.parse(&reader, localVersion: config.protocolVersion) {
        case let .success(h): hello = h
        case let .failure(f): return fail(f)
        }
        guard let proof = try? reader.raw(HMACSHA256.byteCount), reader.isAtEnd else { return fail(.malformed("hello reply must end with a \(HMACSHA256.byteCount)-byte proof")) }
        guard hello.clusterID == config.clusterID else { return fail(.clusterMismatch(peer: hello.clusterID, local: config.clusterID)) }
        guard hello.nodeID == expectedPeer else { return fail(.unexpectedNode(got: hello.nodeID, expected: expectedPeer)) }
        let expected = Self.proof(secret: config.secret, role: "acceptor", clusterID: config.clusterID,
                                  dialerID: config.nodeID, acceptorID: hello.nodeID, dialerNonce: nonce, acceptorNonce: hello.nonce)
        guard ConstantTime.equals(proof, expected) else { return fail(.badProof(peer: hello.nodeID)) }
        state = .established(peer: hello.nodeID)
        let ours = Self.proof(secret: config.secret, role: "dialer", clusterID: config.clusterID,
                              dialerID: config.nodeID, acceptorID: hello.nodeID, dialerNonce: nonce, acceptorNonce: hello.nonce)
        return [.send([MessageKind.proof.rawValue] + ours), .established(peer: hello.nodeID)]
    }

    /// Moves to `failed` and tells the peer why, unless the peer is the one who rejected.
    private mutating func fail(_ failure: HandshakeFailure) -> [Action] {
        if case .failed = state { return [.failed(failure)] }
        state = .failed
        return [.send([MessageKind.reject.rawValue] + Array(failure.description.utf8.prefix(256))), .failed(failure)]
    }

    private var stateName: String {
        switch state {
        case .initial: return "not started"
        case .awaitingHelloReply: return "awaiting the hello reply"
        case .awaitingHello: return "awaiting hello"
        case .awaitingProof: return "awaiting the dialer's proof"
        case .established: return "established"
        case .failed: return "failed"
        }
    }

    private func helloBytes(kind: MessageKind) -> [UInt8] {
        var out: [UInt8] = [kind.rawValue, UInt8(config.protocolVersion >> 8), UInt8(truncatingIfNeeded: config.protocolVersion)]
        appendBigEndian(config.nodeID, to: &out)
        out.append(contentsOf: nonce)
        let cluster = Array(config.clusterID.utf8)
        out.append(UInt8(cluster.count))
        out.append(contentsOf: cluster)
        return out
    }

    static func proof(secret: [UInt8], role: String, clusterID: String, dialerID: UInt64, acceptorID: UInt64,
                      dialerNonce: [UInt8], acceptorNonce: [UInt8]) -> [UInt8] {
        var transcript = transcriptLabel + Array(role.utf8)
        let cluster = Array(clusterID.utf8)
        transcript.append(UInt8(cluster.count))
        transcript.append(contentsOf: cluster)
        appendBigEndian(dialerID, to: &transcript)
        appendBigEndian(acceptorID, to: &transcript)
        transcript.append(contentsOf: dialerNonce)
        transcript.append(contentsOf: acceptorNonce)
        return HMACSHA256.authenticationCode(for: transcript, key: secret)
    }
}

/// The fields both sides announce. The version comes first so a future format can still
/// be recognised (and refused with a clear reason) by this one.
private struct Hello {
    var version: UInt16
    var nodeID: UInt64
    var nonce: [UInt8]
    var clusterID: String

    static func parse(_ r: inout ByteReader, localVersion: UInt16) -> Result<Hello, HandshakeFailure> {
        guard let v = try? r.u16() else { return .failure(.malformed("hello too short for a protocol version")) }
        guard v == localVersion else { return .failure(.unsupportedVersion(peer: v, local: localVersion)) }
        guard let id = try? r.u64(), let nonce = try? r.raw(Handshake.nonceByteCount), let len = try? r.u8(), let cluster = try? r.raw(Int(len)) else {
            return .failure(.malformed("hello truncated"))
        }
        return .success(Hello(version: v, nodeID: id, nonce: nonce, clusterID: String(decoding: cluster, as: UTF8.self)))
    }
}

/// Why a handshake failed. Descriptions name what was wrong and never include the secret.
public enum HandshakeFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupportedVersion(peer: UInt16, local: UInt16)
    case clusterMismatch(peer: String, local: String)
    /// The dialer reached a node other than the one it dialed.
    case unexpectedNode(got: UInt64, expected: UInt64)
    /// The acceptor does not have this node among its configured peers.
    case unknownNode(UInt64)
    case badProof(peer: UInt64)
    case malformed(String)
    case unexpectedMessage(String)
    case rejectedByPeer(String)

    public var description: String {
        switch self {
        case let .unsupportedVersion(peer, local):
            return "peer speaks protocol version \(peer), this node speaks version \(local)"
        case let .clusterMismatch(peer, local):
            return "peer belongs to cluster \"\(Self.printable(peer))\", this node to cluster \"\(Self.printable(local))\""
        case let .unexpectedNode(got, expected):
            return "dialed node \(expected) but the peer identifies as node \(got)"
        case let .unknownNode(id):
            return "node \(id) is not a configured peer of this node"
        case let .badProof(peer):
            return "node \(peer) failed to prove knowledge of the cluster secret (proof mismatch)"
        case let .malformed(what):
            return "malformed handshake message: \(what)"
        case let .unexpectedMessage(what):
            return "unexpected handshake message: \(what)"
        case let .rejectedByPeer(reason):
            return "peer rejected the handshake: \(reason)"
        }
    }

    /// Peer-supplied text shortened and stripped of control characters before it reaches a log.
    static func printable(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.prefix(200).filter { $0.value >= 0x20 && $0.value != 0x7f }))
    }
}
