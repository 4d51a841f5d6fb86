import TestSupport
import Testing
@testable import Chain

@Suite struct HexTests {
    @Test func quantitiesFollowTheSpec() throws {
        #expect(Hex.encodeQuantity(0) == "0x0")
        #expect(Hex.encodeQuantity(0x41) == "0x41")
        #expect(Hex.encodeQuantity(1024) == "0x400")
        #expect(try Hex.decodeQuantity("0x0") == 0)
        #expect(try Hex.decodeQuantity("0x400") == 1024)
        #expect(try Hex.decodeQuantity("0xFfFf") == 0xffff)
        #expect(throws: HexError.emptyQuantity) { try Hex.decodeQuantity("0x") }
        #expect(throws: HexError.leadingZero("0x0400")) { try Hex.decodeQuantity("0x0400") }
        #expect(throws: HexError.leadingZero("0x00")) { try Hex.decodeQuantity("0x00") }
        #expect(throws: HexError.missingPrefix("ff")) { try Hex.decodeQuantity("ff") }
        #expect(throws: HexError.invalidCharacter("0x1g", offset: 3)) { try Hex.decodeQuantity("0x1g") }
        #expect(throws: HexError.tooLarge("0x10000000000000000", maxBits: 64)) { try Hex.decodeQuantity("0x10000000000000000") }
        #expect(Hex.encodeQuantity(bytes: [0, 0, 1, 0]) == "0x100")
        #expect(Hex.encodeQuantity(bytes: [UInt8]()) == "0x0")
        #expect(try Hex.decodeQuantityBytes("0x100") == [1, 0])
        #expect(try Hex.decodeQuantityBytes("0x0") == [])
    }

    @Test func dataFollowsTheSpec() throws {
        #expect(Hex.encode([UInt8]()) == "0x")
        #expect(Hex.encode([0x00, 0x0f, 0xab]) == "0x000fab")
        #expect(try Hex.decodeData("0x") == [])
        #expect(try Hex.decodeData("0x004200") == [0, 0x42, 0])
        #expect(throws: HexError.oddLength("0xf0f")) { try Hex.decodeData("0xf0f") }
        #expect(throws: HexError.missingPrefix("004200")) { try Hex.decodeData("004200") }
        #expect(throws: HexError.invalidCharacter("0xzz", offset: 2)) { try Hex.decodeData("0xzz") }
        #expect(throws: HexError.wrongLength("0x00", expected: 20, actual: 1)) { try Hex.decodeData("0x00", length: 20) }
    }

    @Test func errorsNameTheProblem() {
        let e = HexError.leadingZero("0x0400")
        #expect(e.description.contains("0x0400") && e.description.contains("leading zero"))
    }

    @Test func randomRoundTrip() throws {
        let seed = SeededRandom.seed()
        var rng = SeededRandom(seed: seed)
        for _ in 0..<2000 {
            let b = rng.bytes(Int.random(in: 0...64, using: &rng))
            #expect(try Hex.decodeData(Hex.encode(b)) == b, "seed \(seed)")
            let q = rng.next() >> UInt64.random(in: 0...63, using: &rng)
            #expect(try Hex.decodeQuantity(Hex.encodeQuantity(q)) == q, "seed \(seed)")
            #expect(Hex.encodeQuantity(q) == "0x" + String(q, radix: 16), "seed \(seed)")
        }
    }
}

@Suite struct AddressTests {
    // The EIP-55 specification's own examples.
    static let eip55 = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
    ]

    @Test(arguments: eip55) func checksumMatchesEIP55(_ s: String) throws {
        let a = try Address(hex: s.lowercased())
        #expect(a.checksummed == s)
        #expect(try Address(hex: s) == a)
    }

    @Test func badChecksumIsRefused() {
        #expect(throws: AddressError.badChecksum("0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed")) {
            try Address(hex: "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        }
        #expect(throws: AddressError.self) { try Address(hex: "0x1234") }
    }
}

@Suite struct JSONTests {
    @Test func parsesAndKeepsOrder() throws {
        let v = try JSON.parse(#"{"b":1,"a":[true,false,null,"x\u00e9\n"],"c":{"d":-1.5e3}}"#)
        #expect(v.objectValue?.keys == ["b", "a", "c"])
        #expect(v["a"]?.arrayValue?[3] == .string("xé\n"))
        #expect(v["c"]?["d"] == .number("-1.5e3"))
        #expect(JSON.serialize(v) == #"{"b":1,"a":[true,false,null,"xé\n"],"c":{"d":-1.5e3}}"#)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":1,}", "01", "\"\\x\"", "tru", "{\"a\":1,\"a\":2}", "[1] 2", "\"\u{01}\"", "\"\\ud800\""])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func depthIsLimited() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
    }

    @Test func surrogatePairs() throws {
        #expect(try JSON.parse(#""\ud83d\ude00""#) == .string("😀"))
    }
}
