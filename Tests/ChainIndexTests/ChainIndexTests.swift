import ByteCodec
import Chain
import Foundation
import Storage
import Testing
@testable import ChainIndex

/// Applies a real mainnet block (with its receipts) and synthetic state changes, then
/// checks every read path against the fixture and against brute force.
@Suite struct ChainIndexTests {
    static var fixtures: URL {
        if let p = ProcessInfo.processInfo.environment["INFRASTACK_FIXTURES"], !p.isEmpty { return URL(fileURLWithPath: p) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/fixtures").standardizedFileURL
    }
    static var present: Bool {
        let ok = FileManager.default.fileExists(atPath: fixtures.appendingPathComponent("SOURCES.md").path)
        if !ok && ProcessInfo.processInfo.environment["INFRASTACK_REQUIRE_REFERENCES"] != "1" { print("SKIP: fixtures not found at \(fixtures.path)") }
        return ok || ProcessInfo.processInfo.environment["INFRASTACK_REQUIRE_REFERENCES"] == "1"
    }

    func load(_ rel: String) throws -> JSONValue {
        guard let d = FileManager.default.contents(atPath: Self.fixtures.appendingPathComponent(rel).path) else { throw DecodeError("fixture \(rel) missing") }
        return try JSON.parse(Array(d))
    }

    func env() throws -> Environment {
        let dir = NSTemporaryDirectory() + "ix-\(UUID().uuidString.prefix(8))"
        return try Environment(path: dir)
    }

    func payload(_ block: JSONValue, _ receipts: JSONValue, state: StateChanges) throws -> ChainCommand.BlockPayload {
        let o = block.objectValue!
        return ChainCommand.BlockPayload(number: try o.quantity("number"), hash: try o.hash("hash"), parentHash: try o.hash("parentHash"),
                                         block: Array(JSON.serialize(block).utf8), receipts: Array(JSON.serialize(receipts).utf8), state: state)
    }

    @Test(.enabled(if: present)) func realBlockRoundTripsEveryQuery() throws {
        let block = try load("chains/ethereum-mainnet/block_17053184.json")
        let receipts = try load("chains/ethereum-mainnet/receipts_17053184.json")
        let e = try env()
        let ix = try ChainIndex(env: e)
        let cid: UInt64 = 1
        let who = try Address(hex: "0x00000000219ab540356cbb839cbe05303d7705fa")
        let slot = Hash32.keccak([1])
        let state = StateChanges(pre: [.init(address: who, balance: U256(100), nonce: 1, code: [0x60, 0x00], storage: [(slot, Hash32.keccak([2]))])],
                                 post: [.init(address: who, balance: U256(250), storage: [(slot, Hash32.keccak([3]))])], source: .prestateTracer)
        let p = try payload(block, receipts, state: state)
        let cmd = ChainCommand.blocks(chainId: cid, blocks: [p], safe: p.number, finalized: nil)
        #expect(try ChainCommand.decode(cmd.encoded()) == cmd, "entry encoding round-trips")
        let outcome = try e.write { txn in try ix.apply(cmd, in: txn) }
        #expect(outcome.applied == [p.number] && outcome.skipped.isEmpty)

        // Blocks: full form equals the upstream object exactly; hashes form lists the hashes.
        #expect(try ix.view { try $0.block(cid, number: p.number, fullTransactions: true) } == block)
        let hashesForm = try #require(try ix.view { try $0.block(cid, number: p.number, fullTransactions: false) })
        let txs = block["transactions"]!.arrayValue!
        #expect(hashesForm["transactions"]?.arrayValue == txs.map { $0["hash"]! })
        #expect(try ix.view { try $0.blockNumber(cid, hash: p.hash) } == p.number)
        #expect(try ix.view { try $0.head(cid) }?.number == p.number && ix.view { try $0.head(cid, .safe) }?.number == p.number)

        // Transactions and receipts by hash and position.
        for (i, t) in txs.enumerated() where i % 10 == 0 {
            let h = try Hash32(hex: t["hash"]!.stringValue!)
            #expect(try ix.view { try $0.transaction(cid, hash: h) } == t)
            #expect(try ix.view { try $0.transaction(cid, block: p.number, index: UInt32(i)) } == t)
            #expect(try ix.view { try $0.receipt(cid, hash: h) } == receipts.arrayValue![i])
        }
        #expect(try ix.view { try $0.receipts(cid, block: p.number) } == receipts.arrayValue!)

        // Logs through the indexes equal a brute-force scan of the receipts.
        let allLogs = receipts.arrayValue!.flatMap { $0["logs"]!.arrayValue! }
        #expect(!allLogs.isEmpty)
        #expect(try ix.view { try $0.logs(cid, .init(fromBlock: 0, toBlock: .max)) } == allLogs)
        let someAddress = try Address(hex: allLogs[0]["address"]!.stringValue!.lowercased())
        let byAddress = allLogs.filter { $0["address"]!.stringValue!.lowercased() == someAddress.hex }
        #expect(try ix.view { try $0.logs(cid, .init(fromBlock: p.number, toBlock: p.number, addresses: [someAddress])) } == byAddress)
        let topic0 = try Hash32(hex: allLogs[0]["topics"]!.arrayValue![0].stringValue!)
        let byTopic = allLogs.filter { $0["topics"]!.arrayValue!.first?.stringValue == topic0.hex }
        #expect(try ix.view { try $0.logs(cid, .init(fromBlock: 0, toBlock: .max, topics: [[topic0]])) } == byTopic)
        #expect(try ix.view { try $0.logs(cid, .init(fromBlock: p.number + 1, toBlock: .max, topics: [[topic0]])) }.isEmpty)
        #expect(throws: ChainIndex.TooManyResults.self) { try ix.view { try $0.logs(cid, .init(fromBlock: 0, toBlock: .max), limit: 3) } }

        // State: pre values answer the block before, post values the block itself.
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.balance, of: who, at: p.number - 1) } == U256(100))
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.balance, of: who, at: p.number) } == U256(250))
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.nonce, of: who, at: p.number) } == 1, "unchanged fields carry over")
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.code, of: who, at: p.number) } == [0x60, 0x00])
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.storage(slot), of: who, at: p.number - 1) } == Hash32.keccak([2]))
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.storage(slot), of: who, at: p.number) } == Hash32.keccak([3]))

        // A block that does not extend the head is skipped, identically and without effect.
        let again = try e.write { txn in try ix.apply(cmd, in: txn) }
        #expect(again.applied.isEmpty && again.skipped.count == 1)

        // Other chains are separate.
        #expect(try ix.view { try $0.head(2) } == nil && ix.view { try $0.block(2, number: p.number, fullTransactions: false) } == nil)
    }

    @Test(.enabled(if: present)) func rewindRemovesEverythingAboveTheAncestor() throws {
        // Two real consecutive-looking blocks: reuse one fixture as block N and a relabelled copy as N+1.
        let block = try load("chains/ethereum-mainnet/block_17053184.json")
        let receipts = try load("chains/ethereum-mainnet/receipts_17053184.json")
        let e = try env()
        let ix = try ChainIndex(env: e)
        let cid: UInt64 = 5
        let p1 = try payload(block, receipts, state: StateChanges())
        // The child: a different hash with p1 as parent and no transactions (only the index's view matters here).
        var child = block.objectValue!
        child["number"] = .string(Hex.encodeQuantity(p1.number + 1))
        child["hash"] = .string(Hash32.keccak([9]).hex)
        child["parentHash"] = .string(p1.hash.hex)
        let childTx = try block["transactions"]!.arrayValue!.prefix(2).map { t -> JSONValue in
            var o = t.objectValue!
            o["hash"] = .string(Hash32.keccak(Array(try o.string("hash").utf8)).hex)
            return .object(o)
        }
        child["transactions"] = .array(childTx)
        let who = try Address(hex: "0x1111111111111111111111111111111111111111")
        let p2 = try payload(.object(child), .array([]), state: StateChanges(post: [.init(address: who, balance: U256(7))], source: .prestateTracer))
        _ = try e.write { txn in try ix.apply(.blocks(chainId: cid, blocks: [p1, p2], safe: nil, finalized: nil), in: txn) }
        #expect(try ix.view { try $0.head(cid) }?.number == p1.number + 1)
        let childHash = try Hash32(hex: childTx[0]["hash"]!.stringValue!)
        #expect(try ix.view { try $0.transaction(cid, hash: childHash) } != nil)
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.balance, of: who, at: p2.number) } == U256(7))

        // Wrong ancestor hash: refused.
        let refused = try e.write { txn in try ix.apply(.rewind(chainId: cid, ancestor: p1.number, ancestorHash: Hash32.keccak([1])), in: txn) }
        #expect(refused.rewoundTo == nil)
        #expect(try ix.view { try $0.head(cid) }?.number == p2.number)

        let out = try e.write { txn in try ix.apply(.rewind(chainId: cid, ancestor: p1.number, ancestorHash: p1.hash), in: txn) }
        #expect(out.rewoundTo == p1.number)
        #expect(try ix.view { try $0.head(cid) } == ChainIndex.Head(number: p1.number, hash: p1.hash))
        #expect(try ix.view { try $0.block(cid, number: p2.number, fullTransactions: false) } == nil)
        #expect(try ix.view { try $0.blockNumber(cid, hash: p2.hash) } == nil)
        #expect(try ix.view { try $0.transaction(cid, hash: childHash) } == nil)
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.state(.balance, of: who, at: p2.number) } == .zero, "state written by the undone block is gone")
        // The ancestor's data is intact.
        #expect(try ix.view { try $0.block(cid, number: p1.number, fullTransactions: true) } == block)
    }

    @Test func aBlockThatFailsToParseIsSkippedWithoutATrace() throws {
        let e = try env()
        let ix = try ChainIndex(env: e)
        let cid: UInt64 = 3
        let good = CorruptIndexTests.blocks(from: 10, count: 2)
        _ = try e.write { txn in try ix.apply(.blocks(chainId: cid, blocks: [good[0]], safe: nil, finalized: nil), in: txn) }
        // Block 11 with a log that has no logIndex: everything before that log parsed fine.
        var bad = good[1]
        bad.hash = Hash32.keccak([11])
        bad.receipts = Array(#"[{"logs":[{"address":"0x00000000000000000000000000000000000000aa","topics":[],"data":"0x"}]}]"#.utf8)
        let out = try e.write { txn in try ix.apply(.blocks(chainId: cid, blocks: [bad], safe: nil, finalized: nil), in: txn) }
        #expect(out.applied.isEmpty && out.skipped.count == 1 && out.skipped[0].contains("logIndex"), "\(out.skipped)")
        let tx = try Hash32(hex: try JSON.parse(bad.block)["transactions"]!.arrayValue![0]["hash"]!.stringValue!)
        try ix.view { (v: ChainView) throws in
            #expect(try v.head(cid)?.number == 10)
            #expect(try v.blockNumber(cid, hash: bad.hash) == nil, "a skipped block is not findable by hash")
            #expect(try v.block(cid, number: 11, fullTransactions: false) == nil)
            #expect(try v.transaction(cid, hash: tx) == nil, "nor are its transactions")
            #expect(try v.receipts(cid, block: 11) == nil)
        }
        #expect(try ix.request(chain: cid, upstream: nil) { try $0.view.knowsAccount(cid, bad.state.post[0].address, at: 11) } == false)
        // The real block 11 then applies as if the bad one had never been proposed.
        let again = try e.write { txn in try ix.apply(.blocks(chainId: cid, blocks: [good[1]], safe: nil, finalized: nil), in: txn) }
        #expect(again.applied == [11])
        #expect(try ix.view { try $0.transaction(cid, hash: tx) }?["hash"] == .string(tx.hex))
    }
}
