import Chain
import Foundation
import Storage
import Testing
import TestSupport
@testable import ChainIndex

/// The state walk behind `GET /v1/export/state`: after random command sequences with
/// reorgs, paging through `stateEntries` at every height, with small random page sizes
/// and scan limits, yields exactly what `ChainModel` says the index holds there — every
/// account with a version at or below the block, then its non-zero slots, in byte order,
/// each once — and nothing of another chain.
@Suite struct StateSnapshotTests {
    /// What the walk must answer at `n`, from the model alone.
    static func expected(_ model: ChainModel, _ state: ChainModel.State, at n: UInt64) -> [StateEntry] {
        var out = [StateEntry]()
        let addresses = Set(state.accounts.keys).union(state.slots.keys).sorted()
        for a in addresses {
            if let acct = state.account(a, atOrBelow: n) {
                out.append(.account(address: a, balance: acct.balance, nonce: acct.nonce, codeHash: Hash32.keccak(acct.code), code: acct.code))
            }
            for s in (state.slots[a]?.keys).map(Array.init)?.sorted() ?? [] {
                if let v = state.slot(a, s, atOrBelow: n), v != .zero { out.append(.slot(address: a, slot: s, value: v)) }
            }
        }
        return out
    }

    static func walk(_ v: ChainView, _ cid: UInt64, at n: UInt64, _ rng: inout SeededRandom) throws -> (entries: [StateEntry], pages: Int) {
        var all = [StateEntry](), cursor: StateCursor? = nil, pages = 0
        repeat {
            let limit = Int.random(in: 1...6, using: &rng), scan = Int.random(in: 1...8, using: &rng)
            let (page, next) = try v.stateEntries(cid, at: n, after: cursor, limit: limit, scanLimit: scan)
            #expect(page.count <= limit)
            // A cursor handed out must survive its text form (the endpoint's query parameter).
            if let next { #expect(StateCursor(parsing: next.description) == next) }
            all += page
            cursor = next
            pages += 1
        } while cursor != nil && pages < 100_000
        return (all, pages)
    }

    @Test func pagesAtEveryHeightEqualTheModel() throws {
        let seed = SeededRandom.seed("StateSnapshotTests")
        var seeds = SeededRandom(seed: seed)
        var checkedNonEmpty = 0
        for run in 0..<4 {
            let env = try Environment(path: NSTemporaryDirectory() + "state-walk-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let ix = try ChainIndex(env: env)
            var model = ChainModel(seed: seeds.next())
            var rng = SeededRandom(seed: seeds.next())
            // Another chain's state beside it, which the walk must never reach.
            let other = ChainCommand.BlockPayload(number: 1, hash: Hash32.keccak([1]), parentHash: Hash32.keccak([0]),
                                                  block: Array(#"{"number":"0x1","hash":"\#(Hash32.keccak([1]).hex)","parentHash":"\#(Hash32.keccak([0]).hex)","transactions":[]}"#.utf8),
                                                  receipts: Array("[]".utf8),
                                                  state: StateChanges(post: [.init(address: Address(unchecked: [UInt8](repeating: 0xee, count: 20)), balance: U256(1), storage: [(Hash32.keccak([9]), Hash32.keccak([8]))])], source: .probe))
            _ = try env.write { txn in try ix.apply(.blocks(chainId: ChainModel.cid + 1, blocks: [other], safe: nil, finalized: nil), in: txn) }
            for step in 0..<30 {
                let command = model.nextCommand()
                _ = try env.write { txn in try ix.apply(try ChainCommand.decode(command.encoded()), in: txn) }
                _ = model.expect(command)
                guard let head = model.head else { continue }
                let state = model.state()
                let lo = model.firstNumber > 0 ? model.firstNumber - 1 : 0
                try ix.view { v in
                    for n in lo...head.number {
                        let want = Self.expected(model, state, at: n)
                        let (got, pages) = try Self.walk(v, ChainModel.cid, at: n, &rng)
                        #expect(got == want, "state at \(n): \(got.count) entries, want \(want.count); seed \(seed) run \(run) step \(step), \(pages) pages")
                        if !want.isEmpty { checkedNonEmpty += 1 }
                    }
                }
            }
        }
        #expect(checkedNonEmpty > 50, "the sequences must produce state to walk (seed \(seed))")
    }

    @Test func cursorsParseOnlyWhatTheWalkHandsOut() {
        let a = Address(unchecked: (0..<20).map { UInt8($0) })
        let s = Hash32.keccak([1, 2, 3])
        #expect(StateCursor(parsing: a.hex) == StateCursor(address: a))
        #expect(StateCursor(parsing: a.hex + ":" + s.hex) == StateCursor(address: a, slot: s))
        for bad in ["", "0x12", a.hex + ":", a.hex + ":0x12", a.hex + ":" + s.hex + ":" + s.hex, "zz"] {
            #expect(StateCursor(parsing: bad) == nil, "\(bad)")
        }
    }
}
