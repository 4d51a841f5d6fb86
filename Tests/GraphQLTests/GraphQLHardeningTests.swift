import Testing
import TestSupport
import Net
import Chain
@testable import GraphQL

/// Nesting limits in documents and values, fragment chains, and bounded echoes of input in
/// error messages — on a thread with the production worker stack.
@Suite(.serialized) struct GraphQLHardeningTests {
    static let chain: TestChain = try! TestChain.make(seed: 7, blocks: 3)

    static func message(_ r: JSONValue) -> String { r.at("errors.0.message")?.stringValue ?? "" }

    /// `n` levels of selection sets, list values, object values or list types.
    static func nested(_ kind: Int, _ n: Int) -> String {
        switch kind {
        case 0: return String(repeating: "{ a ", count: n) + String(repeating: "}", count: n)
        case 1: return "{ a(x: " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + ") }"
        case 2: return "{ a(x: " + String(repeating: "{ k: ", count: n) + "1" + String(repeating: " }", count: n) + ") }"
        default: return "query ($v: " + String(repeating: "[", count: n) + "Int" + String(repeating: "]", count: n) + ") { a }"
        }
    }

    /// At the parser's limit and one past it, for each construct that nests.
    @Test func documentNestingAtTheLimitAndPastIt() throws {
        let limit = Parser.defaultMaxNesting
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            for kind in 0..<4 {
                let build = { (n: Int) in Self.nested(kind, n) }
                // Argument values sit inside the operation's selection set, one level already.
                let base = kind == 1 || kind == 2 ? 1 : 0
                let ok = build(limit - base)
                let doc = try Parser.parse(ok)
                try Fuzz.check(doc == (try Parser.parse(ok)), "equal documents")
                let e = try Fuzz.expectError(GraphQLError.self, "\(limit - base + 1) levels") { () throws(GraphQLError) in _ = try Parser.parse(build(limit - base + 1)) }
                try Fuzz.check(e.message.contains("nesting exceeds the limit of \(limit)"), e.message)
                try Fuzz.expectError(GraphQLError.self, "far past") { () throws(GraphQLError) in _ = try Parser.parse(build(50_000)) }
            }
        }
    }

    /// A chain of fragments, each spreading the next inside its own nesting, used to overflow
    /// the worker stack in validation: 480 fragments of 45 levels fit in the 256 KB query limit.
    @Test func fragmentChainsAreBounded() throws {
        let service = Self.chain.service()
        try Fuzz.onThread(stackSize: WorkerPool.threadStackSize) {
            var q = "{ block { ...F0 } }\n"
            let n = 480, levels = 45
            for i in 0..<n {
                q += "fragment F\(i) on Block { " + String(repeating: "parent { ", count: levels) + "...F\(i + 1) " + String(repeating: "} ", count: levels) + "}\n"
            }
            q += "fragment F\(n) on Block { hash }\n"
            let r = service.execute(query: q, operationName: nil, variables: nil)
            try Fuzz.check(Self.message(r).contains("levels deep through fragment spreads, more than the limit of \(Parser.defaultMaxNesting)"), Self.message(r))
            // A short chain still runs.
            var short = "{ ...F0 }\n"
            for i in 0..<10 { short += "fragment F\(i) on Query { ...F\(i + 1) }\n" }
            short += "fragment F10 on Query { chainID }\n"
            let ok = service.execute(query: short, operationName: nil, variables: nil)
            try Fuzz.check(ok.at("data.chainID") != nil, JSON.serialize(ok))
        }
    }

    /// A 7 MB variable, a 200 KB literal or name, an unknown 1 MB operation name: each error
    /// names the problem with a bounded prefix of the input.
    @Test func errorMessagesQuoteBoundedPrefixes() throws {
        var limits = GraphQLLimits(); limits.maxQueryBytes = 1 << 20
        let service = Self.chain.service(limits: limits)
        let big = String(repeating: "x", count: 7 << 20)
        let cases: [(String, String?, JSONObject?, String)] = [
            ("query ($n: Long) { block(number: $n) { hash } }", nil, ["n": .string(big)], "Variable \"$n\" got invalid value \"\\\"xxxx"),
            ("{ block(number: \"\(String(repeating: "y", count: 200_000))\") { hash } }", nil, nil, "Expected value of type \"Long\", found \"\\\"yyyy"),
            ("{ \(String(repeating: "z", count: 200_000)) }", nil, nil, "Cannot query field \"zzzz"),
            ("{ chainID }", String(repeating: "o", count: 1 << 20), nil, "Unknown operation named \"oooo"),
            ("{ chainID \u{1}\(String(repeating: "w", count: 100_000)) }", nil, nil, "Syntax Error"),
            ("{ chainID(x: \"\(String(repeating: "s", count: 100_000))) }", nil, nil, "Syntax Error"),
        ]
        for (query, op, vars, prefix) in cases {
            let m = Self.message(service.execute(query: query, operationName: op, variables: vars))
            // Checked as plain booleans so a failure does not print the megabytes it is about.
            let (expected, bounded) = (m.hasPrefix(prefix), m.utf8.count < 600)
            #expect(expected && bounded, "\(m.utf8.count) bytes: \(m.prefix(300))")
        }
        // Short input is echoed exactly as graphql-js does.
        #expect(Self.message(service.execute(query: "{ nope }", operationName: nil, variables: nil)) == "Cannot query field \"nope\" on type \"Query\".")
    }
}
