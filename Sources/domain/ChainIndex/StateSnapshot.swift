import Chain
import Storage

/// One record of a chain's state at a block, as the index holds it.
public enum StateEntry: Equatable, Sendable {
    case account(address: Address, balance: U256, nonce: UInt64, codeHash: Hash32, code: [UInt8])
    case slot(address: Address, slot: Hash32, value: Hash32)
}

/// Where a walk of the state stopped: everything up to this position was answered. A
/// position without a slot is the account itself (its slots come next).
public struct StateCursor: Equatable, Sendable, CustomStringConvertible {
    public var address: Address
    public var slot: Hash32?

    public init(address: Address, slot: Hash32? = nil) { self.address = address; self.slot = slot }

    /// `0x<address>` or `0x<address>:0x<slot>`: what the export endpoint hands out.
    public var description: String { address.hex + (slot.map { ":" + $0.hex } ?? "") }

    public init?(parsing s: String) {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let a = try? Address(hex: String(parts[0])) else { return nil }
        address = a
        if parts.count == 2 {
            guard let h = try? Hash32(hex: String(parts[1])) else { return nil }
            slot = h
        }
    }
}

extension ChainView {
    /// The accounts and non-zero storage slots the index holds at block `n`, in (address,
    /// slot) order, from after `cursor`: each account is followed by its slots (which may come
    /// alone, when the index knows a slot at `n` but not yet the account). The index
    /// only knows accounts some indexed block touched (an account funded at genesis and idle
    /// since is not here), so this is the index's state, not the chain's whole state trie.
    /// A slot whose value at `n` is zero is left out: to the EVM it is not there.
    ///
    /// At most `limit` entries, and at most `scanLimit` stored keys visited, so a page never
    /// walks far past what it answers (versions newer than `n`, zeroed slots). The cursor is
    /// nil once the walk has reached the end of the chain's state.
    public func stateEntries(_ cid: UInt64, at n: UInt64, after cursor: StateCursor?, limit: Int, scanLimit: Int = 100_000) throws -> (entries: [StateEntry], next: StateCursor?) {
        precondition(limit > 0 && scanLimit > 0, "a page answers something")
        let tables = index.tables
        let chainPrefix = Key(cid).bytes
        var out = [StateEntry]()
        var scanned = 0
        return try txn.withCursor(tables.accounts) { accounts in
            try txn.withCursor(tables.storage) { storage in
                /// The newest version at or below `n` of the key family `prefix ‖ ^block`, from the cursor.
                func version(_ c: Cursor, _ prefix: [UInt8]) throws -> [UInt8]? {
                    guard try c.seek(atLeast: Key(prefix).appendingInverted(blockNumber: n)) else { return nil }
                    return c.withCurrent { key, value in key.count == prefix.count + 8 && key.starts(with: prefix) ? Array(value) : nil }
                }

                /// The slots of `a` after `afterSlot`; returns the cursor to stop at when the page is full.
                func slots(of a: Address, after afterSlot: Hash32?) throws -> StateCursor? {
                    let accountPrefix = chainPrefix + a.bytes
                    var from: [UInt8]
                    if let afterSlot {
                        guard let next = ChainIndex.increment(afterSlot.bytes) else { return nil }
                        from = next
                    } else {
                        from = []
                    }
                    while true {
                        guard try storage.seek(atLeast: accountPrefix + from) else { return nil }
                        let slotBytes: [UInt8]? = storage.withCurrent { key, _ in
                            key.count == accountPrefix.count + 40 && key.starts(with: accountPrefix) ? Array(key[accountPrefix.count..<(accountPrefix.count + 32)]) : nil
                        }
                        guard let slotBytes else { return nil }
                        let slot = Hash32(unchecked: slotBytes)
                        scanned += 1
                        if let v = try version(storage, accountPrefix + slotBytes) {
                            guard v.count == 32 else {
                                throw CorruptIndex(table: "chain_storage", key: "chain \(cid) \(a.hex) slot \(slot.hex) at or below \(n)", problem: "\(v.count) bytes, not 32")
                            }
                            if v.contains(where: { $0 != 0 }) { out.append(.slot(address: a, slot: slot, value: Hash32(unchecked: v))) }
                        }
                        if out.count >= limit || scanned >= scanLimit { return StateCursor(address: a, slot: slot) }
                        guard let next = ChainIndex.increment(slotBytes) else { return nil }
                        from = next
                    }
                }

                // The seek targets are prefixes: `increment` of ff-ending bytes is shorter, and still
                // the least string above every key that starts with them.
                var addressFrom = [UInt8]()
                if let cursor {
                    if let stop = try slots(of: cursor.address, after: cursor.slot) { return (out, stop) }
                    guard let next = ChainIndex.increment(cursor.address.bytes) else { return (out, nil) }
                    addressFrom = next
                }
                while true {
                    guard try accounts.seek(atLeast: chainPrefix + addressFrom) else { return (out, nil) }
                    let addressBytes: [UInt8]? = accounts.withCurrent { key, _ in
                        key.count == chainPrefix.count + 28 && key.starts(with: chainPrefix) ? Array(key[chainPrefix.count..<(chainPrefix.count + 20)]) : nil
                    }
                    guard let addressBytes else { return (out, nil) }
                    let a = Address(unchecked: addressBytes)
                    scanned += 1
                    if let v = try version(accounts, chainPrefix + addressBytes) {
                        guard let st = AccountState(decoding: v) else {
                            throw CorruptIndex(table: "chain_accounts", key: "chain \(cid) \(a.hex) at or below \(n)", problem: "\(v.count) bytes, not 72")
                        }
                        out.append(.account(address: a, balance: st.balance, nonce: st.nonce, codeHash: st.codeHash, code: try code(hash: st.codeHash)))
                    }
                    if out.count >= limit || scanned >= scanLimit { return (out, StateCursor(address: a)) }
                    // Slots too when the account itself has no version at n: a slot first read
                    // in a later block's pre-state is recorded from the start of indexing, the
                    // account only from the block that changed it.
                    if let stop = try slots(of: a, after: nil) { return (out, stop) }
                    guard let next = ChainIndex.increment(addressBytes) else { return (out, nil) }
                    addressFrom = next
                }
            }
        }
    }
}
