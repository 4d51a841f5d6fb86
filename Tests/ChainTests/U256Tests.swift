import TestSupport
import Testing
@testable import Chain

@Suite struct U256Tests {
    @Test func conversions() throws {
        let max = U256.max
        #expect(max.description == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        #expect(max.quantity == "0x" + String(repeating: "f", count: 64))
        #expect(try U256(decimal: max.description) == max)
        #expect(try U256(quantity: "0x0") == .zero)
        #expect(U256.zero.quantity == "0x0")
        #expect(U256(1_000_000).description == "1000000")
        #expect(throws: U256.ParseError.self) { try U256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936") }
        #expect(throws: U256.ParseError.self) { try U256(decimal: "12a") }
        #expect(throws: HexError.self) { try U256(quantity: "0x1" + String(repeating: "0", count: 64)) }
    }

    @Test func overflowIsReportedNotWrapped() {
        #expect(U256.max.addingReportingOverflow(.one).overflow)
        #expect(U256.max.addingReportingOverflow(.one).partialValue == .zero)
        #expect(U256.zero.subtractingReportingOverflow(.one).overflow)
        #expect((U256.one << 255).multipliedReportingOverflow(by: U256(2)).overflow)
        #expect(!(U256.one << 254).multipliedReportingOverflow(by: U256(2)).overflow)
        #expect(U256.max &+ .one == .zero)
    }

    @Test func shifts() {
        #expect((U256.one << 255) >> 255 == .one)
        #expect(U256.one << 256 == .zero)
        #expect((U256.max >> 192).uint64 == .max)
        #expect((U256(0xff) << 60).limbs.1 == 0xf)
    }

    /// Cross-checks against arbitrary-precision arithmetic done independently on 32-bit
    /// digits (schoolbook), so both sides share no code.
    @Test func randomArithmeticAgainstDigitModel() throws {
        let seed = SeededRandom.seed()
        var rng = SeededRandom(seed: seed)
        func random() -> U256 {
            let width = Int.random(in: 0...256, using: &rng)
            var v = U256(limbs: (rng.next(), rng.next(), rng.next(), rng.next()))
            v = width == 0 ? .zero : v >> (256 - width)
            return v
        }
        for _ in 0..<1500 {
            let a = random(), b = random()
            let A = BigModel(a), B = BigModel(b)
            let sum = a.addingReportingOverflow(b)
            #expect(BigModel(sum.partialValue) == (A + B).low256, "seed \(seed)")
            #expect(sum.overflow == (A + B).exceeds256, "seed \(seed)")
            let prod = a.multipliedReportingOverflow(by: b)
            #expect(BigModel(prod.partialValue) == (A * B).low256, "seed \(seed) a=\(a) b=\(b)")
            #expect(prod.overflow == (A * B).exceeds256, "seed \(seed)")
            if a >= b {
                #expect(BigModel((a - b)) + B == A, "seed \(seed)")
            }
            if !b.isZero {
                let (q, r) = a.quotientAndRemainder(dividingBy: b)
                #expect(r < b, "seed \(seed)")
                #expect(BigModel(q) * B + BigModel(r) == A, "seed \(seed) a=\(a) b=\(b)")
            }
            #expect(try U256(decimal: a.description) == a, "seed \(seed)")
            #expect(try U256(quantity: a.quantity) == a, "seed \(seed)")
            #expect((a < b) == (A.digits.count != B.digits.count ? A.digits.count < B.digits.count : A.digits.reversed().lexicographicallyPrecedes(B.digits.reversed())), "seed \(seed)")
        }
    }
}

/// Little-endian base-2^32 digits, unbounded; only what the cross-check needs.
struct BigModel: Equatable {
    var digits: [UInt32]
    init(_ v: U256) {
        digits = []
        for i in 0..<4 { digits.append(UInt32(truncatingIfNeeded: v[i])); digits.append(UInt32(truncatingIfNeeded: v[i] >> 32)) }
        normalize()
    }
    init(digits: [UInt32]) { self.digits = digits; normalize() }
    mutating func normalize() { while digits.last == 0 { digits.removeLast() } }
    static func + (a: BigModel, b: BigModel) -> BigModel {
        var out = [UInt32](); var carry: UInt64 = 0
        for i in 0..<max(a.digits.count, b.digits.count) {
            let s = UInt64(i < a.digits.count ? a.digits[i] : 0) + UInt64(i < b.digits.count ? b.digits[i] : 0) + carry
            out.append(UInt32(truncatingIfNeeded: s)); carry = s >> 32
        }
        if carry > 0 { out.append(UInt32(carry)) }
        return BigModel(digits: out)
    }
    static func * (a: BigModel, b: BigModel) -> BigModel {
        var out = [UInt64](repeating: 0, count: a.digits.count + b.digits.count + 1)
        for (i, x) in a.digits.enumerated() {
            var carry: UInt64 = 0
            for (j, y) in b.digits.enumerated() {
                let t = out[i + j] + UInt64(x) * UInt64(y) + carry
                out[i + j] = t & 0xffff_ffff; carry = t >> 32
            }
            var k = i + b.digits.count
            while carry > 0 { let t = out[k] + carry; out[k] = t & 0xffff_ffff; carry = t >> 32; k += 1 }
        }
        return BigModel(digits: out.map { UInt32($0) })
    }
    var exceeds256: Bool { digits.count > 8 }
    var low256: BigModel { BigModel(digits: Array(digits.prefix(8))) }
}
