import Chain
import Foundation
import Testing
import TestSupport
@testable import GraphQL

/// graphql-core (Python) as an independent reference: our introspection must rebuild into
/// the schema our SDL describes, and our syntax/validation errors must equal its errors.
@Suite struct GraphQLCoreReferenceTests {
    static var script: String { References.packageRoot.appendingPathComponent("Tests/python/graphql_reference.py").path }
    static var required: Bool { References.required }
    static var available: Bool {
        let ok = References.python != nil && (try? run(["-c", "import graphql"])) != nil
        if !ok && !required { print("SKIP: graphql-core not available (set INFRASTACK_PYTHON to the venv Tests/run creates)") }
        return ok || required
    }

    static func run(_ args: [String]) throws -> String {
        String(decoding: try References.runPython(arguments: args), as: UTF8.self)
    }


    func temp(_ name: String, _ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "gql-\(UUID().uuidString.prefix(8))-\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(.enabled(if: available)) func introspectionRebuildsIntoThePrintedSchema() throws {
        let chain = try TestChain.make(seed: 1, blocks: 2)
        let service = chain.service()
        let query = try Self.run([Self.script, "introspection-query"])
        let result = service.execute(query: query, operationName: nil, variables: nil)
        #expect(result["errors"] == nil, "\(JSON.serialize(result["errors"] ?? .null))")
        let verdictText = try Self.run([Self.script, "check", try temp("introspection.json", JSON.serialize(result)), try temp("schema.graphql", service.sdl)])
        let verdict = try JSON.parse(verdictText)
        #expect(verdict["ok"] == .bool(true), "\(verdict["problem"]?.stringValue ?? "")\n\(verdict["diff"]?.stringValue ?? "")")
    }

    /// Documents whose errors do not depend on our custom scalars' rules (graphql-core
    /// treats them as pass-through) or on the overlapping-fields rule (not implemented).
    static let documents = [
        "{ block { nope hahs } }",
        "{ block(numbr: 1) { hash } transaction { hash } }",
        "{ blocksPage(first: \"1\") { nodes { hash } } }",
        "{ block { hash { x } } }",
        "{ block }",
        "query A { chainID } query A { chainID }",
        "{ chainID } query B { chainID }",
        "{ block { ...F } }",
        "{ chainID } fragment F on Block { hash }",
        "{ block { ...F } } fragment F on Block { ...G } fragment G on Block { ...F }",
        "{ block { ...F } } fragment F on Log { index }",
        "{ block { ... on Log { index } } }",
        "{ block { ...F } } fragment F on Long { x }",
        "{ block { ... on Blok { hash } } }",
        "query ($n: Long) { chainID }",
        "query Q { block(number: $n) { hash } }",
        "query ($n: Int) { block(number: $n) { hash } }",
        "query ($n: Long = 1) { blockStats(from: $n, to: 5) { blockCount } }",
        "query ($b: Block) { chainID }",
        "query ($a: Long, $a: Long) { block(number: $a) { hash } }",
        "{ chainID @unknown }",
        "query @skip(if: true) { chainID }",
        "{ chainID @skip(if: true) @skip(if: false) }",
        "{ chainID @include }",
        "{ block(number: 1, number: 2) { hash } }",
        "{ logs(filter: {fromBlock: 1, fromBlock: 2}) { index } }",
        "{ logs(filter: {form: 1}) { index } }",
        "{ blockStats(from: 1, to: null) { blockCount } }",
        "{ logs(filter: 3) { index } }",
        "type T { a: Int } { chainID }",
        "query ($f: FilterCriteria = {addresses: []}) { logs(filter: $f) { index } }",
        "{ __type(name: \"Block\") { name fields { nam } } }",
        "{ blocksPage(first: 99999999999) { nodes { hash } } }",
        "{ block", "{ a(x: \"\\uD800\") }", "query ($x: [[Int!]!) { a }", "{ ...on }", "fragment on on on { a }",
        "{ a(b: {c: [1, 2, {d: $e}]}) }", "{ a(x: 1e) }", "{ a(x: \"\\u{110000}\") }",
    ]

    /// graphql-core 3.3 words these as graphql-js 17 does; we keep graphql-js 16's wording
    /// (what most GraphQL clients show). For them only the locations are compared.
    static let rewordedUpstream = ["Argument '", "Directive '@", "Expected value of type '", "Expected value of non-null type '",
                                   ]

    @Test(.enabled(if: available)) func errorsEqualGraphQLCore() throws {
        let sdl = try temp("schema.graphql", SchemaPrinter.print(GraphQLService.ethereumSchema))
        let docs = try temp("docs.json", JSON.serialize(.array(Self.documents.map { .string($0) })))
        let reference = try JSON.parse(Self.run([Self.script, "errors", sdl, docs])).arrayValue ?? []
        #expect(reference.count == Self.documents.count)
        for (doc, expected) in zip(Self.documents, reference) {
            var ours: [GraphQLError]
            do { ours = Validator.validate(try Parser.parse(doc), against: GraphQLService.ethereumSchema) } catch { ours = [error] }
            var reworded = false
            let theirs = (expected.arrayValue ?? []).map { e -> String in
                let locs = (e["locations"]?.arrayValue ?? []).map { l in "\(l.at("0")?.number ?? 0):\(l.at("1")?.number ?? 0)" }
                let message = e["message"]?.stringValue ?? ""
                if Self.rewordedUpstream.contains(where: { message.hasPrefix($0) }) { reworded = true }
                // graphql-core 3.3 quotes names with ' where graphql-js 16 uses ".
                return "\(message.replacingOccurrences(of: "'", with: "\"")) @ \(locs)"
            }.sorted()
            let mine = ours.map { "\($0.message) @ \($0.locations.map(\.description))" }.sorted()
            if reworded {
                #expect(mine.map { $0.split(separator: "@").last } == theirs.map { $0.split(separator: "@").last }, "\(doc)")
            } else {
                #expect(mine == theirs, "\(doc)")
            }
        }
    }

    @Test func printedSchemaRebuildsIdentically() throws {
        // Our own round trip (no Python needed): SDL → schema → SDL is a fixed point.
        let printed = SchemaPrinter.print(GraphQLService.ethereumSchema)
        let again = SchemaPrinter.print(try SchemaBuilder.build(sdl: printed, scalars: EthereumScalars.all))
        #expect(printed == again)
        #expect(printed.contains("blocks(from: Long, to: Long): [Block!]!") && printed.contains("sendRawTransaction(data: Bytes!): Bytes32!"))
    }
}
