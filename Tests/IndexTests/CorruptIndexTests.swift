import Chain
import Foundation
import Storage
import Testing
@testable import Index

/// Records that do not decode are never read as absent, empty or zero: the read throws
/// `CorruptIndex` naming the table and key (so apply stops and the indexer never starts over).
@Suite struct CorruptIndexTests {
    static func env() throws -> Environment { try Environment(path: NSTemporaryDirectory() + "corrupt-\(UUID().uuidString.prefix(8))") }

    @Test func aHeadOfTheWrongLengthIsCorruptNotEmpty() throws {
        let e = try Self.env()
        let ix = try ChainIndex(env: e)
        #expect(try ix.view { try $0.head(7) } == nil, "a chain never indexed has no head")
        try e.write { txn in try txn.put(ix.tables.heads, ChainKey.head(7, .latest), [1, 2, 3]) }
        #expect { _ = try ix.view { try $0.head(7) } } throws: { ($0 as? CorruptIndex)?.table == "chain_heads" && "\($0)".contains("3 bytes, not 40") }
    }

    @Test func aBadAccountOrSlotRecordIsCorruptNotZero() throws {
        let e = try Self.env()
        let ix = try ChainIndex(env: e)
        let a = try Address(hex: "0x00000000000000000000000000000000000000aa")
        #expect(try ix.request(chain: 7, upstream: nil) { try $0.state(.balance, of: a, at: 5) } == .zero, "an account never seen reads as zero")
        try e.write { txn in try txn.put(ix.tables.accounts, ChainKey.account(7, a, 3), [UInt8](repeating: 9, count: 10)) }
        #expect { _ = try ix.request(chain: 7, upstream: nil) { try $0.state(.balance, of: a, at: 5) } } throws: { ($0 as? CorruptIndex)?.table == "chain_accounts" }
        #expect { _ = try ix.request(chain: 7, upstream: nil) { try $0.state(.nonce, of: a, at: 5) } } throws: { $0 is CorruptIndex }
        let slot = Hash32.keccak([1])
        try e.write { txn in try txn.put(ix.tables.storage, Key(7).appending(bytes: a.bytes).appending(bytes: slot.bytes).appendingInverted(blockNumber: 3), [1]) }
        #expect { _ = try ix.request(chain: 7, upstream: nil) { try $0.state(.storage(slot), of: a, at: 4) } } throws: { ($0 as? CorruptIndex)?.table == "chain_storage" }
    }
}
