import Hashing
import TestSupport
import Foundation
import Testing
@testable import PeerTransport

@Suite struct SHA256Tests {
    @Test func fipsExampleVectors() {
        // FIPS 180-4 examples (NIST CSRC "SHA256.pdf" and "SHA2_Additional").
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func oneMillionA() {
        var h = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { h.update(chunk) }
        #expect(hex(h.finalized()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == h.finalized())
    }

    @Test func streamingMatchesOneShotAcrossSplits() {
        var rng = SeededRandom(seed: SeededRandom.seed("SHA256 streaming splits"))
        for _ in 0..<300 {
            let message = rng.bytes(Int.random(in: 0...300, using: &rng))
            var h = SHA256()
            var i = 0
            while i < message.count {
                let n = Int.random(in: 0...(message.count - i), using: &rng)
                h.update(Array(message[i..<(i + n)]))
                i += n
            }
            #expect(h.finalized() == SHA256.hash(message))
        }
    }
}

@Suite struct HMACTests {
    /// RFC 4231 §4.2–4.8, HMAC-SHA-256 results (case 5 is truncated to 128 bits by the RFC).
    @Test(arguments: [
        (1, String(repeating: "0b", count: 20), hex(Array("Hi There".utf8)),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (2, hex(Array("Jefe".utf8)), hex(Array("what do ya want for nothing?".utf8)),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (3, String(repeating: "aa", count: 20), String(repeating: "dd", count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (4, "0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (5, String(repeating: "0c", count: 20), hex(Array("Test With Truncation".utf8)),
         "a3b6167473100ee06e0c796c2955552b"),
        (6, String(repeating: "aa", count: 131), hex(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (7, String(repeating: "aa", count: 131),
         hex(Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8)),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func rfc4231(testCase: Int, key: String, data: String, expected: String) {
        let mac = hex(HMACSHA256.authenticationCode(for: unhex(data), key: unhex(key)))
        #expect(mac.hasPrefix(expected), "RFC 4231 test case \(testCase)")
    }

    @Test func streamingMatchesOneShot() {
        var mac = HMACSHA256(key: Array("key".utf8))
        mac.update(Array("The quick brown fox ".utf8))
        mac.update(Array("jumps over the lazy dog".utf8))
        #expect(hex(mac.finalized()) == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    }

    @Test func constantTimeEquals() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }
}

@Suite struct PythonCrossCheckTests {
    /// Thousands of random messages and keys (lengths straddling the 55/56/64-byte padding
    /// and block boundaries, keys shorter and longer than a block) against hashlib and hmac.
    @Test func sha256AndHMACAgreeWithPython() throws {
        let seed = SeededRandom.seed("SHA-256/HMAC Python cross-check")
        var rng = SeededRandom(seed: seed)
        var cases: [(message: [UInt8], key: [UInt8])] = []
        for i in 0..<3000 {
            let length = i < 200 ? i : (i % 10 == 0 ? Int.random(in: 0...5000, using: &rng) : Int.random(in: 0...200, using: &rng))
            cases.append((rng.bytes(length), rng.bytes(Int.random(in: 0...150, using: &rng))))
        }
        let request = cases.map { ["m": hex($0.message), "k": hex($0.key)] }
        let script = """
        import hashlib, hmac, json, sys
        out = []
        for c in json.load(sys.stdin):
            m, k = bytes.fromhex(c["m"]), bytes.fromhex(c["k"])
            out.append([hashlib.sha256(m).hexdigest(), hmac.new(k, m, hashlib.sha256).hexdigest()])
        json.dump(out, sys.stdout)
        """
        let answer = try PythonReference.run(script: script, input: try JSONSerialization.data(withJSONObject: request))
        let expected = try #require(try JSONSerialization.jsonObject(with: answer) as? [[String]])
        try #require(expected.count == cases.count)
        var mismatches = 0
        for (i, c) in cases.enumerated() {
            let sha = hex(SHA256.hash(c.message)), mac = hex(HMACSHA256.authenticationCode(for: c.message, key: c.key))
            if sha != expected[i][0] || mac != expected[i][1] {
                mismatches += 1
                if mismatches <= 3 {
                    Issue.record("seed \(seed), case \(i): message \(c.message.count) bytes, key \(c.key.count) bytes: sha \(sha) vs \(expected[i][0]), hmac \(mac) vs \(expected[i][1])")
                }
            }
        }
        #expect(mismatches == 0, "seed \(seed): \(mismatches) of \(cases.count) disagreed with Python")
    }
}

/// The bit-at-a-time definition (reflected polynomial 0x82F63B78).
private func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    return ~c
}

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // RFC 3720 (iSCSI) appendix B.4.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0...31)) == 0x46DD_794E)
        #expect(CRC32C.checksum(Array((0...31).reversed())) == 0x113F_DB5C)
    }

    @Test func streamingMatchesOneShot() {
        var c = CRC32C()
        c.update(Array("1234".utf8))
        c.update(byte: UInt8(ascii: "5"))
        c.update(Array("6789".utf8))
        #expect(c.value == 0xE306_9283)
    }

    /// The eight-bytes-at-a-time path against the bitwise definition, at every length
    /// around the word size and every split point of a streamed update.
    @Test func slicedPathMatchesTheBitwiseDefinition() {
        var rng = SystemRandomNumberGenerator()
        for length in Array(0...40) + [255, 1024, 4099] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let expected = bitwiseCRC32C(bytes)
            #expect(CRC32C.checksum(bytes) == expected, "length \(length)")
            let split = length == 0 ? 0 : Int.random(in: 0...length, using: &rng)
            var c = CRC32C()
            c.update(Array(bytes[..<split])); c.update(Array(bytes[split...]))
            #expect(c.value == expected, "length \(length) split at \(split)")
            // Unaligned start: the same bytes one past a word boundary.
            let shifted = [0] + bytes
            shifted.withUnsafeBytes { raw in
                var u = CRC32C(); u.update(UnsafeRawBufferPointer(rebasing: raw[1...]))
                #expect(u.value == expected, "unaligned, length \(length)")
            }
        }
    }
}
