import TestSupport
import Foundation
import Testing
@testable import Chain

/// The execution-apis test chain: chain.rlp holds every block (all forks through Prague,
/// every transaction type); the .io cases hold the JSON a conforming node answers.
@Suite struct ExecutionApisTests {
    struct IOCase { let file: String; let request: JSONValue; let response: JSONValue }

    static func cases(_ method: String) throws -> [IOCase] {
        var out = [IOCase]()
        for file in try References.listFixtures("execution-apis/tests/\(method)", suffix: ".io") {
            let text = String(decoding: try References.fixture(file), as: UTF8.self)
            var req: JSONValue?
            for line in text.split(separator: "\n") {
                if line.hasPrefix(">> ") { req = try JSON.parse(String(line.dropFirst(3))) }
                if line.hasPrefix("<< "), let r = req { out.append(IOCase(file: file, request: r, response: try JSON.parse(String(line.dropFirst(3))))) }
            }
        }
        return out
    }

    struct RawBlock { let header: Header; let headerItem: RLPItem; let transactions: [[UInt8]]; let uncles: RLPItem; let withdrawals: [RLPItem]? }

    static func chain() throws -> [RawBlock] {
        let data = Array(try References.fixture("execution-apis/tests/chain.rlp"))
        return try RLP.splitConcatenated(data).map { enc in
            let parts = try RLP.decode(enc).list()
            let header = try Header(rlp: parts[0])
            let txs: [[UInt8]] = try parts[1].list().map { item in
                switch item {
                case .bytes(let typed): return typed      // typed: the envelope is the string
                case .list: return RLP.encode(item)       // legacy: the list itself
                }
            }
            return RawBlock(header: header, headerItem: parts[0], transactions: txs, uncles: parts[2],
                            withdrawals: parts.count > 3 ? try parts[3].list() : nil)
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func chainRLPBlocksAreConsistent() throws {
        let blocks = try Self.chain()
        #expect(blocks.count >= 50, "chain.rlp has \(blocks.count) blocks")
        var types = Set<UInt8>()
        for (i, b) in blocks.enumerated() {
            // Header RLP re-encodes byte-identically from the typed header.
            #expect(b.header.encoded == RLP.encode(b.headerItem), "block \(b.header.number) header re-encoding")
            #expect(MerklePatriciaTrie(orderedValues: b.transactions).root == b.header.transactionsRoot, "block \(b.header.number) transactionsRoot")
            #expect(Hash32.keccak(RLP.encode(b.uncles)) == b.header.ommersHash, "block \(b.header.number) ommersHash")
            if let w = b.withdrawals, let root = b.header.withdrawalsRoot {
                #expect(MerklePatriciaTrie(orderedValues: w.map { RLP.encode($0) }).root == root, "block \(b.header.number) withdrawalsRoot")
            }
            if i > 0 { #expect(b.header.parentHash == blocks[i - 1].header.hash, "block \(b.header.number) parent link") }
            for envelope in b.transactions {
                let tx = try Transaction(envelope: envelope)
                #expect(tx.envelope == envelope, "block \(b.header.number) tx re-encoding")
                types.insert(tx.type)
            }
        }
        #expect(types.isSuperset(of: [0, 1, 2, 3, 4]), "transaction types seen: \(types.sorted())")
        #expect(Set(blocks.map(\.header.fork)).isSuperset(of: [.london, .shanghai, .cancun, .prague]))
    }

    @Test(.enabled(if: References.runFixtureTests)) func blockAnswersMatchChainRLP() throws {
        let blocks = try Self.chain()
        let byHash = Dictionary(blocks.map { ($0.header.hash, $0) }, uniquingKeysWith: { a, _ in a })
        var checked = 0
        for method in ["eth_getBlockByNumber", "eth_getBlockByHash"] {
            for c in try Self.cases(method) {
                guard let o = c.response["result"]?.objectValue else { continue }
                let report = try BlockVerifier.verify(block: o)
                #expect(report.ok, "\(c.file): \(report.failures)")
                // chain.rlp starts after genesis.
                if report.number > 0 { #expect(byHash[report.hash] != nil, "\(c.file): block \(report.hash) is in chain.rlp") }
                checked += 1
            }
        }
        #expect(checked >= 8)
    }

    @Test(.enabled(if: References.runFixtureTests)) func transactionAnswersHashCorrectly() throws {
        var types = Set<UInt8>()
        var byHash = [Hash32: [UInt8]]()
        for b in try Self.chain() { for e in b.transactions { byHash[Hash32.keccak(e)] = e } }
        for method in ["eth_getTransactionByHash", "eth_getTransactionByBlockHashAndIndex", "eth_getTransactionByBlockNumberAndIndex"] {
            for c in try Self.cases(method) {
                guard let o = c.response["result"]?.objectValue else { continue }
                let tx = try Transaction(json: o)
                #expect(tx.hash == (try o.hash("hash")), "\(c.file)")
                #expect(byHash[tx.hash] == tx.envelope, "\(c.file): envelope equals the one in chain.rlp")
                // Round trip: the envelope decodes back to the same JSON fields.
                let again = try Transaction(envelope: tx.envelope)
                for (k, v) in again.jsonFields().pairs where o.has(k) && k != "v" {
                    #expect(o[k] == v, "\(c.file) field \(k)")
                }
                types.insert(tx.type)
            }
        }
        #expect(types.isSuperset(of: [0, 1, 2, 3, 4]), "types seen: \(types.sorted())")
    }

    @Test(.enabled(if: References.runFixtureTests)) func receiptAnswersMatchReceiptsRoot() throws {
        let blocks = try Self.chain()
        let byHash = Dictionary(blocks.map { ($0.header.hash, $0) }, uniquingKeysWith: { a, _ in a })
        var checked = 0
        for c in try Self.cases("eth_getBlockReceipts") {
            guard let list = c.response["result"]?.arrayValue, let first = list.first?.objectValue else { continue }
            let block = try #require(byHash[try first.hash("blockHash")], "\(c.file)")
            let encoded = try list.map { try Receipt(json: try $0.requireObject).encoded }
            #expect(MerklePatriciaTrie(orderedValues: encoded).root == block.header.receiptsRoot, "\(c.file)")
            checked += 1
        }
        #expect(checked >= 2)
        // Single-receipt answers: the receipt bloom matches its logs.
        for c in try Self.cases("eth_getTransactionReceipt") {
            guard let o = c.response["result"]?.objectValue else { continue }
            let r = try Receipt(json: o)
            #expect(r.computedBloom == r.logsBloom, "\(c.file)")
        }
    }

    @Test(.enabled(if: References.runFixtureTests)) func rawHeaderAndBlockAnswers() throws {
        for c in try Self.cases("debug_getRawHeader") + Self.cases("debug_getRawBlock") {
            guard let hex = c.response["result"]?.stringValue else { continue }
            let raw = try Hex.decodeData(hex)
            var item = try RLP.decode(raw)
            if c.file.contains("RawBlock") { item = try item.list()[0] }
            let h = try Header(rlp: item)
            #expect(h.encoded == RLP.encode(item), "\(c.file)")
        }
    }
}
