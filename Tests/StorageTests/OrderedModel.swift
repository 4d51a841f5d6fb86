@testable import Storage

/// The reference the LMDB layer is checked against: a sorted map kept with plain Swift
/// array operations, deliberately sharing no code with the storage layer.
struct OrderedModel: Equatable {
    private(set) var keys: [[UInt8]] = []
    private(set) var values: [[UInt8]: [UInt8]] = [:]

    static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

    /// Index of the first key `>= key`.
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if Self.precedes(keys[mid], key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    mutating func put(_ key: [UInt8], _ value: [UInt8]) {
        if values.updateValue(value, forKey: key) == nil { keys.insert(key, at: lowerBound(key)) }
    }

    mutating func delete(_ key: [UInt8]) -> Bool {
        guard values.removeValue(forKey: key) != nil else { return false }
        keys.remove(at: lowerBound(key))
        return true
    }

    func get(_ key: [UInt8]) -> [UInt8]? { values[key] }

    func seek(atLeast key: [UInt8]) -> [UInt8]? {
        let index = lowerBound(key)
        return index < keys.count ? keys[index] : nil
    }

    func seek(atMost key: [UInt8]) -> [UInt8]? {
        if values[key] != nil { return key }
        let index = lowerBound(key)
        return index > 0 ? keys[index - 1] : nil
    }

    func entries(from lower: [UInt8]?, upTo upper: [UInt8]?, reverse: Bool) -> [Entry] {
        let selected = keys.filter { key in
            (lower.map { !Self.precedes(key, $0) } ?? true) && (upper.map { Self.precedes(key, $0) } ?? true)
        }
        let ordered = reverse ? selected.reversed() : selected
        return ordered.map { Entry(key: $0, value: values[$0]!) }
    }

    func entries(prefix: [UInt8], reverse: Bool) -> [Entry] {
        let selected = keys.filter { $0.starts(with: prefix) }
        let ordered = reverse ? selected.reversed() : selected
        return ordered.map { Entry(key: $0, value: values[$0]!) }
    }

    var allEntries: [Entry] { entries(from: nil, upTo: nil, reverse: false) }
}
