/// History tables key each version as `prefix ‖ ^blockNumber` (see `Key.appendInverted`),
/// so the newest version at or below a block is the first key `>= prefix ‖ ^block`.
extension ReadTransaction {
    /// The newest version stored under `prefix` whose block number is `<= block`, or nil.
    /// Keys under `prefix` must be exactly `prefix ‖ ^blockNumber` (8 bytes appended).
    public func latestVersion(in table: Table, prefix: some ByteView, atOrBelow block: UInt64) throws -> (block: UInt64, value: [UInt8])? {
        let prefixBytes = prefix.byteArray
        let probe = Key(prefixBytes).appendingInverted(blockNumber: block)
        return try withCursor(table) { cursor in
            guard try cursor.seek(atLeast: probe) else { return nil }
            return cursor.withCurrent { key, value -> (block: UInt64, value: [UInt8])? in
                // Past the last version of this prefix the seek lands on another prefix (or a longer key).
                guard key.count == prefixBytes.count + 8, key.starts(with: prefixBytes) else { return nil }
                var reader = KeyReader(UnsafeRawBufferPointer(rebasing: key[prefixBytes.count...]))
                guard let found = reader.readInvertedBlockNumber() else { return nil }
                assert(found <= block, "inverted-number seek returned a newer version than requested")
                return (found, Array(value))
            }
        }
    }
}
