/// Unsigned 256-bit integer, the EVM word.
///
/// Arithmetic operators trap on overflow and division by zero, exactly like Swift's
/// fixed-width integers; the `…ReportingOverflow` methods report overflow and the
/// `&+` family wraps only where a caller asks for it by name.
public struct U256: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Little-endian 64-bit limbs: `limbs.0` is least significant.
    public var limbs: (UInt64, UInt64, UInt64, UInt64)

    public static let zero = U256(limbs: (0, 0, 0, 0))
    public static let one = U256(limbs: (1, 0, 0, 0))
    public static let max = U256(limbs: (.max, .max, .max, .max))

    public init(limbs: (UInt64, UInt64, UInt64, UInt64)) { self.limbs = limbs }
    public init(_ v: UInt64) { limbs = (v, 0, 0, 0) }
    public init(_ v: Int) {
        precondition(v >= 0, "U256 cannot hold negative value \(v)")
        limbs = (UInt64(v), 0, 0, 0)
    }

    @inline(__always) subscript(i: Int) -> UInt64 {
        get {
            switch i { case 0: limbs.0; case 1: limbs.1; case 2: limbs.2; default: limbs.3 }
        }
        set {
            switch i { case 0: limbs.0 = newValue; case 1: limbs.1 = newValue; case 2: limbs.2 = newValue; default: limbs.3 = newValue }
        }
    }

    public static func == (a: U256, b: U256) -> Bool {
        a.limbs.0 == b.limbs.0 && a.limbs.1 == b.limbs.1 && a.limbs.2 == b.limbs.2 && a.limbs.3 == b.limbs.3
    }
    public func hash(into h: inout Hasher) { h.combine(limbs.0); h.combine(limbs.1); h.combine(limbs.2); h.combine(limbs.3) }

    public static func < (a: U256, b: U256) -> Bool {
        if a.limbs.3 != b.limbs.3 { return a.limbs.3 < b.limbs.3 }
        if a.limbs.2 != b.limbs.2 { return a.limbs.2 < b.limbs.2 }
        if a.limbs.1 != b.limbs.1 { return a.limbs.1 < b.limbs.1 }
        return a.limbs.0 < b.limbs.0
    }

    public var isZero: Bool { self == .zero }

    /// Number of significant bits (0 for zero).
    public var bitWidth: Int {
        for i in stride(from: 3, through: 0, by: -1) where self[i] != 0 {
            return i * 64 + (64 - self[i].leadingZeroBitCount)
        }
        return 0
    }

    /// The value as UInt64 when it fits.
    public var uint64: UInt64? { (limbs.1 | limbs.2 | limbs.3) == 0 ? limbs.0 : nil }

    // MARK: arithmetic

    public func addingReportingOverflow(_ b: U256) -> (partialValue: U256, overflow: Bool) {
        var r = U256.zero
        var carry: UInt64 = 0
        for i in 0..<4 {
            let (s1, o1) = self[i].addingReportingOverflow(b[i])
            let (s2, o2) = s1.addingReportingOverflow(carry)
            r[i] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return (r, carry != 0)
    }

    public func subtractingReportingOverflow(_ b: U256) -> (partialValue: U256, overflow: Bool) {
        var r = U256.zero
        var borrow: UInt64 = 0
        for i in 0..<4 {
            let (d1, o1) = self[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            r[i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return (r, borrow != 0)
    }

    public func multipliedReportingOverflow(by b: U256) -> (partialValue: U256, overflow: Bool) {
        var r = [UInt64](repeating: 0, count: 8)
        for i in 0..<4 {
            var carry: UInt64 = 0
            let ai = self[i]
            if ai == 0 { continue }
            for j in 0..<4 {
                let (hi, lo) = ai.multipliedFullWidth(by: b[j])
                let (s1, o1) = r[i + j].addingReportingOverflow(lo)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                r[i + j] = s2
                carry = hi &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            r[i + 4] = carry
        }
        let overflow = r[4] | r[5] | r[6] | r[7] != 0
        return (U256(limbs: (r[0], r[1], r[2], r[3])), overflow)
    }

    /// Quotient and remainder; traps on division by zero like Swift integers.
    public func quotientAndRemainder(dividingBy d: U256) -> (quotient: U256, remainder: U256) {
        precondition(!d.isZero, "U256 division by zero")
        if self < d { return (.zero, self) }
        if let a = uint64, let b = d.uint64 { return (U256(a / b), U256(a % b)) }
        // Shift-subtract long division; 256 iterations at most, enough for RPC-side arithmetic.
        var q = U256.zero, r = U256.zero
        for bit in stride(from: bitWidth - 1, through: 0, by: -1) {
            r = r << 1
            if self.bit(bit) { r[0] |= 1 }
            if r >= d {
                r = r.subtractingReportingOverflow(d).partialValue
                q[bit / 64] |= 1 << UInt64(bit % 64)
            }
        }
        return (q, r)
    }

    public func bit(_ i: Int) -> Bool { (self[i / 64] >> UInt64(i % 64)) & 1 == 1 }

    public static func + (a: U256, b: U256) -> U256 {
        let (r, o) = a.addingReportingOverflow(b); precondition(!o, "U256 addition overflow"); return r
    }
    public static func - (a: U256, b: U256) -> U256 {
        let (r, o) = a.subtractingReportingOverflow(b); precondition(!o, "U256 subtraction underflow"); return r
    }
    public static func * (a: U256, b: U256) -> U256 {
        let (r, o) = a.multipliedReportingOverflow(by: b); precondition(!o, "U256 multiplication overflow"); return r
    }
    public static func / (a: U256, b: U256) -> U256 { a.quotientAndRemainder(dividingBy: b).quotient }
    public static func % (a: U256, b: U256) -> U256 { a.quotientAndRemainder(dividingBy: b).remainder }
    public static func &+ (a: U256, b: U256) -> U256 { a.addingReportingOverflow(b).partialValue }
    public static func &- (a: U256, b: U256) -> U256 { a.subtractingReportingOverflow(b).partialValue }
    public static func &* (a: U256, b: U256) -> U256 { a.multipliedReportingOverflow(by: b).partialValue }
    public static func += (a: inout U256, b: U256) { a = a + b }
    public static func -= (a: inout U256, b: U256) { a = a - b }

    public static func << (a: U256, n: Int) -> U256 {
        precondition(n >= 0, "negative shift")
        if n >= 256 { return .zero }
        var r = U256.zero
        let limbShift = n / 64, bitShift = UInt64(n % 64)
        for i in stride(from: 3, through: limbShift, by: -1) {
            var v = a[i - limbShift] << bitShift
            if bitShift > 0 && i - limbShift - 1 >= 0 { v |= a[i - limbShift - 1] >> (64 - bitShift) }
            r[i] = v
        }
        return r
    }

    public static func >> (a: U256, n: Int) -> U256 {
        precondition(n >= 0, "negative shift")
        if n >= 256 { return .zero }
        var r = U256.zero
        let limbShift = n / 64, bitShift = UInt64(n % 64)
        for i in 0..<(4 - limbShift) {
            var v = a[i + limbShift] >> bitShift
            if bitShift > 0 && i + limbShift + 1 < 4 { v |= a[i + limbShift + 1] << (64 - bitShift) }
            r[i] = v
        }
        return r
    }

    // MARK: conversions

    /// 32 big-endian bytes.
    public var bytes32: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<4 {
            let limb = self[3 - i]
            for j in 0..<8 { out[i * 8 + j] = UInt8(truncatingIfNeeded: limb >> UInt64(56 - 8 * j)) }
        }
        return out
    }

    /// Minimal big-endian bytes (empty for zero), as RLP encodes integers.
    public var minimalBytes: [UInt8] { Array(bytes32.drop { $0 == 0 }) }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case tooLong(Int), empty, invalidDigit(String), overflow(String)
        public var description: String {
            switch self {
            case .tooLong(let n): return "big-endian value of \(n) bytes does not fit in 256 bits"
            case .empty: return "empty number"
            case .invalidDigit(let s): return "number \(Hex.clip(s)) has an invalid digit"
            case .overflow(let s): return "number \(Hex.clip(s)) does not fit in 256 bits"
            }
        }
    }

    /// From big-endian bytes of at most 32 bytes (leading zeros allowed).
    public init<C: Collection>(bigEndian bytes: C) throws(ParseError) where C.Element == UInt8 {
        let trimmed = bytes.drop { $0 == 0 }
        guard trimmed.count <= 32 else { throw .tooLong(bytes.count) }
        var v = U256.zero
        var shift = 0
        for b in trimmed.reversed() {
            v[shift / 64] |= UInt64(b) << UInt64(shift % 64)
            shift += 8
        }
        self = v
    }

    /// Strict JSON-RPC QUANTITY.
    public init(quantity s: String) throws(HexError) {
        let b = try Hex.decodeQuantityBytes(s, maxBytes: 32)
        self = try! U256(bigEndian: b)
    }

    /// Decimal digits only.
    public init(decimal s: String) throws(ParseError) {
        guard !s.isEmpty else { throw .empty }
        var v = U256.zero
        let ten = U256(10)
        for c in s.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { throw .invalidDigit(s) }
            let (m, o1) = v.multipliedReportingOverflow(by: ten)
            let (a, o2) = m.addingReportingOverflow(U256(UInt64(c - UInt8(ascii: "0"))))
            if o1 || o2 { throw .overflow(s) }
            v = a
        }
        self = v
    }

    /// JSON-RPC QUANTITY text.
    public var quantity: String { Hex.encodeQuantity(bytes: bytes32) }

    /// Decimal text.
    public var description: String {
        if let small = uint64 { return String(small) }
        var digits: [UInt8] = []
        var v = self
        let chunk = U256(10_000_000_000_000_000_000 as UInt64)
        while !v.isZero {
            let (q, r) = v.quotientAndRemainder(dividingBy: chunk)
            var part = String(r.limbs.0)
            if !q.isZero { part = String(repeating: "0", count: 19 - part.count) + part }
            digits.insert(contentsOf: Array(part.utf8), at: 0)
            v = q
        }
        return String(decoding: digits, as: UTF8.self)
    }
}
