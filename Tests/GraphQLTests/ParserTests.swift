import Chain
import TestSupport
import Testing
@testable import GraphQL

@Suite struct ParserTests {
    func parseError(_ text: String) -> GraphQLError? {
        do { _ = try Parser.parse(text); return nil } catch { return error }
    }

    @Test func parsesTheExecutableGrammar() throws {
        let doc = try Parser.parse("""
            # a comment
            query Q($n: Long = 5, $list: [Bytes32!]! = ["0x1"], $o: FilterCriteria = {fromBlock: 1, topics: [[]]}) @include(if: true) {
              alias: block(number: $n) { hash ...F ... on Block @skip(if: false) { number } ... { gasUsed } }
              e: field(arg: ENUM_VALUE, f: 1.5e3, s: "x\\u00e9\\u{1F600}\\uD83D\\uDE00", b: false, n: null)
            }
            mutation { sendRawTransaction(data: "0x") }
            fragment F on Block { number }
            {
              __typename
            }
            """)
        #expect(doc.definitions.count == 4)
        let q = try #require(doc.operations.first)
        #expect(q.name == "Q" && q.operation == .query && q.variableDefinitions.count == 3)
        #expect(q.variableDefinitions[1].type.description == "[Bytes32!]!")
        #expect(q.nameLocation == SourceLocation(line: 2, column: 7))
        guard case .field(let aliasField) = q.selectionSet.selections[0] else { Issue.record("not a field"); return }
        #expect(aliasField.alias == "alias" && aliasField.name == "block" && aliasField.selectionSet?.selections.count == 4)
        guard case .field(let e) = q.selectionSet.selections[1] else { Issue.record("not a field"); return }
        #expect(e.arguments.map(\.name) == ["arg", "f", "s", "b", "n"])
        #expect(e.arguments[0].value.kind == .enumValue("ENUM_VALUE"))
        #expect(e.arguments[1].value.kind == .float("1.5e3"))
        #expect(e.arguments[2].value.kind == .string("xé😀😀"))
        #expect(doc.operations[1].operation == .mutation && doc.fragments.first?.typeCondition == "Block")
    }

    @Test func blockStringsAreDedented() throws {
        let doc = try Parser.parse("{ f(a: \"\"\"\n    hello\n      world\n    \\\"\"\" done\n\n  \"\"\") }")
        guard case .field(let f) = doc.operations[0].selectionSet.selections[0] else { Issue.record("not a field"); return }
        #expect(f.arguments[0].value.kind == .string("hello\n  world\n\"\"\" done"))
    }

    @Test func parsesTheTypeSystemLanguage() throws {
        let doc = try Parser.parse("""
            "desc" schema { query: Q mutation: M }
            \"\"\"block
            desc\"\"\"
            type Q implements & I & J @d { f(a: Int = 1 @deprecated, "b" b: [String!]!): String! @deprecated(reason: "x") }
            interface I { f: String }
            union U = | A | B
            enum E { A "b" B @x }
            input In { a: Int = 3, b: String! }
            scalar S @specifiedBy(url: "u")
            directive @d(x: Int) repeatable on FIELD | OBJECT
            extend type Q { g: Int }
            """)
        #expect(doc.definitions.count == 9)
        guard case .type(let q) = doc.definitions[1] else { Issue.record("not a type"); return }
        #expect(q.description == "block\ndesc" && q.interfaces == ["I", "J"] && q.fields[0].arguments.count == 2)
        guard case .directive(let d) = doc.definitions[7] else { Issue.record("not a directive"); return }
        #expect(d.isRepeatable && d.locations == ["FIELD", "OBJECT"])
    }

