import Chain
import TestSupport
import Testing
@testable import GraphQL

/// The engine's execution semantics, on a tiny hand-written schema whose resolvers are
/// predictable (so null propagation and error paths can be checked exactly).
@Suite struct ExecutionTests {
    static let sdl = """
        type Query { item(id: Int!): Item, items(n: Int = 3): [Item!]!, nullableItems: [Item], echo(s: String, l: [Int!], o: In): String, fail: String, mustNot: String! }
        type Item { id: Int!, name: String, strict: String!, child: Item, tags: [String!] }
        input In { a: Int = 7, b: String! }
        type Mutation { bump: Int! }
        """

    struct Root: ObjectValue {
        var typeName: String { "Query" }
        func resolve(field: String, arguments: Arguments) throws -> Resolved {
            switch field {
            case "item": return .object(Item(id: arguments.int("id") ?? -1))
            case "items": return .list((0..<(arguments.int("n") ?? 0)).map { .object(Item(id: $0)) })
            case "nullableItems": return .list([.object(Item(id: 1)), .object(Item(id: 13)), .null])
            case "echo":
                var o = JSONObject()
                for (k, v) in arguments.values.sorted(by: { $0.key < $1.key }) { o[k] = v }
                return .string(JSON.serialize(.object(o)))
            case "fail": throw FieldFailure("boom")
            case "mustNot": return .null
            default: return .null
            }
        }
    }

    struct Item: ObjectValue {
        let id: Int
        var typeName: String { "Item" }
        func resolve(field: String, arguments: Arguments) throws -> Resolved {
            switch field {
            case "id": return .int(id)
            case "name": return .string("item\(id)")
            // Item 13 is unlucky: its strict field fails, which must null its parent.
            case "strict": if id == 13 { throw FieldFailure("unlucky") }; return .string("ok")
            case "child": return id < 3 ? .object(Item(id: id + 1)) : .null
            case "tags": return .list([.leaf(.string("a")), .leaf(.string("b"))])
            default: return .null
            }
        }
    }

    func run(_ q: String, _ vars: JSONObject? = nil, operation: String? = nil) throws -> JSONValue {
        let schema = try SchemaBuilder.build(sdl: Self.sdl)
        let doc = try Parser.parse(q)
        let invalid = Validator.validate(doc, against: schema)
        if !invalid.isEmpty { return GraphQLService.response(data: nil, errors: invalid) }
        let op = try #require(doc.operations.first { operation == nil || $0.name == operation })
        switch InputCoercion(schema: schema).variables(op, vars) {
        case .failure(let e): return GraphQLService.response(data: nil, errors: e.errors)
        case .success(let v):
            let ex = Executor(schema: schema, document: doc, variables: v)
            let data = ex.execute(op, root: Root())
            return GraphQLService.response(data: data, errors: ex.errors)
        }
    }

    func json(_ s: String) throws -> JSONValue { try JSON.parse(s) }

    @Test func aliasesFragmentsAndTypename() throws {
        let r = try run("""
            { a: item(id: 1) { ...F child { ... on Item { id } } } b: item(id: 2) { __typename id name } __typename }
            fragment F on Item { id name }
            """)
        #expect(r == (try json(#"{"data":{"a":{"id":1,"name":"item1","child":{"id":2}},"b":{"__typename":"Item","id":2,"name":"item2"},"__typename":"Query"}}"#)))
    }

    @Test func fieldsWithTheSameKeyMerge() throws {
        let r = try run("{ item(id: 1) { id child { id } } item(id: 1) { name child { name } } }")
        #expect(r == (try json(#"{"data":{"item":{"id":1,"child":{"id":2,"name":"item2"},"name":"item1"}}}"#)))
    }

    @Test func skipAndIncludeWithVariables() throws {
        let q = "query ($yes: Boolean!, $no: Boolean = false) { item(id: 1) { id @skip(if: $yes) name @include(if: $yes) ... @include(if: $no) { tags } } }"
        #expect(try run(q, ["yes": .bool(true)]) == (try json(#"{"data":{"item":{"name":"item1"}}}"#)))
        #expect(try run(q, ["yes": .bool(false), "no": .bool(true)]) == (try json(#"{"data":{"item":{"id":1,"tags":["a","b"]}}}"#)))
    }

    @Test func variablesDefaultsAndInputCoercion() throws {
        let q = "query ($s: String = \"dflt\", $l: [Int!], $o: In) { echo(s: $s, l: $l, o: $o) items { id } }"
        let r = try run(q, ["l": .number("5"), "o": .object(["b": .string("x")])])
        // A single value where a list is expected becomes a one-item list; input defaults apply.
        #expect(r.at("data.echo") == .string(#"{"l":[5],"o":{"a":7,"b":"x"},"s":"dflt"}"#))
        #expect(r.at("data.items")?.arrayValue?.count == 3)
        let bad = try run(q, ["o": .object(["a": .number("1")])])
        #expect(bad.at("errors.0.message") == .string("Variable \"$o\" got invalid value { a: 1 }; Field \"b\" of required type \"String!\" was not provided."))
        #expect(bad["data"] == nil)
        let wrong = try run("query ($n: Int!) { item(id: $n) { id } }", ["n": .string("7")])
        #expect(wrong.at("errors.0.message") == .string("Variable \"$n\" got invalid value \"7\"; Int cannot represent non-integer value: \"7\""))
        let missing = try run("query ($n: Int!) { item(id: $n) { id } }")
        #expect(missing.at("errors.0.message") == .string("Variable \"$n\" of required type \"Int!\" was not provided."))
        #expect(missing.at("errors.0.locations.0") == (try json(#"{"line":1,"column":8}"#)))
    }

    @Test func fieldErrorsCarryPathsAndNullsPropagate() throws {
        // A failing nullable field is null with an error at its path.
        let r1 = try run("{ fail item(id: 1) { id } }")
        #expect(r1 == (try json(#"{"errors":[{"message":"boom","locations":[{"line":1,"column":3}],"path":["fail"]}],"data":{"fail":null,"item":{"id":1}}}"#)))
        // A failing non-null field nulls its nullable parent.
        let r2 = try run("{ item(id: 13) { id strict } }")
        #expect(r2 == (try json(#"{"errors":[{"message":"unlucky","locations":[{"line":1,"column":21}],"path":["item","strict"]}],"data":{"item":null}}"#)))
        // Inside a list of nullable items only that item becomes null.
        let r3 = try run("{ nullableItems { id strict } }")
        #expect(r3.at("data.nullableItems") == (try json(#"[{"id":1,"strict":"ok"},null,null]"#)))
        #expect(r3.at("errors.0.path") == (try json(#"["nullableItems",1,"strict"]"#)))
        // In a list of non-null items the whole list goes; non-null root field nulls data.
        let r4 = try run("{ mustNot }")
        #expect(r4 == (try json(#"{"errors":[{"message":"Cannot return null for non-nullable field Query.mustNot.","locations":[{"line":1,"column":3}],"path":["mustNot"]}],"data":null}"#)))
    }

    @Test func operationsAreChosenByName() throws {
        let r = try run("query A { item(id: 1) { id } } query B { item(id: 2) { id } }", operation: "B")
        #expect(r.at("data.item.id") == .number("2"))
    }
}
