import Hashing
import Foundation
import Testing
import TestSupport
@testable import Net

@Suite struct SHA1Tests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// FIPS 180 (and its example documents) test vectors.
    @Test func fipsVectors() {
        let vectors: [(String, String)] = [
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
             "a49b2446a02c645bf419f995b67091253a04a259"),
        ]
        for (input, digest) in vectors {
            #expect(Self.hex(SHA1.hash(Array(input.utf8))) == digest, "SHA-1(\"\(input)\")")
        }
        // One million "a", fed in uneven pieces to exercise the streaming path.
        var h = SHA1()
        var fed = 0
        var piece = 1
        while fed < 1_000_000 {
            let n = min(piece, 1_000_000 - fed)
            h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            fed += n
            piece = piece % 997 + 13
        }
        #expect(Self.hex(h.finalized()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// RFC 6455 §1.3's worked example of the accept value.
    @Test func webSocketAcceptExample() {
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    /// Every length around the padding boundaries and many random inputs, against Python's hashlib.
    @Test func agreesWithHashlib() throws {
        guard let python = try ReferencePython.orSkip("SHA1Tests.agreesWithHashlib") else { return }
        let seed = SeededRandom.seed("SHA1Tests.agreesWithHashlib")
        var rng = SeededRandom(seed: seed)
        var inputs = (0..<200).map { rng.bytes($0) }
        for _ in 0..<300 { inputs.append(rng.bytes(Int.random(in: 0...5000, using: &rng))) }
        let lines = inputs.map { Self.hex($0) }.joined(separator: "\n") + "\n"
        let script = "import hashlib, sys\nfor line in sys.stdin:\n    print(hashlib.sha1(bytes.fromhex(line.strip())).hexdigest())\n"
        let expected = try ReferencePython.run(python, ["-c", script], input: Data(lines.utf8)).split(separator: "\n").map(String.init)
        try #require(expected.count == inputs.count, "python answered \(expected.count) of \(inputs.count) inputs")
        for (i, input) in inputs.enumerated() {
            #expect(Self.hex(SHA1.hash(input)) == expected[i], "input \(i) (\(input.count) bytes), seed \(seed)")
            // The same input streamed in random pieces must give the same digest.
            var h = SHA1()
            var rest = input[...]
            while !rest.isEmpty {
                let n = Int.random(in: 1...max(1, rest.count), using: &rng)
                h.update(Array(rest.prefix(n)))
                rest = rest.dropFirst(n)
            }
            #expect(Self.hex(h.finalized()) == expected[i], "streamed input \(i), seed \(seed)")
        }
    }
}
