import Chain
import Testing
import TestSupport
@testable import RPC

/// `JSONRPCServer.singleMethod` decides where a request runs (the HTTP loop or a worker), so
/// it must never name a method other than the one the parser will dispatch.
@Suite struct SingleMethodScanTests {
    func scan(_ text: String) -> String? { JSONRPCServer.singleMethod(Array(text.utf8)) }

    @Test func namesTheTopLevelMethodOfOneRequest() {
        #expect(scan(#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x01","latest"]}"#) == "eth_getBalance")
        #expect(scan(" \n{ \"params\" : [ {\"method\":\"eth_chainId\"} ] , \"method\" :\t\"eth_getLogs\" }\n") == "eth_getLogs",
                "a method key inside params is not the request's")
        #expect(scan(#"{"params":["\"method\":\"eth_chainId\""],"method":"eth_getLogs"}"#) == "eth_getLogs",
                "nor is one inside a string")
        #expect(scan(#"{"id":1}"#) == nil)
    }

    @Test func refusesWhatItCannotBeSureOf() {
        #expect(scan(#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]"#) == nil, "a batch")
        #expect(scan(#"{"method":"eth_chainId","method":"eth_getLogs"}"#) == nil, "a duplicate method key")
        #expect(scan(#"{"meth\u006fd":"eth_getLogs","method":"eth_chainId"}"#) == nil, "an escaped key")
        #expect(scan(#"{"method":"eth_ch\u0061inId"}"#) == nil, "an escaped value")
        #expect(scan(#"{"method":"eth_chainId"} {"method":"eth_getLogs"}"#) == nil, "trailing bytes")
        #expect(scan(#"{"method":"eth_chainId""#) == nil, "truncated")
        #expect(scan(#"{"method":7}"#) == nil)
        #expect(scan("") == nil && scan("nul") == nil)
        #expect(JSONRPCServer.singleMethod(Array(("{\"method\":\"eth_chainId\",\"params\":[\"" + String(repeating: "a", count: 5000) + "\"]}").utf8)) == nil,
                "a body above the size bound")
    }

    /// Random request-like bodies (nested objects with method keys, strings with quotes and
    /// escapes, whitespace, sometimes truncated or mangled): whenever the scan names a
    /// method for a body the parser accepts, the parser's method is exactly that. (A body the
    /// parser refuses is answered with a parse error wherever it runs, which is cheap.)
    @Test func neverDisagreesWithTheParser() {
        let seed = SeededRandom.seed("SingleMethodScanTests.neverDisagreesWithTheParser")
        var rng = SeededRandom(seed: seed)
        let names = ["eth_chainId", "eth_getLogs", "method", "params", "id", "x\\\"y", "m\\u0065thod", "eth_getBalance"]
        func ws() -> String { ["", " ", "\n", "\t ", ""].randomElement(using: &rng)! }
        func string() -> String { "\"" + names.randomElement(using: &rng)! + "\"" }
        func value(_ depth: Int) -> String {
            switch Int.random(in: 0..<(depth > 3 ? 3 : 6), using: &rng) {
            case 0: return string()
            case 1: return String(Int.random(in: 0..<1000, using: &rng))
            case 2: return ["true", "null", "false"].randomElement(using: &rng)!
            case 3: return "[" + (0..<Int.random(in: 0..<3, using: &rng)).map { _ in ws() + value(depth + 1) }.joined(separator: ",") + "]"
            default: return object(depth + 1)
            }
        }
        func object(_ depth: Int) -> String {
            "{" + (0..<Int.random(in: 0..<4, using: &rng)).map { _ in ws() + string() + ws() + ":" + ws() + value(depth) }.joined(separator: ",") + "}"
        }
        var named = 0
        for i in 0..<20_000 {
            var body = Array(object(0).utf8)
            if Bool.random(using: &rng) {
                body = Array("{\"jsonrpc\":\"2.0\",\(ws())\"method\":\(string()),\"params\":[\(value(1))]}".utf8)
            }
            if Int.random(in: 0..<5, using: &rng) == 0, !body.isEmpty {
                let at = Int.random(in: 0..<body.count, using: &rng)
                if Bool.random(using: &rng) { body.removeSubrange(at...) } else { body[at] = Array("{}[],:\" \\".utf8).randomElement(using: &rng)! }
            }
            guard let method = JSONRPCServer.singleMethod(body) else { continue }
            guard let parsed = try? JSON.parse(body) else { continue }
            named += 1
            guard parsed["method"]?.stringValue == method, parsed.objectValue != nil else {
                Issue.record("seed \(seed), body \(i): scan says \(method), parser says \(String(describing: parsed["method"])): \(String(decoding: body, as: UTF8.self))")
                return
            }
        }
        #expect(named > 2000, "seed \(seed): the generator produced too few named bodies to mean anything (\(named))")
    }
}
