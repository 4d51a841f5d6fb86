import ByteCodec
import Foundation
import Storage
import Testing
import TestSupport
@testable import ChainIndex

/// The chain registry against a model: random adds, changes, pauses, removals and purge
/// steps over a few chains whose data is planted in every per-chain table. After every
/// command the registry equals the model, a skip happens exactly where the model says,
/// each chain's data shrinks only while it is being removed and never by more than the
/// step's bound, other chains' data and the shared code table are untouched, and a chain
/// is gone (record and data) only after its last purge step.
@Suite struct ChainRegistryTests {
    struct Model {
        var records: [UInt64: ChainRecord] = [:]
        var keys: [UInt64: Int] = [:]
        var seeded = false

        /// nil when the command applies, else the model's reason to skip.
        mutating func apply(_ c: ChainRegistryCommand) -> (skip: Bool, removed: UInt64?) {
            switch c {
            case .seed(let specs):
                guard !seeded else { return (true, nil) }
                seeded = true
                var anySkipped = false
                for s in specs where apply(.put(s)).skip { anySkipped = true }
                return (anySkipped, nil)
            case .put(let s):
                if ChainSpec.slugProblem(s.slug) != nil || s.chainId == 0 || s.parent == s.chainId { return (true, nil) }
                if records.values.contains(where: { $0.spec.chainId != s.chainId && $0.spec.slug == s.slug }) { return (true, nil) }
                if records[s.chainId]?.state == .removing { return (true, nil) }
                records[s.chainId] = ChainRecord(spec: s, state: records[s.chainId]?.state ?? .active)
            case .setPaused(let id, let paused):
                guard let r = records[id], r.state != .removing else { return (true, nil) }
                records[id]!.state = paused ? .paused : .active
            case .remove(let id):
                guard let r = records[id], r.state != .removing else { return (true, nil) }
                records[id]!.state = .removing
            case .purge(let id, let n):
                guard let r = records[id], r.state == .removing else { return (true, nil) }
                let have = keys[id] ?? 0
                let deleted = min(have, Int(n))
                keys[id] = have - deleted
                if deleted < Int(n) { records[id] = nil; return (false, id) }
                records[id]!.purgedKeys += UInt64(deleted)
            }
            return (false, nil)
        }
    }

    static let slugs = ["base-sepolia", "op-mainnet", "l1", "k", "Bad_Slug", "arb-one", "-x"]

