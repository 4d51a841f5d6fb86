import Consensus

/// The replicated application: a rolling digest over applied entries. Two replicas with the
/// same digest at the same index applied the same entries in the same order.
struct SimStateMachine {
    private(set) var appliedIndex: UInt64 = 0
    private(set) var digest: UInt64 = 0

    /// Bytes of filler in each snapshot, so snapshots span several chunks.
    static let snapshotFiller = 200

    static func key(of entry: Entry) -> UInt64 {
        if entry.data.isEmpty { return 0 }
        var h: UInt64 = entry.kind == .confChange ? 0xC0F : 0x5EED
        for byte in entry.data { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }

    static func extend(_ digest: UInt64, key: UInt64, index: UInt64) -> UInt64 {
        var z = digest ^ (key &+ index &* 0x9E37_79B9_7F4A_7C15)
        z = (z ^ (z >> 31)) &* 0xBF58_476D_1CE4_E5B9
        return z ^ (z >> 29)
    }

    mutating func apply(_ entry: Entry) {
        precondition(entry.index == appliedIndex + 1, "applied \(entry.index) after \(appliedIndex)")
        appliedIndex = entry.index
        digest = Self.extend(digest, key: Self.key(of: entry), index: entry.index)
    }

    func snapshotData() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + Self.snapshotFiller)
        for value in [appliedIndex, digest] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        for k in 0..<Self.snapshotFiller { bytes.append(UInt8(truncatingIfNeeded: digest >> UInt64(k % 8 * 8))) }
        return bytes
    }

    /// Restore from snapshot bytes; nil if they are malformed (a corrupted transfer).
    static func restore(from data: [UInt8]) -> SimStateMachine? {
        if data.isEmpty { return SimStateMachine() }  // bootstrap snapshot at index 0
        guard data.count == 16 + snapshotFiller else { return nil }
        var values: [UInt64] = [0, 0]
        for v in 0..<2 {
            for i in 0..<8 { values[v] = values[v] << 8 | UInt64(data[v * 8 + i]) }
        }
        for k in 0..<snapshotFiller where data[16 + k] != UInt8(truncatingIfNeeded: values[1] >> UInt64(k % 8 * 8)) {
            return nil
        }
        var machine = SimStateMachine()
        machine.appliedIndex = values[0]
        machine.digest = values[1]
        return machine
    }
}
