import Chain
@testable import ChainIndex
import Foundation
import Testing
import TestSupport
@testable import WebhookEvents
import Webhooks

/// Which events a filter selects from a block, and what they carry: new_tx by sender,
/// recipient, selector and value; contract_event by address and topics, decoded by an ABI
/// signature (checked against eth_abi, the reference codec, on random events); state_change
/// by address, field and slot, with no event for an account written with what it had.
@Suite struct EventMatcherTests {
    static let a = Address(unchecked: [UInt8](repeating: 0xaa, count: 20)), b = Address(unchecked: [UInt8](repeating: 0xbb, count: 20))

    static func content(txs: [JSONValue] = [], logs: [JSONValue] = [], accounts: [BlockContent.AccountChange] = [], storage: [BlockContent.SlotChange] = []) -> BlockContent {
        BlockContent(number: 7, hash: Hash32(unchecked: [UInt8](repeating: 7, count: 32)), parentHash: Hash32(unchecked: [UInt8](repeating: 6, count: 32)),
                     header: Array(#"{"number":"0x7","transactions":[]}"#.utf8), transactions: txs.map { Array(JSON.serialize($0).utf8) },
                     receipts: txs.map { _ in Array(#"{"status":"0x1"}"#.utf8) }, logs: logs.map { Array(JSON.serialize($0).utf8) },
                     accounts: accounts, storage: storage)
    }

    static func matcher(_ e: WebhookEvent, _ filter: String) throws -> EventMatcher {
        guard case .success(let canonical) = WebhookFilter.parse(try JSON.parse(filter), event: e) else { throw TestFailure("filter \(filter) refused") }
        return try EventMatcher(event: e, filter: canonical)
    }

    @Test func newTransactionsByFromToSelectorAndValue() throws {
        let txs: [JSONValue] = [
            .object(["hash": .string("0x01"), "from": .string(Self.a.hex.uppercased().replacingOccurrences(of: "0X", with: "0x")), "to": .string(Self.b.hex),
                     "input": .string("0xa9059cbb0000"), "value": .string("0x0")]),
            .object(["hash": .string("0x02"), "from": .string(Self.b.hex), "to": .null, "input": .string("0x6080"), "value": .string("0xde0b6b3a7640000")]),
            .object(["hash": .string("0x03"), "from": .string(Self.a.hex), "to": .string(Self.a.hex), "input": .string("0x"), "value": .string("0x5")]),
        ]
        let c = Self.content(txs: txs)
        func hashes(_ f: String) throws -> [String] { try Self.matcher(.newTx, f).events(in: c).compactMap { $0["transaction"]?["hash"]?.stringValue } }
        #expect(try hashes("{}") == ["0x01", "0x02", "0x03"])
        #expect(try hashes(#"{"from":"\#(Self.a.hex)"}"#) == ["0x01", "0x03"], "addresses compare in any letter case")
        #expect(try hashes(#"{"to":"\#(Self.b.hex)"}"#) == ["0x01"])
        #expect(try hashes(#"{"selector":"0xA9059CBB"}"#) == ["0x01"])
        #expect(try hashes(#"{"minValue":"5"}"#) == ["0x02", "0x03"])
        #expect(try hashes(#"{"minValue":"1000000000000000000"}"#) == ["0x02"])
        #expect(try Self.matcher(.newTx, "{}").events(in: c).first?["receipt"]?["status"] == .string("0x1"), "the receipt rides along")
    }

    @Test func contractEventsByAddressTopicsAndABI() throws {
        let transfer = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        #expect(try #require(try? EventABI.parse("Transfer(address indexed from, address indexed to, uint256 value)").get()).topic0.hex == transfer,
                "keccak of the canonical signature is the well-known Transfer topic")
        func pad(_ a: Address) -> String { "0x" + String(repeating: "0", count: 24) + a.hex.dropFirst(2) }
        let logs: [JSONValue] = [
            .object(["address": .string(Self.a.hex), "topics": .array([.string(transfer), .string(pad(Self.a)), .string(pad(Self.b))]),
                     "data": .string("0x" + String(repeating: "0", count: 61) + "3e8"), "logIndex": .string("0x0"), "removed": .bool(false)]),
            .object(["address": .string(Self.b.hex), "topics": .array([.string(transfer)]), "data": .string("0x"), "logIndex": .string("0x1"), "removed": .bool(false)]),
            .object(["address": .string(Self.a.hex), "topics": .array([]), "data": .string("0x"), "logIndex": .string("0x2"), "removed": .bool(false)]),
        ]
        let c = Self.content(logs: logs)
        func indexes(_ f: String) throws -> [String] { try Self.matcher(.contractEvent, f).events(in: c).compactMap { $0["logIndex"]?.stringValue } }
        #expect(try indexes("{}") == ["0x0", "0x1", "0x2"])
        #expect(try indexes(#"{"addresses":["\#(Self.a.hex)"]}"#) == ["0x0", "0x2"])
        #expect(try indexes(#"{"topics":["\#(transfer)"]}"#) == ["0x0", "0x1"])
        #expect(try indexes(#"{"topics":[null,["\#(pad(Self.b))","\#(pad(Self.a))"]]}"#) == ["0x0"])
        let decoded = try Self.matcher(.contractEvent, #"{"abi":"Transfer(address indexed from, address indexed to, uint256 value)"}"#).events(in: c)
        #expect(decoded.count == 2, "an ABI selects its own topic 0")
        #expect(decoded[0]["decoded"]?["args"] == .object(["from": .string(Self.a.hex), "to": .string(Self.b.hex), "value": .string("1000")]))
        #expect(decoded[1]["decoded"]?["args"] == .null && decoded[1]["decoded"]?["error"]?.stringValue?.contains("topics") == true,
                "a log that does not fit its signature says why instead of inventing values")
    }

    /// Random events encoded by eth_abi decode to the values it encoded.
    @Test func abiDecodingAgreesWithEthABI() throws {
        guard References.runPythonTests else { return }
        let seed = SeededRandom.seed("EventMatcherTests.abi")
        let out = try References.runPython("abi_events.py", input: Data(#"{"seed":\#(seed % 1_000_000),"count":300}"#.utf8))
        let cases = try #require(try JSON.parse(Array(out)).arrayValue)
        #expect(cases.count == 300)
        for (i, k) in cases.enumerated() {
            let sig = k["signature"]!.stringValue!
            guard case .success(let abi) = EventABI.parse(sig) else { Issue.record("seed \(seed) case \(i): \(sig) refused"); continue }
            #expect(abi.canonical == k["canonical"]!.stringValue!, "seed \(seed) case \(i): canonical form of \(sig)")
            let topics = try k["topics"]!.arrayValue!.map { try Hash32(hex: $0.stringValue!) }
            #expect(topics[0] == abi.topic0, "seed \(seed) case \(i): topic 0 of \(sig)")
            let args = try abi.decode(topics: topics, data: try Hex.decodeData(k["data"]!.stringValue!))
            #expect(args.map { JSONValue.object($0) } == k["args"], "seed \(seed) case \(i): \(sig)")
        }
    }

    @Test func truncatedOrLyingDataIsRefusedNotRead() throws {
        let abi = try EventABI.parse("E(string s, uint256 x)").get()
        var data = [UInt8](repeating: 0, count: 64)
        data[31] = 0x40
        data[63] = 9
        #expect(throws: (any Error).self) { try abi.decode(topics: [abi.topic0], data: data) }      // the string's length word is missing
        data[31] = 0xff
        #expect(throws: (any Error).self) { try abi.decode(topics: [abi.topic0], data: data) }      // an offset past the end
        #expect(throws: (any Error).self) { try abi.decode(topics: [abi.topic0], data: Array(data.prefix(40))) }
        #expect(EventABI.problem("E((uint256,bool) t)") != nil, "tuples are refused when the filter is made")
    }

    @Test func stateChangesByAddressFieldAndSlot() throws {
        let v1 = BlockContent.AccountValues(balance: U256(10), nonce: 1, codeHash: Hash32(unchecked: [UInt8](repeating: 1, count: 32)))
        var v2 = v1
        v2.balance = U256(25)
        v2.nonce = 2
        let s1 = Hash32(unchecked: [UInt8](repeating: 0x51, count: 32)), s2 = Hash32(unchecked: [UInt8](repeating: 0x52, count: 32))
        let c = Self.content(accounts: [.init(address: Self.a, before: v1, after: v2), .init(address: Self.b, before: v1, after: v1)],
                             storage: [.init(address: Self.a, slot: s1, before: nil, after: s2), .init(address: Self.a, slot: s2, before: s1, after: s1)])
        let all = try Self.matcher(.stateChange, #"{"addresses":["\#(Self.a.hex)","\#(Self.b.hex)"]}"#).events(in: c)
        #expect(all.count == 1, "b was written with what it had: no event")
        #expect(all[0]["balance"] == .object(["from": .string("0xa"), "to": .string("0x19")]) && all[0]["nonce"]?["to"] == .string("0x2"))
        #expect(all[0]["codeHash"] == nil, "an unchanged field is left out")
        #expect(all[0]["storage"] == .array([.object(["slot": .string(s1.hex), "from": .null, "to": .string(s2.hex)])]), "only slots that changed")
        let balanceOnly = try Self.matcher(.stateChange, #"{"addresses":["\#(Self.a.hex)"],"fields":["balance"]}"#).events(in: c)
        #expect(balanceOnly.count == 1 && balanceOnly[0]["nonce"] == nil && balanceOnly[0]["storage"] == nil)
        let otherSlot = try Self.matcher(.stateChange, #"{"addresses":["\#(Self.a.hex)"],"fields":["storage"],"slots":["\#(s2.hex)"]}"#).events(in: c)
        #expect(otherSlot.isEmpty, "a watched slot that did not change is no event")
    }
}
