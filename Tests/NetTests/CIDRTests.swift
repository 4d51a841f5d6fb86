import Testing
@testable import Net

/// CIDR matching against a plain bit-by-bit reference over random networks and addresses.
@Suite struct CIDRTests {
    static func bits(_ a: [UInt8]) -> [Bool] { a.flatMap { b in (0..<8).map { b & (0x80 >> $0) != 0 } } }

    @Test func matchesTheBitReference() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let v6 = Bool.random(using: &g)
            let n = v6 ? 16 : 4
            let net = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            let prefix = Int.random(in: 0...(n * 8), using: &g)
            var addr = net
            if Bool.random(using: &g) { let i = Int.random(in: 0..<n, using: &g); addr[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &g)) }
            let cidr = CIDR("\(CIDR.format(net))/\(prefix)")!
            let want = Array(Self.bits(addr).prefix(prefix)) == Array(Self.bits(net).prefix(prefix))
            #expect(cidr.contains(CIDR.format(addr)) == want, "\(cidr) contains \(CIDR.format(addr))?")
        }
    }

    @Test func refusesWhatIsNotACIDR() {
        for s in ["10.0.0.0", "10.0.0.0/33", "::/129", "10.0.0/8", "x/8", "10.0.0.0/-1", "10.0.0.0/8/8", ""] { #expect(CIDR(s) == nil, "\(s)") }
        #expect(CIDR("0.0.0.0/0")?.contains("255.255.255.255") == true)
        #expect(CIDR("10.0.0.0/8")?.contains("not an address") == false)
        #expect(CIDR("10.0.0.0/8")?.contains("2001:db8::1") == false, "families do not mix")
    }
}
