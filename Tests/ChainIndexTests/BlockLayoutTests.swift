import ByteCodec
import Chain
import Foundation
import Storage
import Testing
@testable import ChainIndex

/// Version-2 entries carry where each transaction, receipt and log sits; a replica that
/// uses the shipped layout must store exactly what one that finds it itself stores, and a
/// layout pointing outside its JSON must be refused at decode.
@Suite struct BlockLayoutTests {
    static func realPayload() throws -> ChainCommand.BlockPayload {
        let dir = ChainIndexTests.fixtures.appendingPathComponent("chains/ethereum-mainnet")
        func load(_ name: String) throws -> JSONValue {
            guard let d = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else { throw DecodeError("fixture \(name) missing") }
            return try JSON.parse(Array(d))
        }
        let block = try load("block_17053184.json"), receipts = try load("receipts_17053184.json")
        let o = block.objectValue!
        return ChainCommand.BlockPayload(number: try o.quantity("number"), hash: try o.hash("hash"), parentHash: try o.hash("parentHash"),
                                         block: Array(JSON.serialize(block).utf8), receipts: Array(JSON.serialize(receipts).utf8),
                                         state: StateChanges(source: .unrecorded))
    }

    /// Every table's entries, in order.
    static func dump(_ e: Environment) throws -> [String: [Entry]] {
        var out = [String: [Entry]]()
        for name in ChainTables.names {
            let t = try e.table(name)
            out[name] = try e.read { txn in try txn.entries(in: t) }
        }
        return out
    }

    @Test(.enabled(if: ChainIndexTests.present)) func theShippedLayoutStoresWhatAReplicaWouldFindItself() throws {
        let p = try Self.realPayload()
        let decoded = try ChainCommand.decode(ChainCommand.blocks(chainId: 1, blocks: [p], safe: nil, finalized: nil).encoded())
        guard case .blocks(_, let blocks, _, _) = decoded else { Issue.record("decoded \(decoded)"); return }
        let shipped = try #require(blocks[0].layout, "a version-2 entry carries the layout")
        let found = try BlockLayout(block: p.block, receipts: p.receipts)
        #expect(shipped == found)
        #expect(found.transactions.count == 125 && !found.logs.isEmpty, "\(found.transactions.count) transactions, \(found.logs.count) logs")

        var tables = [[String: [Entry]]]()
        for payload in [blocks[0], p] {   // with the shipped layout; with none (as a version-1 entry)
            let e = try Environment(path: NSTemporaryDirectory() + "layout-\(UUID().uuidString.prefix(8))")
            let ix = try ChainIndex(env: e)
            let out = try e.write { txn in try ix.apply(.blocks(chainId: 1, blocks: [payload], safe: nil, finalized: nil), in: txn) }
            #expect(out.applied == [p.number] && out.skipped.isEmpty, "\(out.skipped)")
            tables.append(try Self.dump(e))
        }
        #expect(tables[0] == tables[1])
        #expect(tables[0]["chain_logsByTopic"]?.count ?? 0 > found.logs.count, "topics were indexed")
    }

    /// The leader notes the layout while serializing; it must write the bytes `JSON.write`
    /// writes and find the layout a replica's scan finds, or none where the scan fails.
    @Test func serializingNotesTheLayoutAReplicaWouldFind() throws {
        var cases = [(JSONValue, [JSONValue])]()
        if ChainIndexTests.present {
            let p = try Self.realPayload()
            cases.append((try JSON.parse(p.block), try JSON.parse(p.receipts).arrayValue ?? []))
        }
        let hash = JSONValue.string(Hash32.keccak([1]).hex)
        let log: JSONValue = .object(["address": .string("0x00000000000000000000000000000000000000AA"), "logIndex": .string("0x7"),
                                      "topics": .array([.string(Hash32.keccak([2]).hex), .string("not a topic"), .string(Hash32.keccak([3]).hex)])])
        cases += [
            (.object(["number": .string("0x1"), "transactions": .array([.object(["hash": hash])])]), [.object(["logs": .array([log])])]),
            (.object(["transactions": .array([])]), [.string("odd receipt"), .object(["status": .string("0x1")])]),
            (.object(["transactions": .array([.object(["nohash": hash])])]), []),              // no layout
            (.object(["number": .string("0x1")]), []),                                          // no transactions: none
            (.object(["transactions": .array([])]), [.object(["logs": .string("x")])]),         // logs not an array: none
            (.object(["transactions": .array([])]), [.object(["logs": .array([.object(["address": .string("0x1")])])])]),
            (.array([]), []),
        ]
        for (i, (block, receipts)) in cases.enumerated() {
            let (b, r, layout) = BlockLayout.serializing(block: block, receipts: receipts)
            #expect(b == Array(JSON.serialize(block).utf8), "case \(i): block bytes")
            #expect(r == Array(JSON.serialize(.array(receipts)).utf8), "case \(i): receipt bytes")
            let scanned = try? BlockLayout(block: b, receipts: r)
            #expect(layout == scanned, "case \(i): layout \(String(describing: layout)) vs scan \(String(describing: scanned))")
        }
    }

    @Test func aLayoutPointingOutsideItsJSONIsRefused() throws {
        let block = Array(#"{"transactions":[{"hash":"0x1111111111111111111111111111111111111111111111111111111111111111"}]}"#.utf8)
        let receipts = Array(#"[{"logs":[{"address":"0x00000000000000000000000000000000000000aa","topics":[],"logIndex":"0x0"}]}]"#.utf8)
        let layout = try BlockLayout(block: block, receipts: receipts)
        #expect(layout.transactions.count == 1 && layout.receipts.count == 1 && layout.logs.count == 1)
        func decode(_ l: BlockLayout, blockBytes: Int = block.count, receiptBytes: Int = receipts.count) throws -> BlockLayout {
            var w = ByteWriter(); l.encode(into: &w)
            var r = ByteReader(w.bytes, what: "test")
            return try BlockLayout.decode(&r, blockBytes: blockBytes, receiptBytes: receiptBytes)
        }
        #expect(try decode(layout) == layout)
        for (what, damaged, blockBytes, receiptBytes) in [
            ("the block is shorter", layout, block.count - 5, receipts.count),
            ("the receipts are shorter", layout, block.count, receipts.count - 5),
        ] {
            #expect(throws: DecodeError.self, "\(what)") { _ = try decode(damaged, blockBytes: blockBytes, receiptBytes: receiptBytes) }
        }
        var outside = layout
        outside.transactions[0].range = 0..<3   // starts before the transactions array
        #expect(throws: DecodeError.self) { _ = try decode(outside) }
        var tooManyTopics = layout
        tooManyTopics.logs[0].topics = (0..<5).map { BlockLayout.Topic(position: UInt8($0 % 4), value: Hash32.keccak([UInt8($0)])) }
        #expect(throws: DecodeError.self) { _ = try decode(tooManyTopics) }
    }
}