    /// Messages and locations as graphql-js reports them.
    @Test(arguments: [
        ("{", "Syntax Error: Expected Name, found <EOF>.", 1, 2),
        ("", "Syntax Error: Unexpected <EOF>.", 1, 1),
        ("{ a(b: ) }", "Syntax Error: Unexpected \")\".", 1, 8),
        ("query { a }\n  fragment on on X { a }", "Syntax Error: Unexpected Name \"on\".", 2, 12),
        ("{ a(x: \"abc) }", "Syntax Error: Unterminated string.", 1, 15),
        ("{ a(x: \"\\q\") }", "Syntax Error: Invalid character escape sequence: \"\\q\".", 1, 9),
        ("{ a(x: \"\\u12G4\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u12G4\".", 1, 9),
        ("{ a(x: 01) }", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 9),
        ("{ a(x: 1.) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10),
        ("{ a(x: 0x1) }", "Syntax Error: Invalid number, expected digit but got: \"x\".", 1, 9),
        ("{ a ? }", "Syntax Error: Unexpected character: \"?\".", 1, 5),
        ("{ a(x: 'b') }", "Syntax Error: Unexpected single quote character ('), did you mean to use a double quote (\")?", 1, 8),
        ("query Q($a: Int = $b) { a }", "Syntax Error: Unexpected variable \"$b\" in constant value.", 1, 19),
        ("notanop { a }", "Syntax Error: Unexpected Name \"notanop\".", 1, 1),
        // graphql-js 16 reports the token after the description (graphql-core 3.3 the description).
        ("\"\"\"x\"\"\" { a }", "Syntax Error: Unexpected \"{\".", 1, 9),
        ("\"desc\" query { a }", "Syntax Error: Unexpected description, descriptions are supported only on type definitions.", 1, 1),
        ("{ a }\n\n  ..", "Syntax Error: Unexpected character: \".\".", 3, 3),
        ("{ ...on }", "Syntax Error: Expected Name, found \"}\".", 1, 9),
        ("\"\"\"unterminated", "Syntax Error: Unterminated string.", 1, 16),
        ("enum E { true }", "Syntax Error: Name \"true\" is reserved and cannot be used for an enum value.", 1, 10),
        ("{ a(x: \"a\u{7}\") }", "Syntax Error: Invalid character within String: U+0007.", 1, 10),
    ] as [(String, String, Int, Int)])
    func reportsSyntaxErrorsWithLocations(_ text: String, _ message: String, _ line: Int, _ column: Int) {
        let e = parseError(text)
        #expect(e?.message == message, "\(text)")
        #expect(e?.locations == [SourceLocation(line: line, column: column)], "\(text)")
        #expect(e?.json["locations"] == .array([.object(["line": .number(String(line)), "column": .number(String(column))])]))
    }

    @Test func nestingIsCapped() {
        let deep = String(repeating: "{ a ", count: 200) + String(repeating: "}", count: 200)
        #expect(parseError(deep)?.message.contains("nesting exceeds") == true)
        let deepList = "{ a(x: " + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + ") }"
        #expect(parseError(deepList)?.message.contains("nesting exceeds") == true)
        let fine = String(repeating: "{ a ", count: 30) + String(repeating: "}", count: 30)
        #expect(parseError(fine) == nil)
    }

    /// Mutated documents (deleted, duplicated, swapped and random characters) must parse
    /// or fail with a located syntax error; never crash or hang.
    @Test func mutatedDocumentsNeverCrash() {
        let seed = SeededRandom.seed("mutatedDocumentsNeverCrash")
        var rng = SeededRandom(seed: seed)
        let corpus = [
            "query Q($n: Long = 5, $h: Bytes32) { block(number: $n, hash: $h) { hash parent { number } ...F } }",
            "fragment F on Block { transactions { hash from { address balance } logs { topics data } } }",
            "{ logs(filter: {fromBlock: 1, addresses: [\"0xab\"], topics: [[], [\"0x01\"]]}) { index data } }",
            "type Q { f(a: [Int!]! = [1, 2]): String @deprecated(reason: \"\"\"x\n y\"\"\") } enum E { A B }",
            "mutation M { sendRawTransaction(data: \"0x\\u00e9\") } subscription { x @skip(if: $v) }",
        ]
        let alphabet = Array("{}()[]:$@!=|&...\"\\\"\"\"#,\n \t0123456789-eE.abcxyz_onquery fragment".unicodeScalars)
        for round in 0..<3000 {
            var chars = Array(corpus[round % corpus.count].unicodeScalars)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0...chars.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where i < chars.count: chars.remove(at: i)
                case 1: chars.insert(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)], at: i)
                case 2 where i < chars.count: chars.insert(contentsOf: chars[i..<min(chars.count, i + 8)], at: i)
                default: chars.insert(Unicode.Scalar(UInt32.random(in: 0...0x7f, using: &rng)) ?? "x", at: i)
                }
            }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: chars)
            let text = String(s)
            if let e = parseError(text) {
                #expect(e.message.hasPrefix("Syntax Error: ") && e.locations.count == 1, "seed \(seed) round \(round): \(text)")
            }
        }
    }
}