    @Test func registryEqualsTheModelAfterEveryCommand() throws {
        let seed = SeededRandom.seed("ChainRegistryTests")
        var rng = SeededRandom(seed: seed)
        var purgeSteps = 0, removals = 0, skips = 0
        for run in 0..<8 {
            let env = try Environment(path: NSTemporaryDirectory() + "registry-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let tables = try ChainTables(env: env)
            let registry = try ChainRegistry(env: env, chain: tables)
            var model = Model()
            // Plant data for chains 1...4 in every per-chain table, and shared code.
            try env.write { txn in
                for id in UInt64(1)...4 {
                    var n = 0
                    for t in tables.perChain {
                        for k in 0..<Int.random(in: 0...12, using: &rng) {
                            try txn.put(t, Key(id).appending(UInt64(k)), [UInt8(k)]); n += 1
                        }
                    }
                    model.keys[id] = n
                }
                for k in 0..<5 { try txn.put(tables.code, Key(UInt64(k)), [1]) }
            }
            for step in 0..<120 {
                let id = UInt64.random(in: 0...5, using: &rng)
                let command: ChainRegistryCommand
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<3:
                    let parent: UInt64? = Bool.random(using: &rng) ? nil : UInt64.random(in: 1...5, using: &rng)
                    command = .put(ChainSpec(chainId: id, slug: Self.slugs.randomElement(using: &rng)!, parent: parent,
                                             settings: Array("{\"n\":\(step)}".utf8)))
                case 3..<5: command = .setPaused(chainId: id, paused: Bool.random(using: &rng))
                case 5 where Int.random(in: 0..<4, using: &rng) == 0:
                    command = .seed((0..<Int.random(in: 0...3, using: &rng)).map { i in
                        ChainSpec(chainId: UInt64.random(in: 1...5, using: &rng), slug: Self.slugs.randomElement(using: &rng)!, settings: [UInt8(i)])
                    })
                case 5: command = .remove(chainId: id)
                default: command = .purge(chainId: id, maxKeys: UInt32.random(in: 1...20, using: &rng))
                }
                let context = "seed \(seed) run \(run) step \(step): \(command)"
                let decoded = try ChainRegistryCommand.decode(command.encoded())
                #expect(decoded == command, "round trip, \(context)")
                let before = try env.read { txn in try Self.counts(tables, txn) }
                let outcome = try env.write { txn in try registry.apply(decoded, in: txn) }
                let expected = model.apply(command)
                #expect((outcome.skipped != nil) == expected.skip, "skipped: \(outcome.skipped ?? "no"), \(context)")
                #expect(outcome.removed == expected.removed, "removed, \(context)")
                if outcome.skipped != nil { skips += 1 }
                if case .remove = command, !expected.skip { removals += 1 }
                if case .purge(_, let n) = command, !expected.skip {
                    purgeSteps += 1
                    let after = try env.read { txn in try Self.counts(tables, txn) }
                    #expect((before[id] ?? 0) - (after[id] ?? 0) <= Int(n), "a purge step deletes at most its bound, \(context)")
                }
                let stored = try env.read { txn in try registry.all(txn) }
                #expect(stored == model.records.keys.sorted().map { model.records[$0]! }, "records, \(context)")
                let counts = try env.read { txn in try Self.counts(tables, txn) }
                for id in UInt64(1)...4 {
                    #expect((counts[id] ?? 0) == model.keys[id], "data keys of chain \(id), \(context)")
                    #expect(try env.read { txn in try registry.dataKeyCount(of: id, txn) } == UInt64(model.keys[id] ?? 0), "counted keys of chain \(id), \(context)")
                }
                #expect(try env.read { txn in try txn.count(tables.code) } == 5, "shared code stays, \(context)")
            }
        }
        #expect(purgeSteps > 20 && removals > 5 && skips > 20, "seed \(seed): the sequences must exercise removal (\(removals), \(purgeSteps) purge steps, \(skips) skips)")
    }

    /// Data keys per chain id across the per-chain tables.
    static func counts(_ tables: ChainTables, _ txn: ReadTransaction) throws -> [UInt64: Int] {
        var out = [UInt64: Int]()
        for t in tables.perChain {
            for e in try txn.entries(in: t) {
                let id = e.key.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                out[id, default: 0] += 1
            }
        }
        return out
    }

    @Test func malformedCommandsAreRefusedWithTheirProblem() throws {
        let good = ChainRegistryCommand.put(ChainSpec(chainId: 10, slug: "op-mainnet", parent: 1, settings: Array("{}".utf8))).encoded()
        for cut in 0..<good.count {
            #expect(throws: DecodeError.self, "truncated at \(cut)") { try ChainRegistryCommand.decode(Array(good.prefix(cut))) }
        }
        var wrongVersion = good; wrongVersion[1] = 9
        #expect(throws: DecodeError.self) { try ChainRegistryCommand.decode(wrongVersion) }
        var unknownKind = good; unknownKind[2] = 77
        #expect(throws: DecodeError.self) { try ChainRegistryCommand.decode(unknownKind) }
        #expect(throws: DecodeError.self) { try ChainRegistryCommand.decode(good + [0]) }
    }

    @Test func aCorruptRecordIsAnErrorNotAMissingChain() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "registry-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let registry = try ChainRegistry(env: env, chain: try ChainTables(env: env))
        try env.write { txn in try txn.put(registry.table, Key(UInt64(7)), [1, 2, 3]) }
        #expect(throws: CorruptIndex.self) { try env.read { txn in try registry.record(7, txn) } }
        #expect(throws: CorruptIndex.self) { try env.read { txn in try registry.all(txn) } }
    }

    @Test func slugRules() {
        for ok in ["base-sepolia", "l1", "a", "op-mainnet-2", String(repeating: "a", count: 63)] { #expect(ChainSpec.slugProblem(ok) == nil, "\(ok)") }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "k", "v1", "graphql", String(repeating: "a", count: 64), "é"] {
            #expect(ChainSpec.slugProblem(bad) != nil, "\(bad)")
        }
    }
}
