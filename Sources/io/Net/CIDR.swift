#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), matched against
/// textual addresses. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) matches IPv4 networks.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    public let network: [UInt8]
    public let prefixBits: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), let address = Self.parse(String(parts[0])) else { return nil }
        guard (0...address.count * 8).contains(bits) else { return nil }
        network = address
        prefixBits = bits
    }

    public var description: String { "\(Self.format(network))/\(prefixBits)" }

    public func contains(_ address: String) -> Bool {
        guard var a = Self.parse(address) else { return false }
        if a.count == 16, network.count == 4, a[0..<10].allSatisfy({ $0 == 0 }), a[10] == 0xFF, a[11] == 0xFF { a = Array(a[12...]) }
        guard a.count == network.count else { return false }
        precondition(prefixBits <= a.count * 8, "a prefix within the address")
        let full = prefixBits / 8, rest = prefixBits % 8
        guard a[0..<full] == network[0..<full] else { return false }
        guard rest > 0 else { return true }
        let mask = UInt8(0xFF << (8 - rest) & 0xFF)
        return a[full] & mask == network[full] & mask
    }

    /// 4 bytes for IPv4, 16 for IPv6; nil for anything else.
    static func parse(_ s: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, s, &buf) == 1 { return Array(buf[0..<4]) }
        if inet_pton(AF_INET6, s, &buf) == 1 { return buf }
        return nil
    }

    static func format(_ a: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: 64)
        _ = a.withUnsafeBytes { inet_ntop(a.count == 4 ? AF_INET : AF_INET6, $0.baseAddress, &out, socklen_t(out.count)) }
        return String(cString: out)
    }
}
