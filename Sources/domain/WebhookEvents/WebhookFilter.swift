import ByteCodec
import Chain
import Webhooks

/// A webhook's filter, validated per event type and stored as canonical JSON:
///
///   new_block        no fields
///   new_tx           from?, to? (addresses), selector? (0x + 8 hex digits), minValue? (wei: decimal or 0x)
///   contract_event   addresses? (at most 100), topics? (as in eth_getLogs: up to 4 positions, each
///                    null, a topic, or up to 16 topics), abi? (the event's signature, e.g.
///                    "Transfer(address indexed from, address indexed to, uint256 value)")
///   state_change     addresses (1 to 100), fields? (balance, nonce, code, storage), slots? (up to 64)
public enum WebhookFilter {
    public struct Problem: Error, CustomStringConvertible { public let description: String }

    static let fields: [WebhookEvent: [String]] = [.newBlock: [], .newTx: ["from", "to", "selector", "minValue"],
                                                   .contractEvent: ["addresses", "topics", "abi"], .stateChange: ["addresses", "fields", "slots"]]

    /// The canonical bytes of a valid filter for `event` (nil: the event is not known yet, so
    /// only the shape is checked; the stored event decides later).
    public static func parse(_ v: JSONValue, event: WebhookEvent?) -> Result<[UInt8], Problem> {
        func fail(_ s: String) -> Result<[UInt8], Problem> { .failure(Problem(description: s)) }
        guard var o = v.objectValue else { return fail("must be a JSON object") }
        guard let event else { return .success(Array(JSON.serialize(v).utf8)) }
        let known = fields[event]!
        for k in o.keys where !known.contains(k) {
            return fail(known.isEmpty ? "\(event.name) takes no filter fields" : "unknown field \(boundedQuote(k)) for \(event.name) (known: \(known.joined(separator: ", ")))")
        }
        func address(_ x: JSONValue?, _ name: String) -> String?? {
            guard let x else { return .some(nil) }
            guard let s = x.stringValue, s.utf8.count == 42, s.hasPrefix("0x"), (try? Hex.decodeData(s)) != nil else { return nil }
            return .some(s.lowercased())
        }
        func hex32(_ x: JSONValue) -> String? {
            guard let s = x.stringValue, s.utf8.count == 66, s.hasPrefix("0x"), (try? Hex.decodeData(s)) != nil else { return nil }
            return s.lowercased()
        }
        switch event {
        case .newBlock: break
        case .newTx:
            for k in ["from", "to"] {
                guard let a = address(o[k], k) else { return fail("\(k) must be an address (0x and 40 hex digits)") }
                o[k] = a.map { .string($0) }
            }
            if let s = o["selector"] {
                guard let t = s.stringValue, t.utf8.count == 10, t.hasPrefix("0x"), (try? Hex.decodeData(t)) != nil else {
                    return fail("selector must be a method selector: 0x and 8 hex digits")
                }
                o["selector"] = .string(t.lowercased())
            }
            if let m = o["minValue"] {
                guard let t = m.stringValue ?? { if case .number(let n) = m { return n } else { return nil } }(),
                      let value = t.hasPrefix("0x") ? try? U256(quantity: t) : try? U256(decimal: t) else {
                    return fail("minValue must be an amount in wei: a decimal string or a 0x quantity")
                }
                o["minValue"] = .string(value.quantity)
            }
        case .contractEvent, .stateChange:
            if let a = o["addresses"] {
                guard let list = a.arrayValue, list.count <= 100 else { return fail("addresses must be a list of at most 100 addresses") }
                var out = [JSONValue]()
                for x in list {
                    guard let s = address(x, "addresses") ?? nil else { return fail("addresses: \(boundedQuote(JSON.serialize(x))) is not an address") }
                    out.append(.string(s))
                }
                o["addresses"] = .array(out)
            }
            if event == .stateChange {
                guard let list = o["addresses"]?.arrayValue, !list.isEmpty else { return fail("addresses is required for state_change: 1 to 100 addresses") }
                if let f = o["fields"] {
                    let allowed = ["balance", "nonce", "code", "storage"]
                    guard let list = f.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue.map(allowed.contains) == true }) else {
                        return fail("fields must be a list of \(allowed.joined(separator: ", "))")
                    }
                }
                if let s = o["slots"] {
                    guard let list = s.arrayValue, list.count <= 64 else { return fail("slots must be a list of at most 64 storage slots") }
                    var out = [JSONValue]()
                    for x in list {
                        guard let h = hex32(x) else { return fail("slots: \(boundedQuote(JSON.serialize(x))) is not a 32-byte slot (0x and 64 hex digits)") }
                        out.append(.string(h))
                    }
                    o["slots"] = .array(out)
                }
            } else {
                if let t = o["topics"] {
                    guard let positions = t.arrayValue, positions.count <= 4 else { return fail("topics must be a list of at most 4 positions") }
                    var out = [JSONValue]()
                    for p in positions {
                        if case .null = p { out.append(.null); continue }
                        if let h = hex32(p) { out.append(.string(h)); continue }
                        guard let alts = p.arrayValue, (1...16).contains(alts.count) else {
                            return fail("topics: each position is null, a topic (0x and 64 hex digits) or a list of up to 16 topics")
                        }
                        var hs = [JSONValue]()
                        for a in alts {
                            guard let h = hex32(a) else { return fail("topics: \(boundedQuote(JSON.serialize(a))) is not a topic") }
                            hs.append(.string(h))
                        }
                        out.append(.array(hs))
                    }
                    o["topics"] = .array(out)
                }
                if let a = o["abi"] {
                    guard let sig = a.stringValue else { return fail("abi must be a string: the event's signature") }
                    if let why = EventABI.problem(sig) { return fail("abi: \(why)") }
                }
            }
        }
        return .success(Array(JSON.serialize(.object(o)).utf8))
    }
}
