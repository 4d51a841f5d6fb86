import ByteCodec
import Chain
import Foundation
import Storage
import Testing
@testable import ChainIndex

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

    // MARK: apply's invariants

    static let cid: UInt64 = 7

    /// Blocks `first...first+count-1`, each with one transaction and one account change.
    static func blocks(from first: UInt64, count: Int, parent: Hash32 = Hash32.keccak([0])) -> [ChainCommand.BlockPayload] {
        var parent = parent
        return (0..<count).map { k in
            let n = first + UInt64(k)
            let hash = Hash32.keccak(Array("block \(n)".utf8))
            let tx: JSONValue = .object(["hash": .string(Hash32.keccak(Array("tx \(n)".utf8)).hex)])
            let block: JSONValue = .object(["number": .string(Hex.encodeQuantity(n)), "hash": .string(hash.hex), "parentHash": .string(parent.hex),
                                            "transactions": .array([tx])])
            let who = Address(unchecked: [UInt8](repeating: UInt8(k + 1), count: 20))
            defer { parent = hash }
            return ChainCommand.BlockPayload(number: n, hash: hash, parentHash: parent, block: Array(JSON.serialize(block).utf8), receipts: Array("[]".utf8),
                                             state: StateChanges(post: [.init(address: who, balance: U256(UInt64(n)), code: [0x60, UInt8(k)])], source: .probe))
        }
    }

    /// An index holding blocks 5...7.
    static func indexed() throws -> (Environment, ChainIndex, [ChainCommand.BlockPayload]) {
        let e = try env()
        let ix = try ChainIndex(env: e)
        let bs = blocks(from: 5, count: 3)
        let out = try e.write { txn in try ix.apply(.blocks(chainId: cid, blocks: bs, safe: nil, finalized: nil), in: txn) }
        guard out.applied == [5, 6, 7] else { throw DecodeError("setup applied \(out.applied), skipped \(out.skipped)") }
        return (e, ix, bs)
    }

    static func next(_ bs: [ChainCommand.BlockPayload]) -> ChainCommand {
        .blocks(chainId: cid, blocks: blocks(from: 8, count: 1, parent: bs[2].hash), safe: nil, finalized: nil)
    }

    @Test func aVanishedLatestHeadStopsApplyInsteadOfStartingOver() throws {
        let (e, ix, bs) = try Self.indexed()
        try e.write { txn in _ = try txn.delete(ix.tables.heads, ChainKey.head(Self.cid, .latest)) }
        // Without the check, any block would be taken as the chain's first and indexing would restart there.
        let restart = ChainCommand.blocks(chainId: Self.cid, blocks: Self.blocks(from: 100, count: 1), safe: nil, finalized: nil)
        for command in [Self.next(bs), restart, .rewind(chainId: Self.cid, ancestor: 5, ancestorHash: bs[0].hash)] {
            #expect { _ = try e.write { txn in try ix.apply(command, in: txn) } } throws: { error in
                let c = error as? CorruptIndex
                return c?.table == "chain_heads" && c?.key == "chain 7 latest" && "\(error)".contains("missing while blocks from 5 are indexed")
            }
        }
    }

    @Test func aLatestHeadNamingNoIndexedBlockStopsApply() throws {
        let (e, ix, bs) = try Self.indexed()
        let elsewhere = Hash32.keccak([42])
        try e.write { txn in try txn.put(ix.tables.heads, ChainKey.head(Self.cid, .latest), ChainIndex.headValue(7, elsewhere)) }
        #expect { _ = try e.write { txn in try ix.apply(Self.next(bs), in: txn) } } throws: { error in
            (error as? CorruptIndex)?.table == "chain_heads" && "\(error)".contains("names block 7 \(elsewhere), which is not indexed at that number")
        }
        // A head one block off its stored number is as wrong as a head naming nothing.
        try e.write { txn in try txn.put(ix.tables.heads, ChainKey.head(Self.cid, .latest), ChainIndex.headValue(8, bs[2].hash)) }
        #expect { _ = try e.write { txn in try ix.apply(.rewind(chainId: Self.cid, ancestor: 5, ancestorHash: bs[0].hash), in: txn) } } throws: { $0 is CorruptIndex }
    }

    @Test func aRewoundBlockWithoutItsUndoRecordStopsTheRewind() throws {
        let (e, ix, bs) = try Self.indexed()
        try e.write { txn in _ = try txn.delete(ix.tables.undo, ChainKey.block(Self.cid, 6)) }
        #expect { _ = try e.write { txn in try ix.apply(.rewind(chainId: Self.cid, ancestor: 5, ancestorHash: bs[0].hash), in: txn) } } throws: { error in
            let c = error as? CorruptIndex
            return c?.table == "chain_undo" && c?.key == "chain 7 block 6" && "\(error)".contains("no undo record")
        }
        // The rewind's transaction aborted whole: block 7, removed before 6 was reached, is still there.
        #expect(try ix.view { try $0.head(Self.cid) }?.number == 7)
        #expect(try ix.view { try $0.blockNumber(Self.cid, hash: bs[2].hash) } == 7)
    }

    @Test func anUndoRecordThatDoesNotDecodeStopsTheRewind() throws {
        let (e, ix, bs) = try Self.indexed()
        func rewindFails(with problem: String) {
            #expect { _ = try e.write { txn in try ix.apply(.rewind(chainId: Self.cid, ancestor: 6, ancestorHash: bs[1].hash), in: txn) } } throws: { error in
                (error as? CorruptIndex)?.table == "chain_undo" && "\(error)".contains(problem)
            }
        }
        var unknownTable = ByteWriter(); unknownTable.u32(1); unknownTable.u8(9); unknownTable.data([1, 2, 3])
        try e.write { txn in try txn.put(ix.tables.undo, ChainKey.block(Self.cid, 7), unknownTable.bytes) }
        rewindFails(with: "names state table 9")
        try e.write { txn in try txn.put(ix.tables.undo, ChainKey.block(Self.cid, 7), [0, 0, 0, 5, 1]) }
        rewindFails(with: "undo record")
        var trailing = ByteWriter(); trailing.u32(0); trailing.u8(1)
        try e.write { txn in try txn.put(ix.tables.undo, ChainKey.block(Self.cid, 7), trailing.bytes) }
        rewindFails(with: "undo record")
    }

    @Test func aBlockMissingBelowTheHeadStopsTheRewind() throws {
        let (e, ix, bs) = try Self.indexed()
        try e.write { txn in _ = try txn.delete(ix.tables.blocks, ChainKey.block(Self.cid, 6)) }
        #expect { _ = try e.write { txn in try ix.apply(.rewind(chainId: Self.cid, ancestor: 5, ancestorHash: bs[0].hash), in: txn) } } throws: { error in
            (error as? CorruptIndex)?.table == "chain_blocks" && "\(error)".contains("chain 7 block 6: missing below the latest head (rewinding from head 7)")
        }
    }

    @Test func missingCodeIsCorruptNotEmpty() throws {
        let (e, ix, bs) = try Self.indexed()
        let who = try #require(bs[1].state.post.first?.address)
        #expect(try ix.request(chain: Self.cid, upstream: nil) { try $0.state(.code, of: who, at: 6) } == [0x60, 1])
        try e.write { txn in _ = try txn.delete(ix.tables.code, Hash32.keccak([0x60, 1]).bytes) }
        #expect { _ = try ix.request(chain: Self.cid, upstream: nil) { try $0.state(.code, of: who, at: 6) } } throws: { error in
            (error as? CorruptIndex)?.table == "chain_code" && (error as? CorruptIndex)?.key == Hash32.keccak([0x60, 1]).hex
        }
    }
}
