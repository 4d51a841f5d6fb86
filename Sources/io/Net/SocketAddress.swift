#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An IPv4 or IPv6 endpoint, parsed from "host:port" ("[::1]:8545" for IPv6).
/// Host names other than "localhost" are resolved with getaddrinfo.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: UInt16

    public init(host: String, port: UInt16) { self.host = host; self.port = port }

    public init(parsing text: String) throws(NetError) {
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw NetError("address \"\(text)\": missing ']' after IPv6 host") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw NetError("address \"\(text)\": expected :port after ]") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw NetError("address \"\(text)\": expected host:port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw NetError("address \"\(text)\": empty host") }
        guard let port = UInt16(portText) else { throw NetError("address \"\(text)\": port must be 0–65535") }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls body with a sockaddr for this endpoint.
    func withSockAddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t, Int32) throws -> T) throws -> T {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let name = host == "localhost" ? "127.0.0.1" : host
        let rc = getaddrinfo(name, String(port), &hints, &result)
        guard rc == 0, let info = result else {
            throw NetError("cannot resolve \(description): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(info) }
        return try body(info.pointee.ai_addr, info.pointee.ai_addrlen, info.pointee.ai_family)
    }

    /// Every address the host resolves to, numeric (what a connection could reach: checked
    /// before sending to an address a user gave, against private networks).
    public func resolvedHosts() throws(NetError) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let name = host == "localhost" ? "127.0.0.1" : host
        let rc = getaddrinfo(name, String(port), &hints, &result)
        guard rc == 0, let first = result else { throw NetError("cannot resolve \(description): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(first) }
        var out = [String]()
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let info = p {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            }
            out.append(Self.from(storage).host)
            p = info.pointee.ai_next
        }
        return out
    }

    static func from(_ storage: sockaddr_storage) -> SocketAddress {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
                if sa.pointee.sa_family == sa_family_t(AF_INET6) {
                    return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                        var addr = a.pointee.sin6_addr
                        inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                        return SocketAddress(host: String(cString: buf), port: UInt16(bigEndian: a.pointee.sin6_port))
                    }
                }
                return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    var addr = a.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                    return SocketAddress(host: String(cString: buf), port: UInt16(bigEndian: a.pointee.sin_port))
                }
            }
        }
    }
}
