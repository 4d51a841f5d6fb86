import Foundation
import Testing
import TestSupport
@testable import PeerTransport

/// Seeded fuzzing of what a stranger can send to the Raft port before and after the
/// handshake: frame headers built around the edges (all-ones and sign-bit lengths, the
/// limit and one past it), valid streams truncated at every byte, random mutations and
/// chunkings, and handshake messages truncated and mutated. Each case must end in a clean
/// typed error or a valid result, never a trap. INFRASTACK_FUZZ_SEED replays a run;
/// INFRASTACK_FUZZ_ITERATIONS sets how many random cases (chaos/parser-fuzz runs many).
@Suite struct PeerParserFuzzTests {
    static let iterations = Fuzz.iterations(ci: 2000)

    static func header(length: UInt32, type: UInt8 = 1, crc: UInt32 = 0) -> [UInt8] {
        var out = [UInt8]()
        for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        out.append(type)
        for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        return out
    }

    @Test func frameLengthsAtTheEdges() throws {
        let limit = 1024
        for length: UInt32 in [.max, 0x8000_0000, 0x7FFF_FFFF, 0xFFFF_FFFE, UInt32(limit + 1), 1 << 31 | 5] {
            var d = FrameDecoder(maxPayloadBytes: limit)
            #expect(throws: FrameError.oversized(declaredBytes: length, limitBytes: limit)) { try d.feed(Self.header(length: length)) }
            #expect(d.bufferedByteCount <= Frame.headerByteCount, "an oversized frame is refused before its payload is buffered")
            #expect(throws: FrameError.self) { _ = try d.next() }   // and the decoder stays failed
        }
        // At the limit, with a wrong checksum: refused once the payload is in, not before.
        var d = FrameDecoder(maxPayloadBytes: limit)
        try d.feed(Self.header(length: UInt32(limit), crc: 0xDEAD_BEEF))
        #expect(try d.next() == nil)
        try d.feed([UInt8](repeating: 7, count: limit))
        #expect(throws: FrameError.self) { _ = try d.next() }
    }

    @Test func framesTruncatedMutatedAndChunked() throws {
        for seed in Fuzz.seeds("framesTruncatedMutatedAndChunked") {
            var rng = SeededRandom(seed: seed)
            var stream = [UInt8](), frames = [Frame]()
            for _ in 0..<8 {
                let f = Frame(type: UInt8.random(in: 1...255, using: &rng), payload: rng.bytes(Int.random(in: 0...300, using: &rng)))
                frames.append(f)
                stream += f.encoded()
            }
            // Truncated at every byte: the complete frames before the cut, then nil — never an error.
            for cut in 0...stream.count {
                var d = FrameDecoder(maxPayloadBytes: 1024)
                try d.feed(Array(stream[0..<cut]))
                var got = [Frame]()
                while let f = try d.next() { got.append(f) }
                #expect(got == Array(frames.prefix(got.count)), "seed \(seed): cut at \(cut)")
            }
            for i in 0..<Self.iterations {
                var mutated = stream
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = Int.random(in: 0..<mutated.count, using: &rng)
                    // Mostly the header bytes, where lengths live.
                    mutated[Bool.random(using: &rng) ? at % Frame.headerByteCount : at] = Bool.random(using: &rng) ? 0xFF : UInt8.random(in: 0...255, using: &rng)
                }
                var d = FrameDecoder(maxPayloadBytes: 1024)
                var offset = 0
                do {
                    while offset < mutated.count {
                        let n = min(mutated.count - offset, Int.random(in: 1...64, using: &rng))
                        try d.feed(Array(mutated[offset..<(offset + n)]))
                        offset += n
                        while let f = try d.next() { #expect(f.payload.count <= 1024, "seed \(seed) case \(i)") }
                    }
                } catch {
                    #expect(d.failure != nil, "seed \(seed) case \(i): an error leaves the decoder failed")
                }
            }
        }
    }

    static func config(_ node: UInt64) -> Handshake.Config {
        Handshake.Config(nodeID: node, clusterID: "fuzz", secret: Array("fuzzing-cluster-secret".utf8))
    }

    /// A valid transcript between dialer 1 and acceptor 2 with fixed nonces: hello, reply, proof.
    static func transcript() -> (hello: [UInt8], reply: [UInt8], proof: [UInt8]) {
        var d = Handshake(role: .dialer(expectedPeer: 2), config: config(1), nonce: [UInt8](repeating: 1, count: 32))
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: config(2), nonce: [UInt8](repeating: 2, count: 32))
        func sent(_ actions: [Handshake.Action]) -> [UInt8] {
            for case let .send(m) in actions { return m }
            return []
        }
        let hello = sent(d.start())
        let reply = sent(a.receive(hello))
        let proof = sent(d.receive(reply))
        return (hello, reply, proof)
    }

    /// Feeds the acceptor a hello and a proof; true when it authenticated the dialer.
    static func acceptorEstablishes(_ hello: [UInt8], _ proof: [UInt8]) -> Bool {
        var a = Handshake(role: .acceptor(allowedPeers: [1]), config: config(2), nonce: [UInt8](repeating: 2, count: 32))
        let first = a.receive(hello)
        if first.contains(where: { if case .failed = $0 { true } else { false } }) { return false }
        return a.receive(proof).contains(.established(peer: 1))
    }

    @Test func handshakeMessagesTruncatedAndMutated() {
        for seed in Fuzz.seeds("handshakeMessagesTruncatedAndMutated") {
            var rng = SeededRandom(seed: seed)
            let t = Self.transcript()
            #expect(!t.hello.isEmpty && !t.reply.isEmpty && !t.proof.isEmpty)
            #expect(Self.acceptorEstablishes(t.hello, t.proof), "the valid transcript authenticates")
            for cut in 0..<t.hello.count { #expect(!Self.acceptorEstablishes(Array(t.hello[0..<cut]), t.proof), "seed \(seed): hello cut at \(cut)") }
            for cut in 0..<t.proof.count { #expect(!Self.acceptorEstablishes(t.hello, Array(t.proof[0..<cut])), "seed \(seed): proof cut at \(cut)") }
            // The dialer side too: a truncated reply never authenticates the acceptor.
            for cut in 0..<t.reply.count {
                var d = Handshake(role: .dialer(expectedPeer: 2), config: Self.config(1), nonce: [UInt8](repeating: 1, count: 32))
                _ = d.start()
                #expect(!d.receive(Array(t.reply[0..<cut])).contains(.established(peer: 2)), "seed \(seed): reply cut at \(cut)")
            }
            for i in 0..<Self.iterations {
                var hello = t.hello, proof = t.proof
                let target = Bool.random(using: &rng)
                if target { hello[Int.random(in: 0..<hello.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
                else { proof[Int.random(in: 0..<proof.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
                if Int.random(in: 0..<4, using: &rng) == 0 { hello += rng.bytes(Int.random(in: 1...2000, using: &rng)) }
                #expect(!Self.acceptorEstablishes(hello, proof), "seed \(seed) case \(i): a mutated transcript must not authenticate")
                // Garbage of any length in any state: a clean failure.
                var a = Handshake(role: .acceptor(allowedPeers: [1]), config: Self.config(2))
                _ = a.receive(rng.bytes(Int.random(in: 0...1100, using: &rng)))
            }
        }
    }
}
