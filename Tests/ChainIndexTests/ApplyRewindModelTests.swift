import Chain
import Foundation
import Storage
import Testing
import TestSupport
@testable import ChainIndex

/// Random command sequences with reorgs, applied through the real path (encoded as a Raft
/// entry, decoded, applied in a write transaction), against `ChainModel`: after every
/// command, every read through a view equals what the model says — heads, blocks by number
/// and by hash, transactions and receipts by hash and position, logs by filter, and every
/// account field and slot at every height around the indexed range, never-seen included.
@Suite struct ApplyRewindModelTests {
    static let runs = 6
    static let steps = 45

    @Test func everyReadEqualsTheModelAfterEveryCommand() throws {
        let seed = SeededRandom.seed("ApplyRewindModelTests")
        var seeds = SeededRandom(seed: seed)
        for run in 0..<Self.runs {
            let runSeed = seeds.next()
            let env = try Environment(path: NSTemporaryDirectory() + "model-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let ix = try ChainIndex(env: env)
            var model = ChainModel(seed: runSeed)
            var rewinds = 0
            for step in 0..<Self.steps {
                let command = model.nextCommand()
                let context = "seed \(seed) (run \(run), step \(step), command \(Self.describe(command)))"
                let decoded = try ChainCommand.decode(command.encoded())
                let outcome = try env.write { txn in try ix.apply(decoded, in: txn) }
                let expected = model.expect(command)
                #expect(outcome.applied == expected.applied, "applied, \(context)")
                #expect(outcome.rewoundTo == expected.rewoundTo, "rewound, \(context)")
                #expect(outcome.skipped.count == expected.skipped.count, "skipped \(outcome.skipped), \(context)")
                #expect(outcome.events == expected.events, "events, \(context)")
                if outcome.rewoundTo != nil { rewinds += 1 }
                try Self.check(ix, model, context)
            }
            #expect(rewinds > 0, "seed \(seed) run \(run): the sequence must exercise rewinds")
        }
    }

    static func describe(_ c: ChainCommand) -> String {
        switch c {
        case .blocks(_, let b, let s, let f): "blocks \(b.map(\.number)) safe \(s.map(String.init) ?? "-") finalized \(f.map(String.init) ?? "-")"
        case .rewind(_, let a, _): "rewind to \(a)"
        }
    }

    /// Every read the model can predict, in one view.
    static func check(_ ix: ChainIndex, _ model: ChainModel, _ context: String) throws {
        let cid = ChainModel.cid
        let state = model.state()
        try ix.request(chain: cid, upstream: nil) { r in
            let v = r.view
            #expect(try r.head(.latest) == model.head.map { .init(number: $0.number, hash: $0.hash) }, "latest head, \(context)")
            #expect(try r.head(.earliest) == model.earliest.map { .init(number: $0.number, hash: $0.hash) }, "earliest head, \(context)")
            #expect(try r.head(.safe)?.number == model.safe, "safe head, \(context)")
            #expect(try r.head(.finalized)?.number == model.finalized, "finalized head, \(context)")
            if let s = model.safe { #expect(try r.head(.safe)?.hash == model.block(at: s)?.hash, "safe hash, \(context)") }

            // Blocks on the branch and just outside it.
            let lo = model.firstNumber > 2 ? model.firstNumber - 2 : 0
            let hi = (model.head?.number ?? model.firstNumber) + 2
            for n in lo...hi {
                let b = model.block(at: n)
                #expect(try v.block(cid, number: n, fullTransactions: true) == b?.full, "block \(n) full, \(context)")
                #expect(try v.block(cid, number: n, fullTransactions: false) == b?.hashesForm, "block \(n) hashes, \(context)")
                #expect(try v.receipts(cid, block: n) == b?.receipts, "receipts of \(n), \(context)")
                for (i, tx) in (b?.txs ?? []).enumerated() {
                    #expect(try v.transaction(cid, block: n, index: UInt32(i)) == tx, "tx \(n)/\(i), \(context)")
                }
                #expect(try v.transaction(cid, block: n, index: UInt32(b?.txs.count ?? 0)) == nil, "past the last tx of \(n), \(context)")
            }
            // Every block and transaction ever proposed: findable exactly when on the branch.
            for (hash, b) in model.everBlocks {
                let onBranch = model.block(at: b.number)?.hash == hash
                #expect(try v.blockNumber(cid, hash: hash) == (onBranch ? b.number : nil), "block by hash \(hash), \(context)")
            }
            var current = [Hash32: (tx: JSONValue, receipt: JSONValue)]()
            for b in model.chain { for (i, h) in b.txHashes.enumerated() { current[h] = (b.txs[i], b.receipts[i]) } }
            for h in model.everTxs {
                #expect(try v.transaction(cid, hash: h) == current[h]?.tx, "tx \(h), \(context)")
                #expect(try v.receipt(cid, hash: h) == current[h]?.receipt, "receipt \(h), \(context)")
            }

            // Logs: everything, per address, per topic in each position, and a sub-range.
            func logs(_ f: ChainIndex.LogFilter) throws -> [JSONValue] { try v.logs(cid, f) }
            #expect(try logs(.init(fromBlock: 0, toBlock: .max)) == model.logs(from: 0, to: .max), "all logs, \(context)")
            for a in model.addresses {
                #expect(try logs(.init(fromBlock: 0, toBlock: .max, addresses: [a])) == model.logs(from: 0, to: .max, addresses: [a]), "logs of \(a), \(context)")
            }
            for t in model.topics {
                for pos in 0..<3 {
                    let topics = Array(repeating: nil, count: pos) + [[t]] as [[Hash32]?]
                    #expect(try logs(.init(fromBlock: 0, toBlock: .max, topics: topics)) == model.logs(from: 0, to: .max, topics: topics),
                            "logs with topic\(pos) \(t), \(context)")
                }
            }
            if let head = model.head, head.number > model.firstNumber {
                let mid = model.firstNumber + (head.number - model.firstNumber) / 2
                let f = ChainIndex.LogFilter(fromBlock: mid, toBlock: head.number, addresses: [model.addresses[0], model.addresses[1]], topics: [nil, [model.topics[0], model.topics[1]]])
                #expect(try logs(f) == model.logs(from: mid, to: head.number, addresses: f.addresses, topics: f.topics), "combined filter, \(context)")
                // Single-valued constraints together: the index ranges are intersected.
                for a in model.addresses.prefix(2) {
                    for t in model.topics.prefix(2) {
                        for topics in [[nil, [t]], [[t], nil, [model.topics[0]]], [[t]]] as [[[Hash32]?]] {
                            for (from, to) in [(UInt64(0), UInt64.max), (mid, head.number)] {
                                let f = ChainIndex.LogFilter(fromBlock: from, toBlock: to, addresses: [a], topics: topics)
                                #expect(try logs(f) == model.logs(from: from, to: to, addresses: [a], topics: topics),
                                        "address \(a) with topics \(topics) over \(from)...\(to), \(context)")
                            }
                        }
                        let two: [[Hash32]?] = [[t], [model.topics[1]]]
                        #expect(try logs(.init(fromBlock: mid, toBlock: .max, topics: two)) == model.logs(from: mid, to: .max, topics: two),
                                "two single topics, \(context)")
                    }
                }
            }

            // State at every height from below the indexed range to past the head.
            let stateLo = model.firstNumber > 1 ? model.firstNumber - 2 : 0
            for n in stateLo...hi {
                for a in model.addresses {
                    let want = state.account(a, atOrBelow: n)
                    #expect(try v.knowsAccount(cid, a, at: n) == (want != nil), "knows \(a) at \(n), \(context)")
                    let got = ChainModel.Account(balance: try r.state(.balance, of: a, at: n), nonce: try r.state(.nonce, of: a, at: n),
                                                 code: try r.state(.code, of: a, at: n))
                    #expect(got == want ?? .empty, "account \(a) at \(n), \(context)")
                    for s in model.slots {
                        let slot = state.slot(a, s, atOrBelow: n)
                        #expect(try v.knownStorage(cid, a, slot: s, at: n) == slot, "slot \(s) of \(a) at \(n), \(context)")
                        #expect(try r.state(.storage(s), of: a, at: n) == slot ?? .zero, "storage \(s) of \(a) at \(n), \(context)")
                    }
                }
            }
        }
    }
}
