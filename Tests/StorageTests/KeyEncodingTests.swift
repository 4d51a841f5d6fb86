import TestSupport
import Testing
@testable import Storage

@Suite struct KeyEncodingTests {
    @Test func integersAreBigEndianSoByteOrderIsNumericOrder() {
        #expect(Key().appending(UInt64(0x0102_0304_0506_0708)).bytes == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Key().appending(UInt32(0x0A0B_0C0D)).bytes == [0x0A, 0x0B, 0x0C, 0x0D])
        #expect(Key().appending(UInt16(0x0102)).appending(UInt8(9)).bytes == [1, 2, 9])
        var rng = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            let a = UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            let b = UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            #expect((Key(a) < Key(b)) == (a < b), "\(a) vs \(b)")
        }
    }

    @Test func compositeKeysSortByFirstComponentThenNext() {
        let keys = [(2, 1), (1, 300), (1, 2), (2, 0)].map { Key(UInt64($0.0)).appending(UInt32($0.1)) }
        let expected = [(1, 2), (1, 300), (2, 0), (2, 1)].map { Key(UInt64($0.0)).appending(UInt32($0.1)) }
        #expect(keys.sorted() == expected)
    }

    @Test func invertedBlockNumbersSortNewestFirstAndReadBack() {
        let older = Key().appendingInverted(blockNumber: 10)
        let newer = Key().appendingInverted(blockNumber: 11)
        #expect(newer < older)
        var reader = KeyReader(Key([0xAA]).appendingInverted(blockNumber: 12345).appending(UInt16(7)))
        #expect(reader.readBytes(count: 1) == [0xAA])
        #expect(reader.readInvertedBlockNumber() == 12345)
        #expect(reader.readUInt16() == 7)
        #expect(reader.isAtEnd)
        #expect(reader.readUInt8() == nil, "reading past the end must fail softly")
    }

    @Test func prefixSuccessorSkipsTrailingFF() {
        #expect(KeyRange.successor(ofPrefix: [1, 2]) == [1, 3])
        #expect(KeyRange.successor(ofPrefix: [1, 0xFF, 0xFF]) == [2])
        #expect(KeyRange.successor(ofPrefix: [0xFF]) == nil)
        #expect(KeyRange.successor(ofPrefix: []) == nil)
    }

    /// The documented history lookup: `address ‖ ^number`, seek `>= address ‖ ^N`, gives
    /// the newest version at or below block N — checked exhaustively against a brute-force answer.
    @Test func latestVersionAtOrBelowBlockIsOneSeek() throws {
        try withTemporaryEnvironment { environment, _ in
            let accounts = try environment.table("accounts")
            let addresses: [[UInt8]] = [Array(repeating: 0x11, count: 20), Array(repeating: 0x22, count: 20), Array(repeating: 0xFF, count: 20)]
            var history: [[UInt8]: [UInt64]] = [:]
            var rng = SeededRandom(seed: 42)
            try environment.write { txn throws in
                for address in addresses {
                    let blocks = Set((0..<8).map { _ in UInt64.random(in: 1...200, using: &rng) }).sorted()
                    history[address] = blocks
                    for block in blocks {
                        try txn.put(accounts, Key(address).appendingInverted(blockNumber: block), Key(block))
                    }
                }
            }
            try environment.read { txn throws in
                for address in addresses {
                    for query in [0, 1, 50, 100, 199, 200, 201, UInt64.max] as [UInt64] {
                        let expected = history[address]!.last { $0 <= query }
                        let found = try txn.latestVersion(in: accounts, prefix: address, atOrBelow: query)
                        #expect(found?.block == expected, "address \(address[0]) at block \(query)")
                        #expect(found?.value == expected.map { Key($0).bytes })
                        // The raw seek the helper wraps:
                        let raw = try txn.withCursor(accounts) { cursor in
                            try cursor.seek(atLeast: Key(address).appendingInverted(blockNumber: query)) ? cursor.key : nil
                        }
                        if let expected {
                            #expect(raw == Key(address).appendingInverted(blockNumber: expected).bytes)
                        }
                    }
                }
            }
        }
    }
}
