import Upstream
import Chain
import ChainIndex

/// Turns geth's `prestateTracer` diff-mode answer (one `{txHash, result: {pre, post}}`
/// per transaction) into the block's state changes: the first `pre` seen for an account
/// or slot is its value before the block; the last `post` is its value after.
enum StateDiff {
    static func fromPrestateTrace(_ v: JSONValue) throws -> StateChanges {
        var pre = [Address: StateChanges.Account](), post = [Address: StateChanges.Account]()
        var preOrder = [Address](), postOrder = [Address]()
        func account(_ acct: JSONValue, _ addr: Address) throws -> StateChanges.Account {
            var a = StateChanges.Account(address: addr)
            guard let o = acct.objectValue else { return a }
            if let b = o["balance"]?.stringValue { a.balance = try U256(quantity: b) }
            if let n = o["nonce"] {
                if case .number(let t) = n, let x = UInt64(t) { a.nonce = x } else if let s = n.stringValue { a.nonce = try Hex.decodeQuantity(s) }
            }
            if let c = o["code"]?.stringValue { a.code = try Hex.decodeData(c) }
            for (slotText, valueText) in o["storage"]?.objectValue?.pairs ?? [] {
                a.storage.append((try Hash32(hex: slotText), try Hash32(hex: valueText.stringValue ?? "")))
            }
            return a
        }
        func addresses(_ side: JSONValue?, _ i: Int, _ name: String) throws -> [(Address, JSONValue)] {
            try (side?.objectValue?.pairs ?? []).map { text, acct in
                do { return (try Address(hex: text.lowercased()), acct) } catch { throw FieldError(field: "trace[\(i)].\(name)", problem: "bad address \(text)") }
            }
        }
        // Per transaction, in order: the first `pre` of an account or slot is its value before
        // the block; each `post` overwrites; and a slot in a transaction's `pre` but not in its
        // `post` was set to zero by it (geth's diff mode leaves zeroed slots out of `post`).
        for (i, item) in (v.arrayValue ?? []).enumerated() {
            let result = item["result"] ?? item
            let txPre = try addresses(result["pre"], i, "pre"), txPost = try addresses(result["post"], i, "post")
            for (addr, acct) in txPre {
                let a = try account(acct, addr)
                if var known = pre[addr] {
                    // Account fields come only from the first `pre`: a later one shows the state
                    // after earlier transactions of this block, not before it.
                    for s in a.storage where !known.storage.contains(where: { $0.slot == s.slot }) && !(post[addr]?.storage.contains(where: { $0.slot == s.slot }) ?? false) {
                        known.storage.append(s)
                    }
                    pre[addr] = known
                } else if post[addr] == nil {
                    // geth omits a zero nonce, a zero balance and empty code from `pre`.
                    var first = a
                    first.balance = a.balance ?? .zero
                    first.nonce = a.nonce ?? 0
                    first.code = a.code ?? []
                    pre[addr] = first
                    preOrder.append(addr)
                }
                // else: first modified earlier in this block without a `pre` (created there), so
                // it had no state before the block; this `pre` shows that transaction's result.
            }
            let postByAddress = Dictionary(txPost, uniquingKeysWith: { a, _ in a })
            for (addr, acct) in txPost {
                let a = try account(acct, addr)
                var merged = post[addr] ?? StateChanges.Account(address: addr)
                if post[addr] == nil { postOrder.append(addr) }
                if let b = a.balance { merged.balance = b }
                if let n = a.nonce { merged.nonce = n }
                if let c = a.code { merged.code = c }
                for s in a.storage { set(&merged, s.slot, s.value) }
                post[addr] = merged
            }
            for (addr, acct) in txPre {
                let written = Set(((try? account(postByAddress[addr] ?? .null, addr))?.storage ?? []).map(\.slot))
                for s in (try account(acct, addr)).storage where !written.contains(s.slot) {
                    var merged = post[addr] ?? StateChanges.Account(address: addr)
                    if post[addr] == nil { postOrder.append(addr) }
                    set(&merged, s.slot, .zero)
                    post[addr] = merged
                }
            }
        }
        return StateChanges(pre: preOrder.map { pre[$0]! }, post: postOrder.map { post[$0]! }, source: .prestateTracer)
    }

    private static func set(_ a: inout StateChanges.Account, _ slot: Hash32, _ value: Hash32) {
        if let j = a.storage.firstIndex(where: { $0.slot == slot }) { a.storage[j].value = value } else { a.storage.append((slot, value)) }
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
        guard !touched.isEmpty else { return StateChanges(source: .probe) }
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
        return StateChanges(pre: heights.count == 2 ? lists[0] : [], post: lists.last ?? [], source: .probe)
    }
}
