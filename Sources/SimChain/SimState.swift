import Chain

/// World state of the simulated chain: plain dictionaries, copied per block (copy on
/// write keeps that cheap) so any block's state can be answered and a reorg can restore
/// the state of the common ancestor.
struct SimState: Sendable {
    struct Account: Equatable, Sendable {
        var balance: U256 = .zero
        var nonce: UInt64 = 0
        var code: [UInt8] = []
    }
    var accounts: [Address: Account] = [:]
    var storage: [Address: [Hash32: Hash32]] = [:]

    func account(_ a: Address) -> Account { accounts[a] ?? Account() }
    func slot(_ a: Address, _ s: Hash32) -> Hash32 { storage[a]?[s] ?? .zero }

    /// A deterministic commitment to the state. Not Ethereum's state trie (documented in
    /// the README): the simulator has no EVM, and nothing downstream recomputes it.
    func commitment(after parent: Hash32, touched: [Address]) -> Hash32 {
        var h = Keccak256()
        h.update(parent.bytes)
        for a in touched.sorted() {
            let acct = account(a)
            h.update(a.bytes); h.update(acct.balance.bytes32)
            var w = ByteWriter(); w.u64(acct.nonce); h.update(w.bytes)
            h.update(keccak256(acct.code))
            for (k, v) in (storage[a] ?? [:]).sorted(by: { $0.key < $1.key }) { h.update(k.bytes); h.update(v.bytes) }
        }
        return Hash32(unchecked: h.finalize())
    }
}
