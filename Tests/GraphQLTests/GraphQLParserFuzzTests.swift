import Testing
import TestSupport
import Net
import Chain
@testable import GraphQL

/// Seeded fuzzing of GraphQL documents through the parser and, when they parse, the whole
/// service (validation, limits, variables, execution) — on the production worker stack (see
/// `Fuzz` for the knobs; `chaos/parser-fuzz` runs these long). Every case is a document or a
/// located syntax error, and a response with data or errors; never a crash.
@Suite(.serialized) struct GraphQLParserFuzzTests {
    static let corpus = [
        "query Q($n: Long = 5, $h: Bytes32) { block(number: $n, hash: $h) { hash parent { number } ...F } } fragment F on Block { number }",
        "{ block { transactions { hash from { address balance } logs { topics data } } } }",
        "{ logs(filter: {fromBlock: 1, addresses: [\"0xab\"], topics: [[], [\"0x01\"]]}) { index data } }",
        "query ($v: [[Long!]]!) { blocks(from: 1, to: 3) { number ... on Block { hash } } chainID }",
        "{ a: block(number: 1) { b: parent { c: parent { hash } } } syncing { startingBlock } }",
        "type Q { f(a: [Int!]! = [1, 2]): String @deprecated(reason: \"\"\"x\n y\"\"\") } enum E { A B }",
    ]

    static func parse(_ text: String) -> Result<DocumentNode, GraphQLError> {
        do throws(GraphQLError) { return .success(try Parser.parse(text)) } catch { return .failure(error) }
    }

    static func exercise(_ text: String, _ service: GraphQLService, run: Bool, _ context: @autoclosure () -> String) throws {
        switch parse(text) {
        case .failure(let e):
            try Fuzz.check(e.message.hasPrefix("Syntax Error: ") && e.locations.count == 1 && e.message.utf8.count < 1024,
                           "\(e.message.prefix(200)): \(context())")
        case .success:
            guard run else { return }
            let r = service.execute(query: text, operationName: nil, variables: ["v": .array([.array([.number("1")])]), "n": .number("2")])
            try Fuzz.check(r["data"] != nil || r["errors"]?.arrayValue?.isEmpty == false, "no data and no errors: \(context())")
        }
    }

    static func deep(_ kind: Int, _ n: Int) -> String {
        switch kind {
        case 0: return "{ block " + String(repeating: "{ parent ", count: n - 1) + "{ hash }" + String(repeating: " }", count: n - 1) + " }"
        case 1: return GraphQLHardeningTests.nested(1, n)
        case 2: return GraphQLHardeningTests.nested(2, n)
        default: return GraphQLHardeningTests.nested(3, n)
        }
    }

    /// Selection sets, list values, object values and list types around the nesting limit, and a
    /// chain of fragments: parsed and run.
    @Test func deepDocuments() throws {
        let service = GraphQLHardeningTests.chain.service()
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            let limit = Parser.defaultMaxNesting
            for kind in 0..<4 {
                for n in [limit - 2, limit - 1, limit, limit + 1, 10_000] {
                    try Self.exercise(Self.deep(kind, n), service, run: true, "kind \(kind) depth \(n)")
                }
            }
            var chain = "{ ...F0 }\n"
            for i in 0..<400 { chain += "fragment F\(i) on Query { chainID ...F\(i + 1) }\n" }
            chain += "fragment F400 on Query { chainID }\n"
            try Self.exercise(chain, service, run: true, "fragment chain")
        }
    }

    @Test func truncationAtEveryCharacter() throws {
        let service = GraphQLHardeningTests.chain.service()
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for doc in Self.corpus {
                let chars = Array(doc)
                for cut in 0..<chars.count { try Self.exercise(String(chars[..<cut]), service, run: cut % 8 == 0, "\(doc) cut at \(cut)") }
            }
        }
    }

    @Test func mutationsAndRandomText() throws {
        let service = GraphQLHardeningTests.chain.service()
        let iterations = Fuzz.iterations(ci: 2000)
        for seed in Fuzz.seeds("GraphQLParserFuzzTests.mutationsAndRandomText") {
            try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
                var rng = SeededRandom(seed: seed)
                let interesting = Array("{}()[]:$@!=|&...\"\\#,\n \t0123456789-eE.onqueryfragment".utf8)
                for i in 0..<iterations {
                    var bytes: [UInt8]
                    switch i % 6 {
                    case 0: bytes = rng.bytes(Int.random(in: 0...80, using: &rng))
                    case 1: bytes = Array(Self.deep(Int.random(in: 0..<4, using: &rng), Parser.defaultMaxNesting + Int.random(in: -2...1, using: &rng)).utf8)
                    default: bytes = Array(Self.corpus.randomElement(using: &rng)!.utf8)
                    }
                    bytes = Fuzz.mutate(bytes, &rng, interesting: interesting)
                    try Self.exercise(String(decoding: bytes, as: UTF8.self), service, run: i % 3 == 0, "seed \(seed) case \(i)")
                }
            }
        }
    }
}
