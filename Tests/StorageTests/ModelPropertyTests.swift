import TestSupport
import Testing
@testable import Storage

/// Thousands of random operations applied both to LMDB (through the layer) and to an
/// in-memory ordered map; every read must agree. Failures print the seed; replay with
/// `STORAGE_TEST_SEED=<seed> swift test --filter ModelPropertyTests`.
@Suite struct ModelPropertyTests {
    /// Thrown from a write closure to make the transaction abort on purpose.
    struct DeliberateAbort: Error {}

    /// Short keys over a tiny alphabet (with 0x00 and 0xFF edges) collide and share
    /// prefixes often, which is where ordering and prefix bugs live.
    static let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x7F, 0xFE, 0xFF]

    static func randomKey(_ rng: inout SeededRandom, maxLength: Int = 4) -> [UInt8] {
        (0..<Int.random(in: 1...maxLength, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
    }

    static func randomValue(_ rng: inout SeededRandom) -> [UInt8] {
        (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    static func randomBound(_ rng: inout SeededRandom) -> [UInt8]? {
        Bool.random(using: &rng) ? randomKey(&rng) : nil
    }

    @Test(arguments: testSeeds(default: [1, 2, 3]))
    func randomOperationsMatchOrderedModel(seed: UInt64) throws {
        try withTemporaryEnvironment { environment, _ in
            var rng = SeededRandom(seed: seed)
            let table = try environment.table("model")
            var model = OrderedModel()
            let context = "seed \(seed) (replay: STORAGE_TEST_SEED=\(seed))"

            for transactionNumber in 0..<150 {
                let before = model
                let shouldAbort = Int.random(in: 0..<10, using: &rng) == 0
                do {
                    try environment.write { txn throws in
                        for _ in 0..<Int.random(in: 1...40, using: &rng) {
                            try Self.applyRandomOperation(txn, table, &model, &rng, "\(context), txn \(transactionNumber)")
                        }
                        if shouldAbort { throw DeliberateAbort() }
                    }
                } catch is DeliberateAbort {
                    model = before
                }
                try environment.read { txn throws in
                    let stored = try txn.entries(in: table)
                    #expect(stored == model.allEntries, "contents differ after txn \(transactionNumber) (aborted: \(shouldAbort)), \(context)")
                    #expect(try txn.count(table) == model.keys.count, "\(context)")
                }
            }
        }
    }

    /// One random operation, checked against the model. Reads run inside the write
    /// transaction so they also prove it sees its own uncommitted writes.
    static func applyRandomOperation(
        _ txn: WriteTransaction, _ table: Table, _ model: inout OrderedModel, _ rng: inout SeededRandom, _ context: String
    ) throws {
        let key = randomKey(&rng)
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<35:
            let value = randomValue(&rng)
            try txn.put(table, key, value)
            model.put(key, value)
        case 35..<40:
            let value = randomValue(&rng)
            let inserted = try txn.insert(table, key, value)
            #expect(inserted == (model.get(key) == nil), "insert(\(key.hex)), \(context)")
            if inserted { model.put(key, value) }
        case 40..<52:
            // Delete an existing key most of the time, otherwise a random (often absent) one.
            let victim = model.keys.isEmpty || Bool.random(using: &rng) ? key : model.keys.randomElement(using: &rng)!
            let deleted = try txn.delete(table, victim)
            let modelDeleted = model.delete(victim)
            #expect(deleted == modelDeleted, "delete(\(victim.hex)), \(context)")
        case 52..<57:
            // Append strictly after the current last key by extending it.
            let appended = (model.keys.last ?? []) + [alphabet.randomElement(using: &rng)!]
            let value = randomValue(&rng)
            try txn.append(table, appended, value)
            model.put(appended, value)
        case 57..<65:
            #expect(try txn.get(table, key) == model.get(key), "get(\(key.hex)), \(context)")
        case 65..<80:
            try txn.withCursor(table) { cursor in
                let exact = try cursor.seek(exactly: key)
                #expect((exact ? cursor.entry : nil) == model.get(key).map { Entry(key: key, value: $0) }, "seek(exactly: \(key.hex)), \(context)")
                let atLeast = try cursor.seek(atLeast: key)
                #expect((atLeast ? cursor.key : nil) == model.seek(atLeast: key), "seek(atLeast: \(key.hex)), \(context)")
                let atMost = try cursor.seek(atMost: key)
                #expect((atMost ? cursor.key : nil) == model.seek(atMost: key), "seek(atMost: \(key.hex)), \(context)")
            }
        case 80..<90:
            let lower = randomBound(&rng), upper = randomBound(&rng), reverse = Bool.random(using: &rng)
            let limit = Bool.random(using: &rng) ? Int.random(in: 1...5, using: &rng) : Int.max
            let stored = try txn.entries(in: table, KeyRange(from: lower, upTo: upper), reverse: reverse, limit: limit)
            let expected = Array(model.entries(from: lower, upTo: upper, reverse: reverse).prefix(limit))
            #expect(stored == expected, "range [\(lower?.hex ?? "-"), \(upper?.hex ?? "-")) reverse \(reverse) limit \(limit), \(context)")
        case 90..<95:
            let prefix = Array(key.prefix(Int.random(in: 0...2, using: &rng)))
            let reverse = Bool.random(using: &rng)
            let stored = try txn.entries(in: table, prefix: prefix, reverse: reverse)
            #expect(stored == model.entries(prefix: prefix, reverse: reverse), "prefix \(prefix.hex) reverse \(reverse), \(context)")
        default:
            // Walk a range with a write cursor, deleting some entries mid-iteration.
            let prefix = Array(key.prefix(1))
            try txn.withWriteCursor(table) { cursor in
                var positioned = try cursor.seek(atLeast: prefix)
                while positioned, cursor.key.starts(with: prefix) {
                    if Int.random(in: 0..<3, using: &rng) == 0 {
                        let doomed = cursor.key
                        try cursor.deleteCurrent()
                        let wasInModel = model.delete(doomed)
                        #expect(wasInModel, "cursor deleted \(doomed.hex) absent from model, \(context)")
                    }
                    positioned = try cursor.next()
                }
            }
        }
    }
}
