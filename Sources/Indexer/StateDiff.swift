import Chain
import Index

/// Turns geth's `prestateTracer` diff-mode answer (one `{txHash, result: {pre, post}}`
/// per transaction) into the block's state changes: the first `pre` seen for an account
/// or slot is its value before the block; the last `post` is its value after.
enum StateDiff {
    static func fromPrestateTrace(_ v: JSONValue) throws -> StateChanges {
        var pre = [Address: StateChanges.Account](), post = [Address: StateChanges.Account]()
        var preOrder = [Address](), postOrder = [Address]()
        for (i, item) in (v.arrayValue ?? []).enumerated() {
            let result = item["result"] ?? item
            for (side, isPre) in [("pre", true), ("post", false)] {
                for (addrText, acct) in result[side]?.objectValue?.pairs ?? [] {
                    let addr: Address
                    do { addr = try Address(hex: addrText.lowercased()) } catch { throw FieldError(field: "trace[\(i)].\(side)", problem: "bad address \(addrText)") }
                    guard let o = acct.objectValue else { continue }
                    var a = (isPre ? pre[addr] : post[addr]) ?? StateChanges.Account(address: addr)
                    let isNew = (isPre ? pre[addr] : post[addr]) == nil
                    if let b = o["balance"]?.stringValue {
                        let value = try U256(quantity: b)
                        if !isPre || a.balance == nil { a.balance = value }
                    }
                    if let n = o["nonce"] {
                        let value: UInt64
                        if case .number(let t) = n, let x = UInt64(t) { value = x } else if let s = n.stringValue { value = try Hex.decodeQuantity(s) } else { value = 0 }
                        if !isPre || a.nonce == nil { a.nonce = value }
                    }
                    if let c = o["code"]?.stringValue {
                        let code = try Hex.decodeData(c)
                        if !isPre || a.code == nil { a.code = code }
                    }
                    for (slotText, valueText) in o["storage"]?.objectValue?.pairs ?? [] {
                        let slot = try Hash32(hex: slotText), value = try Hash32(hex: valueText.stringValue ?? "")
                        if let j = a.storage.firstIndex(where: { $0.slot == slot }) {
                            if !isPre { a.storage[j].value = value }
                        } else {
                            a.storage.append((slot, value))
                        }
                    }
                    if isPre { pre[addr] = a; if isNew { preOrder.append(addr) } } else { post[addr] = a; if isNew { postOrder.append(addr) } }
                }
            }
        }
        return StateChanges(pre: preOrder.map { pre[$0]! }, post: postOrder.map { post[$0]! }, source: "prestateTracer")
    }
}

/// The fallback when the upstream has no tracer: probe the accounts a block visibly
/// touched — senders, recipients, created contracts, log emitters and the fee recipient —
/// with eth_getBalance / eth_getTransactionCount / eth_getCode at the block and the one
/// before. What it cannot see: accounts changed only by internal calls (value sent by a
/// contract to an untouched address) and every storage slot. Those answers come back as
/// "never seen" (zero) until the account is touched visibly.
enum StateProbe {
    static func probe(block: JSONObject, receipts: [JSONValue], number: UInt64, upstream: UpstreamClient) throws -> StateChanges {
        var touched = [Address]()
        func add(_ a: Address?) { if let a, !touched.contains(a) { touched.append(a) } }
        add(try? block.address("miner"))
        for tv in (try? block.array("transactions")) ?? [] {
            guard let t = tv.objectValue else { continue }
            add(try? t.address("from"))
            add(try? t.optionalAddress("to"))
        }
        for rv in receipts {
            guard let r = rv.objectValue else { continue }
            add(try? r.optionalAddress("contractAddress"))
            for l in r["logs"]?.arrayValue ?? [] { add(l.objectValue.flatMap { try? $0.address("address") }) }
        }
        guard !touched.isEmpty else { return StateChanges(source: "probe") }
        var calls = [(String, [JSONValue])]()
        let heights = number > 0 ? [number - 1, number] : [number]
        for h in heights {
            for a in touched {
                let at = JSONValue.string(Hex.encodeQuantity(h))
                calls.append(("eth_getBalance", [.string(a.hex), at]))
                calls.append(("eth_getTransactionCount", [.string(a.hex), at]))
                calls.append(("eth_getCode", [.string(a.hex), at]))
            }
        }
        let results = try upstream.batch(calls)
        var lists = [[StateChanges.Account]]()
        for (hi, _) in heights.enumerated() {
            var list = [StateChanges.Account]()
            for (ai, a) in touched.enumerated() {
                let base = (hi * touched.count + ai) * 3
                func value(_ k: Int) throws -> String {
                    switch results[base + k] { case .success(let v): return v.stringValue ?? ""; case .failure(let e): throw e }
                }
                list.append(StateChanges.Account(address: a, balance: try U256(quantity: try value(0)),
                                                 nonce: try Hex.decodeQuantity(try value(1)), code: try Hex.decodeData(try value(2))))
            }
            lists.append(list)
        }
        return StateChanges(pre: heights.count == 2 ? lists[0] : [], post: lists.last ?? [], source: "probe")
    }
}
