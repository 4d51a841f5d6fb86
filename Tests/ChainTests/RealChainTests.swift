import TestSupport
import Foundation
import Testing
@testable import Chain

/// Every real block under fixtures/chains: header hash, transaction hashes and roots,
/// receipts root, blooms and withdrawals root recomputed from the JSON fields.
@Suite struct RealChainTests {
    struct BlockFile: CustomStringConvertible, Sendable {
        let chain: String, file: String, receipts: String?
        var description: String { "\(chain)/\(file)" }
    }

    static let blockFiles: [BlockFile] = {
        guard References.fixturesPresent else { return [] }
        var out = [BlockFile]()
        let dir = References.fixtures.appendingPathComponent("chains")
        for chain in ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(chain).path)) ?? []).sorted()
            for f in files where f.hasPrefix("block_") || f.hasPrefix("header_") {
                let n = f.split(separator: "_")[1]
                let r = "receipts_\(n)"
                out.append(BlockFile(chain: chain, file: f, receipts: files.contains(r) ? r : nil))
            }
        }
        return out
    }()

    @Test(.enabled(if: References.runFixtureTests)) func fixturesAreThere() {
        // 8 chains; a silent empty list would make the parameterized test below pass vacuously.
        #expect(Self.blockFiles.count >= 30, "found \(Self.blockFiles.count) block files")
        #expect(Set(Self.blockFiles.map(\.chain)).count >= 8)
    }

    @Test(.enabled(if: References.runFixtureTests), arguments: blockFiles)
    func everyRealBlockVerifies(_ f: BlockFile) throws {
        let block = try References.fixtureJSON("chains/\(f.chain)/\(f.file)").requireObject
        let receipts = try f.receipts.map { try References.fixtureJSON("chains/\(f.chain)/\($0)").arrayValue ?? [] }
        let report = try BlockVerifier.verify(block: block, receipts: receipts)
        #expect(report.ok, "\(f): \(report.failures)")
        #expect(report.performed.contains(.headerHash))
        let txs = block.has("transactions") ? try block.array("transactions") : []
        if !txs.isEmpty, txs.allSatisfy({ $0.objectValue != nil }) {
            #expect(report.performed.contains(.transactionsRoot) && report.performed.contains(.transactionHashes), "\(f)")
        }
        if receipts != nil { #expect(report.performed.contains(.receiptsRoot), "\(f)") }
        if block.has("withdrawals") { #expect(report.performed.contains(.withdrawalsRoot), "\(f)") }
    }

    @Test(.enabled(if: References.runFixtureTests)) func arbitrumTransactionExamples() throws {
        let examples = try References.fixtureJSON("chains/arbitrum-one/transactions_examples.json")
        var checked = 0
        func visit(_ v: JSONValue) throws {
            if let o = v.objectValue, o.has("hash"), o.has("input") || o.has("type") {
                let tx = try Transaction(json: o)
                let stated = try o.hash("hash")
                #expect(tx.hash == stated, "arbitrum tx \(stated) of type \(tx.type)")
                checked += 1
                return
            }
            for c in v.arrayValue ?? [] { try visit(c) }
            for (_, c) in v.objectValue?.pairs ?? [] { try visit(c) }
        }
        try visit(examples)
        #expect(checked >= 4)
    }

    @Test(.enabled(if: References.runFixtureTests)) func arbitrumDerivedFields() throws {
        let block = try References.fixtureJSON("chains/arbitrum-one/block_150000000.json").requireObject
        let h = try Header(json: block)
        #expect(h.arbitrumL1BlockNumber == (try block.quantity("l1BlockNumber")))
        #expect(h.arbitrumSendCount == (try block.quantity("sendCount")))
        #expect(h.arbitrumSendRoot == (try block.hash("sendRoot")))
    }

    /// Tampering with any hashed field must be caught: the checks above can fail.
    @Test(.enabled(if: References.runFixtureTests)) func tamperedBlocksAreRefused() throws {
        var block = try References.fixtureJSON("chains/ethereum-mainnet/block_17053184.json").requireObject
        let receipts = try References.fixtureJSON("chains/ethereum-mainnet/receipts_17053184.json").arrayValue ?? []
        #expect(try BlockVerifier.verify(block: block, receipts: receipts).ok)

        var b1 = block; b1["gasUsed"] = .string("0x1")
        #expect(try BlockVerifier.verify(block: b1).failures.map(\.check) == [.headerHash])

        var txs = try block.array("transactions")
        var tx = try txs[3].requireObject
        tx["value"] = .string("0x1234")
        txs[3] = .object(tx)
        block["transactions"] = .array(txs)
        let checks = Set(try BlockVerifier.verify(block: block).failures.map(\.check))
        #expect(checks == [.transactionHashes, .transactionsRoot])

        var rs = receipts
        var r0 = try rs[0].requireObject
        r0["cumulativeGasUsed"] = .string("0x1")
        rs[0] = .object(r0)
        let original = try References.fixtureJSON("chains/ethereum-mainnet/block_17053184.json").requireObject
        #expect(try BlockVerifier.verify(block: original, receipts: rs).failures.map(\.check) == [.receiptsRoot])

        var w = try original.array("withdrawals")
        var w0 = try w[0].requireObject
        w0["amount"] = .string("0x1")
        w[0] = .object(w0)
        var b2 = original; b2["withdrawals"] = .array(w)
        #expect(try BlockVerifier.verify(block: b2).failures.map(\.check) == [.withdrawalsRoot])
    }

    @Test func malformedBlocksNameTheField() throws {
        var block = JSONObject()
        block["hash"] = .string("0x00")
        #expect(throws: FieldError(field: "parentHash", problem: "missing")) { try BlockVerifier.verify(block: block) }
        let text = #"{"parentHash":"0x0"}"#
        let o = try JSON.parse(text).requireObject
        do { _ = try Header(json: o); Issue.record("accepted a bad header") } catch { #expect(error.field == "parentHash") }
    }
}
