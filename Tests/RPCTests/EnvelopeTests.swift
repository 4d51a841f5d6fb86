import Chain
import Testing
@testable import RPC

/// JSON-RPC 2.0 envelope rules, independent of any method.
@Suite struct EnvelopeTests {
    let server = JSONRPCServer(maxBatch: 3) { method, params in
        switch method {
        case "echo": return .array(params.values)
        case "needsAddress": return .string(try params.address(0).hex)
        case "boom": struct Boom: Error {}; throw Boom()
        default: throw RPCError.methodNotFound(method)
        }
    }

    func answer(_ text: String) throws -> JSONValue? {
        try server.respond(to: Array(text.utf8)).map { try JSON.parse($0) }
    }

    func code(_ v: JSONValue?) -> String? { if case .number(let n)? = v?["error"]?["code"] { return n }; return nil }

    @Test func singleCallsAndIds() throws {
        let r = try #require(try answer(#"{"jsonrpc":"2.0","id":"abc","method":"echo","params":[1,"x"]}"#))
        #expect(r == .object(["jsonrpc": .string("2.0"), "id": .string("abc"), "result": .array([.number("1"), .string("x")])]))
        let n = try #require(try answer(#"{"jsonrpc":"2.0","id":7,"method":"echo"}"#))
        #expect(n["id"] == .number("7") && n["result"] == .array([]))
    }

    @Test func errorsHaveSpecCodes() throws {
        #expect(code(try answer("{not json")) == "-32700")
        #expect(try answer("{not json")?["id"] == .null)
        #expect(code(try answer(#"{"jsonrpc":"1.0","id":1,"method":"echo"}"#)) == "-32600")
        #expect(code(try answer(#"{"jsonrpc":"2.0","id":1,"method":5}"#)) == "-32600")
        #expect(code(try answer(#"{"jsonrpc":"2.0","id":{},"method":"echo"}"#)) == "-32600")
        #expect(code(try answer(#"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}}"#)) == "-32600")
        #expect(code(try answer(#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#)) == "-32601")
        #expect(code(try answer(#"{"jsonrpc":"2.0","id":1,"method":"boom"}"#)) == "-32603")
        #expect(code(try answer("42")) == "-32600")
        let bad = try #require(try answer(#"{"jsonrpc":"2.0","id":1,"method":"needsAddress","params":["0x12"]}"#))
        #expect(code(bad) == "-32602")
        #expect(bad["error"]?["message"]?.stringValue?.contains("argument 0 (address)") == true || bad["error"]?["message"]?.stringValue?.contains("address") == true)
        let missing = try #require(try answer(#"{"jsonrpc":"2.0","id":1,"method":"needsAddress","params":[]}"#))
        #expect(missing["error"]?["message"]?.stringValue == "missing value for required argument 0 (address)")
    }

    @Test func batchesAndNotifications() throws {
        let r = try #require(try answer(#"[{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#))
        let items = try #require(r.arrayValue)
        #expect(items.count == 2, "the notification gets no answer")
        #expect(items[0]["id"] == .number("1") && items[1]["id"] == .number("2") && code(items[1]) == "-32601")
        #expect(try answer(#"{"jsonrpc":"2.0","method":"echo"}"#) == nil)
        #expect(try answer(#"[{"jsonrpc":"2.0","method":"echo"}]"#) == nil)
        #expect(code(try answer("[]")) == "-32600")
        let tooMany = try answer("[" + Array(repeating: #"{"jsonrpc":"2.0","id":1,"method":"echo"}"#, count: 4).joined(separator: ",") + "]")
        #expect(code(tooMany) == "-32600" && tooMany?["error"]?["message"]?.stringValue?.contains("limit of 3") == true)
        let mixed = try #require(try answer(#"[1, {"jsonrpc":"2.0","id":3,"method":"echo"}]"#)?.arrayValue)
        #expect(mixed.count == 2 && code(mixed[0]) == "-32600" && mixed[1]["result"] != nil)
    }
}
