/// A label declared with its family, with the values it may take, so the number of series
/// a family can grow to is known when it is registered. A value outside the bound is
/// counted under `MetricLabel.overflow` instead of opening a series: a client inventing
/// method names, or a bug passing an address or request id, costs one series, not memory
/// without limit. Never use keys, addresses, hashes or request ids as label values.
public struct MetricLabel: Sendable, Equatable {
    public enum Values: Sendable, Equatable {
        /// Exactly these values (outcomes, states, kinds).
        case allowed([String])
        /// Whatever arrives first, up to this many distinct values (method names, peer ids).
        case firstSeen(max: Int)
    }

    /// Where values past a bound are counted (the name RPC stats have always used for it).
    public static let overflow = "(other)"
    /// Longer values count as overflow, so one value cannot hold megabytes either.
    public static let maxValueBytes = 128

    public let name: String
    public let values: Values

    public init(_ name: String, _ values: Values) {
        precondition(Self.isValidName(name), "label name \(name) must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __")
        if case .firstSeen(let max) = values { precondition(max > 0, "label \(name) must allow at least one value") }
        self.name = name
        self.values = values
    }

    public static func allowed(_ name: String, _ values: [String]) -> MetricLabel { MetricLabel(name, .allowed(values)) }

    /// The raw values of a string enum, so the label and the type cannot drift apart.
    public static func allowed<E: CaseIterable & RawRepresentable>(_ name: String, _: E.Type) -> MetricLabel where E.RawValue == String {
        MetricLabel(name, .allowed(E.allCases.map(\.rawValue)))
    }

    public static func firstSeen(_ name: String, max: Int) -> MetricLabel { MetricLabel(name, .firstSeen(max: max)) }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.utf8.first, !s.hasPrefix("__") else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 }
        return letter(first) && s.utf8.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

/// The values each label of one family has admitted so far; lives under the family's lock.
struct LabelAdmission {
    let labels: [MetricLabel]
    private var seen: [Set<String>]

    init(_ labels: [MetricLabel]) {
        self.labels = labels
        seen = labels.map { _ in [] }
    }

    /// `values` with every value past its label's bound replaced by the overflow value, and
    /// whether any was.
    mutating func admit(_ values: [String]) -> (values: [String], clipped: Bool) {
        precondition(values.count == labels.count, "\(values.count) label values for labels \(labels.map(\.name))")
        var out = values
        var clipped = false
        for i in labels.indices where !admitOne(i, values[i]) {
            out[i] = MetricLabel.overflow
            clipped = true
        }
        return (out, clipped)
    }

    private mutating func admitOne(_ i: Int, _ v: String) -> Bool {
        guard v.utf8.count <= MetricLabel.maxValueBytes else { return false }
        switch labels[i].values {
        case .allowed(let list): return list.contains(v)
        case .firstSeen(let max):
            if seen[i].contains(v) { return true }
            guard seen[i].count < max else { return false }
            seen[i].insert(v)
            return true
        }
    }
}
