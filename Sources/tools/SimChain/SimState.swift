import Chain

/// One account of the simulated world state.
public struct SimAccount: Equatable, Sendable {
    public var balance: U256 = .zero
    public var nonce: UInt64 = 0
    public var code: [UInt8] = []
    public init(balance: U256 = .zero, nonce: UInt64 = 0, code: [UInt8] = []) {
        self.balance = balance; self.nonce = nonce; self.code = code
    }
}

struct SlotKey: Hashable, Sendable, Comparable {
    var address: Address
    var slot: Hash32
    static func < (a: SlotKey, b: SlotKey) -> Bool { a.address != b.address ? a.address < b.address : a.slot < b.slot }
}

/// The world state of the canonical chain as a history per key: every account and slot
/// keeps the list of (block, value) versions it went through. "State at block N" is the
/// last version at or below N (a binary search), and a reorg drops the versions above the
/// common ancestor. Memory grows with the number of changes, not blocks × accounts, which
/// a snapshot per block would cost.
struct SimLedger: Sendable {
    private struct Versions<V: Sendable>: Sendable {
        var blocks: [UInt64] = []
        var values: [V] = []
        /// The value in force at block `n`, or nil if the key had not been written by then.
        func at(_ n: UInt64) -> V? {
            var lo = 0, hi = blocks.count   // first index with blocks[i] > n
            while lo < hi { let mid = (lo + hi) / 2; if blocks[mid] <= n { lo = mid + 1 } else { hi = mid } }
            return lo == 0 ? nil : values[lo - 1]
        }
        mutating func set(_ n: UInt64, _ v: V) {
            if blocks.last == n { values[values.count - 1] = v } else { blocks.append(n); values.append(v) }
        }
        mutating func dropLast() { blocks.removeLast(); values.removeLast() }
    }

    private var accounts: [Address: Versions<SimAccount>] = [:]
    private var slots: [SlotKey: Versions<Hash32>] = [:]
    /// The keys written at each block (index = block number): the undo log for reorgs.
    private var written: [(accounts: [Address], slots: [SlotKey])] = []

    /// The highest block committed.
    var head: UInt64 { UInt64(written.count) - 1 }

    func account(_ a: Address, at n: UInt64) -> SimAccount { accounts[a]?.at(n) ?? SimAccount() }
    func slot(_ a: Address, _ s: Hash32, at n: UInt64) -> Hash32 { slots[SlotKey(address: a, slot: s)]?.at(n) ?? .zero }

    /// Records block `n`'s changes (n must be head + 1).
    mutating func commit(block n: UInt64, accounts changed: [Address: SimAccount], slots changedSlots: [SlotKey: Hash32]) {
        precondition(n == UInt64(written.count), "ledger commits are sequential")
        for (a, v) in changed { accounts[a, default: Versions()].set(n, v) }
        for (k, v) in changedSlots { slots[k, default: Versions()].set(n, v) }
        written.append((Array(changed.keys), Array(changedSlots.keys)))
    }

    /// Forgets every block above `n` (a reorg back to ancestor `n`).
    mutating func rollback(to n: UInt64) {
        while UInt64(written.count) > n + 1 {
            let w = written.removeLast()
            for a in w.accounts {
                accounts[a]!.dropLast()
                if accounts[a]!.blocks.isEmpty { accounts[a] = nil }
            }
            for k in w.slots {
                slots[k]!.dropLast()
                if slots[k]!.blocks.isEmpty { slots[k] = nil }
            }
        }
    }
}

/// The state a block is built on: the ledger at the parent plus this block's writes so far,
/// and, per transaction, the value each key had before the transaction first wrote it
/// (which is exactly what the prestate tracer's diff mode reports).
struct WorkingState {
    let ledger: SimLedger
    let parent: UInt64
    private(set) var accounts: [Address: SimAccount] = [:]
    private(set) var slots: [SlotKey: Hash32] = [:]
    private var txAccounts: [Address: SimAccount] = [:]
    private var txSlots: [SlotKey: Hash32] = [:]
    private var txCreated: Set<Address> = []

    init(ledger: SimLedger, parent: UInt64) { self.ledger = ledger; self.parent = parent }

    func account(_ a: Address) -> SimAccount { accounts[a] ?? ledger.account(a, at: parent) }
    func slot(_ a: Address, _ s: Hash32) -> Hash32 { slots[SlotKey(address: a, slot: s)] ?? ledger.slot(a, s, at: parent) }

    mutating func update(_ a: Address, _ change: (inout SimAccount) -> Void) {
        var v = account(a)
        if txAccounts[a] == nil { txAccounts[a] = v }
        change(&v)
        accounts[a] = v
    }
    mutating func setSlot(_ a: Address, _ s: Hash32, _ value: Hash32) {
        let k = SlotKey(address: a, slot: s)
        if txSlots[k] == nil { txSlots[k] = slot(a, s) }
        slots[k] = value
    }
    mutating func markCreated(_ a: Address) { txCreated.insert(a) }

    /// Ends a transaction and returns its diff in geth's prestateTracer diffMode shape:
    /// `pre` holds the modified accounts as they were (balance always, nonce if non-zero,
    /// code if any, storage: the changed slots that were non-zero), `post` only the fields
    /// that changed (a slot set to zero is left out of post). Accounts the transaction
    /// created are absent from `pre`. Keys are sorted, as Go's map encoding sorts them.
    mutating func finishTransaction() -> (pre: JSONObject, post: JSONObject) {
        var addresses = Set(txAccounts.keys)
        for k in txSlots.keys { addresses.insert(k.address) }
        var pre = JSONObject(), post = JSONObject()
        for a in addresses.sorted() {
            let before = txAccounts[a] ?? account(a), after = account(a)
            var preStorage = JSONObject(), postStorage = JSONObject()
            var modified = before != after
            for k in txSlots.keys.filter({ $0.address == a }).sorted() {
                let old = txSlots[k]!, new = slot(a, k.slot)
                guard old != new else { continue }
                modified = true
                if old != .zero { preStorage[k.slot.hex] = .string(old.hex) }
                if new != .zero { postStorage[k.slot.hex] = .string(new.hex) }
            }
            guard modified else { continue }
            let isNew = txCreated.contains(a) && before == SimAccount() && preStorage.count == 0
            if !isNew {
                var p = JSONObject()
                p["balance"] = .string(before.balance.quantity)
                if !before.code.isEmpty { p["code"] = .string(Hex.encode(before.code)) }
                if before.nonce != 0 { p["nonce"] = .number(String(before.nonce)) }
                if preStorage.count > 0 { p["storage"] = .object(preStorage) }
                pre[a.hex] = .object(p)
            }
            var q = JSONObject()
            if after.balance != before.balance { q["balance"] = .string(after.balance.quantity) }
            if after.code != before.code { q["code"] = .string(Hex.encode(after.code)) }
            if after.nonce != before.nonce { q["nonce"] = .number(String(after.nonce)) }
            if postStorage.count > 0 { q["storage"] = .object(postStorage) }
            post[a.hex] = .object(q)
        }
        txAccounts = [:]; txSlots = [:]; txCreated = []
        return (pre, post)
    }

    /// Credits outside any transaction (withdrawals): no diff is recorded, as tracers don't see them.
    mutating func credit(_ a: Address, _ wei: U256) {
        var v = account(a)
        v.balance += wei
        accounts[a] = v
    }
}
