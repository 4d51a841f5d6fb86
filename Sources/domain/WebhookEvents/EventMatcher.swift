import ByteCodec
import Chain
import ChainIndex
import Webhooks

/// A webhook's stored filter, compiled: which of a block's contents are its events, in chain
/// order, and each one's `data` as delivered. The data is the chain's own JSON where there is
/// one (the block object, the transaction and its receipt, the log), so a receiver sees what
/// `eth_getBlockByNumber`, `eth_getTransactionReceipt` or `eth_getLogs` answer.
///
///   new_block       the block object (transactions as hashes)
///   new_tx          {transaction, receipt}
///   contract_event  the log, plus `decoded` {event, signature, args} when an ABI is given
///   state_change    {address, balance?, nonce?, codeHash?, storage?}, each {from, to}
public struct EventMatcher: Sendable {
    public let event: WebhookEvent
    let from: String?, to: String?, selector: String?, minValue: U256?
    let addresses: Set<String>
    let topics: [Set<String>?]
    let abi: EventABI?
    let fields: Set<String>
    let slots: Set<Hash32>?

    /// Compiles a filter as `WebhookFilter.parse` stores it (lower-case hex, canonical
    /// quantities); throws for anything else, which means the stored record is damaged.
    public init(event: WebhookEvent, filter: [UInt8]) throws {
        self.event = event
        guard let o = try JSON.parse(filter).objectValue else { throw WebhookFilter.Problem(description: "a stored filter is not an object") }
        from = o["from"]?.stringValue
        to = o["to"]?.stringValue
        selector = o["selector"]?.stringValue
        minValue = try o["minValue"]?.stringValue.map { try U256(quantity: $0) }
        addresses = Set((o["addresses"]?.arrayValue ?? []).compactMap(\.stringValue))
        topics = (o["topics"]?.arrayValue ?? []).map { p in
            if case .null = p { return nil }
            if let s = p.stringValue { return [s] }
            return Set((p.arrayValue ?? []).compactMap(\.stringValue))
        }
        if let sig = o["abi"]?.stringValue {
            switch EventABI.parse(sig) {
            case .success(let a): abi = a
            case .failure(let why): throw why
            }
        } else {
            abi = nil
        }
        fields = Set((o["fields"]?.arrayValue ?? [.string("balance"), .string("nonce"), .string("code"), .string("storage")]).compactMap(\.stringValue))
        slots = try o["slots"]?.arrayValue.map { list in Set(try list.map { try Hash32(hex: $0.stringValue ?? "") }) }
    }

    /// What of a block the events are made from (the header always).
    public var parts: BlockContent.Parts {
        switch event {
        case .newBlock: []
        case .newTx: [.transactions, .receipts]
        case .contractEvent: [.logs]
        case .stateChange: [.state]
        }
    }

    /// The block's events for this filter, in order. Stored JSON that does not parse is
    /// damage of the index and thrown.
    public func events(in c: BlockContent) throws -> [JSONValue] {
        switch event {
        case .newBlock:
            return [try JSON.parse(c.header)]
        case .newTx:
            var out = [JSONValue]()
            for (i, raw) in c.transactions.enumerated() {
                guard let tx = try JSON.parse(raw).objectValue else { continue }
                if let from, tx["from"]?.stringValue?.lowercased() != from { continue }
                if let to, tx["to"]?.stringValue?.lowercased() != to { continue }
                if let selector {
                    let input = (tx["input"] ?? tx["data"])?.stringValue?.lowercased() ?? ""
                    guard input.hasPrefix(selector) else { continue }
                }
                if let minValue {
                    guard let v = tx["value"]?.stringValue.flatMap({ try? U256(quantity: $0) }), v >= minValue else { continue }
                }
                let receipt = i < c.receipts.count ? try JSON.parse(c.receipts[i]) : .null
                out.append(.object(["transaction": .object(tx), "receipt": receipt]))
            }
            return out
        case .contractEvent:
            var out = [JSONValue]()
            for raw in c.logs {
                guard var log = try JSON.parse(raw).objectValue else { continue }
                if !addresses.isEmpty, !addresses.contains(log["address"]?.stringValue?.lowercased() ?? "") { continue }
                let ts = (log["topics"]?.arrayValue ?? []).map { $0.stringValue?.lowercased() ?? "" }
                var matches = true
                for (pos, wanted) in topics.enumerated() {
                    guard let wanted else { continue }
                    if pos >= ts.count || !wanted.contains(ts[pos]) { matches = false; break }
                }
                guard matches else { continue }
                if let abi {
                    guard ts.first == abi.topic0.hex else { continue }
                    var decoded: JSONObject = ["event": .string(abi.name), "signature": .string(abi.canonical)]
                    do {
                        let data = try Hex.decodeData(log["data"]?.stringValue ?? "0x")
                        let args = try abi.decode(topics: ts.map { (try? Hash32(hex: $0)) ?? Hash32(unchecked: [UInt8](repeating: 0, count: 32)) }, data: data)
                        decoded["args"] = args.map { .object($0) } ?? .null
                    } catch {
                        decoded["args"] = .null
                        decoded["error"] = .string("\(error)")
                    }
                    log["decoded"] = .object(decoded)
                }
                out.append(.object(log))
            }
            return out
        case .stateChange:
            var byAddress = [Address: JSONObject]()
            var order = [Address]()
            func entry(_ a: Address) -> JSONObject {
                if byAddress[a] == nil { order.append(a); byAddress[a] = ["address": .string(a.hex)] }
                return byAddress[a]!
            }
            func change(_ from: String?, _ to: String) -> JSONValue { .object(["from": from.map { .string($0) } ?? .null, "to": .string(to)]) }
            for a in c.accounts where addresses.contains(a.address.hex) {
                var o = entry(a.address)
                let b = a.before
                if fields.contains("balance"), b?.balance != a.after.balance { o["balance"] = change(b?.balance.quantity, a.after.balance.quantity) }
                if fields.contains("nonce"), b?.nonce != a.after.nonce { o["nonce"] = change(b.map { Hex.encodeQuantity($0.nonce) }, Hex.encodeQuantity(a.after.nonce)) }
                if fields.contains("code"), b?.codeHash != a.after.codeHash { o["codeHash"] = change(b?.codeHash.hex, a.after.codeHash.hex) }
                byAddress[a.address] = o
            }
            if fields.contains("storage") {
                for s in c.storage where addresses.contains(s.address.hex) && (slots?.contains(s.slot) ?? true) && s.before != s.after {
                    var o = entry(s.address)
                    var list = o["storage"]?.arrayValue ?? []
                    list.append(.object(["slot": .string(s.slot.hex), "from": s.before.map { .string($0.hex) } ?? .null, "to": .string(s.after.hex)]))
                    o["storage"] = .array(list)
                    byAddress[s.address] = o
                }
            }
            // An account written with the values it had (a touched but unchanged balance) is no event.
            return order.compactMap { a in byAddress[a]!.count > 1 ? .object(byAddress[a]!) : nil }
        }
    }
}
