import Chain
import Testing
@testable import GraphQL

@Suite struct ValidationTests {
    let schema = GraphQLService.ethereumSchema

    func errors(_ text: String) throws -> [GraphQLError] {
        Validator.validate(try Parser.parse(text), against: schema)
    }

    /// One document per rule, with graphql-js's message and location.
    @Test(arguments: [
        ("{ block { zzzzzz } }", "Cannot query field \"zzzzzz\" on type \"Block\".", [(1, 11)]),
        ("{ block { hahs } }", "Cannot query field \"hahs\" on type \"Block\". Did you mean \"hash\"?", [(1, 11)]),
        ("{ block(numbr: 1) { hash } }", "Unknown argument \"numbr\" on field \"Query.block\". Did you mean \"number\"?", [(1, 9)]),
        ("{ transaction { hash } }", "Field \"transaction\" argument \"hash\" of type \"Bytes32!\" is required, but it was not provided.", [(1, 3)]),
        ("{ block(number: \"x\") { hash } }", "Expected value of type \"Long\", found \"x\"; not a 64-bit unsigned integer: \"x\"", [(1, 17)]),
        ("{ blocksPage(first: \"1\") { nodes { hash } } }", "Int cannot represent non-integer value: \"1\"", [(1, 21)]),
        ("{ block { hash { x } } }", "Field \"hash\" must not have a selection since type \"Bytes32!\" has no subfields.", [(1, 16)]),
        ("{ block }", "Field \"block\" of type \"Block\" must have a selection of subfields. Did you mean \"block { ... }\"?", [(1, 3)]),
        ("query A { chainID } query A { chainID }", "There can be only one operation named \"A\".", [(1, 7), (1, 27)]),
        ("{ chainID } query B { chainID }", "This anonymous operation must be the only defined operation.", [(1, 1)]),
        ("{ block { ...F } }", "Unknown fragment \"F\".", [(1, 14)]),
        ("{ chainID } fragment F on Block { hash }", "Fragment \"F\" is never used.", [(1, 13)]),
        ("{ block { ...F } } fragment F on Block { ...G } fragment G on Block { ...F }",
         "Cannot spread fragment \"F\" within itself via \"G\".", [(1, 42), (1, 71)]),
        ("{ block { ...F } } fragment F on Log { index }",
         "Fragment \"F\" cannot be spread here as objects of type \"Block\" can never be of type \"Log\".", [(1, 11)]),
        ("{ block { ... on Log { index } } }",
         "Fragment cannot be spread here as objects of type \"Block\" can never be of type \"Log\".", [(1, 11)]),
        ("{ block { ...F } } fragment F on Long { x }", "Fragment \"F\" cannot condition on non composite type \"Long\".", [(1, 34)]),
        ("{ block { ... on Blok { hash } } }", "Unknown type \"Blok\". Did you mean \"Block\" or \"Log\"?", [(1, 18)]),
        ("query ($n: Long) { chainID }", "Variable \"$n\" is never used.", [(1, 8)]),
        ("query Q { block(number: $n) { hash } }", "Variable \"$n\" is not defined by operation \"Q\".", [(1, 25), (1, 1)]),
        ("query ($n: Int) { block(number: $n) { hash } }",
         "Variable \"$n\" of type \"Int\" used in position expecting type \"Long\".", [(1, 8), (1, 33)]),
        ("query ($b: Block) { chainID }", "Variable \"$b\" cannot be non-input type \"Block\".", [(1, 12)]),
        ("query ($a: Long, $a: Long) { block(number: $a) { hash } }", "There can be only one variable named \"$a\".", [(1, 9), (1, 19)]),
        ("{ chainID @unknown }", "Unknown directive \"@unknown\".", [(1, 11)]),
        ("query @skip(if: true) { chainID }", "Directive \"@skip\" may not be used on QUERY.", [(1, 7)]),
        ("{ chainID @skip(if: true) @skip(if: false) }", "The directive \"@skip\" can only be used once at this location.", [(1, 11), (1, 27)]),
        ("{ chainID @include }", "Directive \"@include\" argument \"if\" of type \"Boolean!\" is required, but it was not provided.", [(1, 11)]),
        ("{ block(number: 1, number: 2) { hash } }", "There can be only one argument named \"number\".", [(1, 9), (1, 20)]),
        ("{ logs(filter: {fromBlock: 1, fromBlock: 2}) { index } }", "There can be only one input field named \"fromBlock\".", [(1, 17), (1, 31)]),
        ("{ logs(filter: {form: 1}) { index } }", "Field \"form\" is not defined by type \"FilterCriteria\".", [(1, 17)]),
        ("{ blockStats(from: 1, to: null) { blockCount } }", "Expected value of type \"Long!\", found null.", [(1, 27)]),
        ("type T { a: Int } { chainID }", "The \"T\" definition is not executable.", [(1, 1)]),
        ("subscription { chainID }", "Schema is not configured to execute subscription operation.", [(1, 1)]),
    ] as [(String, String, [(Int, Int)])])
    func reportsRuleViolations(_ text: String, _ message: String, _ locations: [(Int, Int)]) throws {
        let found = try errors(text)
        let match = found.first { $0.message == message }
        #expect(match != nil, "\(text): got \(found.map(\.description))")
        #expect(match?.locations == locations.map { SourceLocation(line: $0.0, column: $0.1) }, "\(text)")
    }

    @Test func acceptsValidDocuments() throws {
        let docs = [
            "query Q($n: Long = 5, $f: FilterCriteria!) { block(number: $n) { ...B } logs(filter: $f) { index } } fragment B on Block { hash __typename }",
            "query ($n: Long!) { block(number: $n) { hash } }",
            "query ($n: Long = 1) { blockStats(from: $n, to: 5) { blockCount } }",
            "{ __schema { types { name } } __type(name: \"Block\") { fields { name } } }",
            "mutation { sendRawTransaction(data: \"0x01\") }",
            "{ a: block { hash } b: block(number: 3) { hash } c: chainID }",
            "{ block(number: \"0x10\") { hash } blocks(from: \"12\", to: 20) { number } }",
        ]
        for d in docs {
            let found = try errors(d)
            #expect(found.isEmpty, "\(d): \(found.map(\.description))")
        }
    }
}
