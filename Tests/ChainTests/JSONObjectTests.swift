import Testing
import TestSupport
@testable import Chain

/// JSONObject keeps pairs in order with a linear search, plus an index once it is large;
/// every sequence of sets and removals must read like the plain ordered-pairs model, on
/// both sides of the index threshold.
@Suite struct JSONObjectTests {
    @Test func randomEditsMatchAnOrderedPairsModel() {
        var rng = SeededRandom(seed: 0x5EED_0B1E)
        for round in 0..<300 {
            var o = JSONObject()
            var model = [(String, JSONValue)]()
            let keySpace = 1 + Int(rng.next() % 60)
            for step in 0..<Int(rng.next() % 120) {
                let k = "k\(rng.next() % UInt64(keySpace))"
                if rng.next() % 4 == 0 {
                    o[k] = nil
                    model.removeAll { $0.0 == k }
                } else {
                    let v = JSONValue.number(String(rng.next() % 1000))
                    o[k] = v
                    if let i = model.firstIndex(where: { $0.0 == k }) { model[i].1 = v } else { model.append((k, v)) }
                }
                #expect(o.count == model.count, "round \(round) step \(step)")
                #expect(o.keys == model.map(\.0), "round \(round) step \(step)")
                for probe in 0..<keySpace {
                    let pk = "k\(probe)"
                    #expect(o[pk] == model.first(where: { $0.0 == pk })?.1, "round \(round) step \(step) key \(pk)")
                }
            }
            var rebuilt = JSONObject()
            for (k, v) in model { rebuilt[k] = v }
            #expect(rebuilt == o && rebuilt.hashValue == o.hashValue, "round \(round): equal contents, equal objects")
        }
    }

    @Test func equalityIsOrderSensitiveAsSerializationIs() {
        let a: JSONObject = ["x": .number("1"), "y": .number("2")]
        let b: JSONObject = ["y": .number("2"), "x": .number("1")]
        #expect(a != b)
        #expect(JSON.serialize(.object(a)) != JSON.serialize(.object(b)))
        #expect(a == ["x": .number("1"), "y": .number("2")])
    }
}
