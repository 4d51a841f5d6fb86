import Foundation

/// An endpoint URL as users paste them: `http://`, `https://`, `ws://` or `wss://`, a host
/// (name, IPv4, or `[IPv6]`), an optional port, any path and query (a provider's
/// `/v3/<project-key>`), and optional `user:password@` sent as HTTP basic auth.
/// `redacted` is the form for logs and /status: scheme, host and port only, since paths,
/// queries and userinfo often carry the key.
public struct HTTPURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case http, https, ws, wss }

    public let scheme: Scheme
    public let host: String
    public let port: UInt16
    /// Path plus query, as sent in the request line; "/" when the URL has none.
    public let target: String
    public let user: String?
    public let password: String?

    public var usesTLS: Bool { scheme == .https || scheme == .wss }
    public var address: SocketAddress { SocketAddress(host: host, port: port) }
    /// The Host header: the port only when it is not the scheme's default.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (usesTLS ? 443 : 80) ? h : "\(h):\(port)"
    }
    public var redacted: String {
        let hidden = target != "/" || user != nil
        return "\(scheme.rawValue)://\(user != nil ? "…@" : "")\(hostHeader)\(hidden ? "/…" : "")"
    }
    public var description: String { redacted }

    /// `Authorization: Basic …` for the userinfo, if any.
    public var basicAuthorization: String? {
        guard let user else { return nil }
        return "Basic " + Data("\(user):\(password ?? "")".utf8).base64EncodedString()
    }

    public init(parsing text: String) throws(NetError) {
        guard let sep = text.range(of: "://") else { throw NetError("URL \"\(Self.short(text))\" needs a scheme (http://, https://, ws:// or wss://)") }
        guard let scheme = Scheme(rawValue: text[..<sep.lowerBound].lowercased()) else {
            throw NetError("URL scheme \"\(Self.short(String(text[..<sep.lowerBound])))\" is not supported (http, https, ws, wss)")
        }
        self.scheme = scheme
        let rest = text[sep.upperBound...]
        guard !rest.contains(where: { $0.isWhitespace || ($0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false) }) else {
            throw NetError("URL must not contain spaces or control characters")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var tail = String(rest[authorityEnd...])
        if let hash = tail.firstIndex(of: "#") { tail = String(tail[..<hash]) }   // fragments never reach the server
        if tail.hasPrefix("?") { tail = "/" + tail }
        target = tail.isEmpty ? "/" : tail
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let parts = info.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            password = parts.count > 1 ? String(parts[1]).removingPercentEncoding ?? String(parts[1]) : nil
        } else {
            user = nil
            password = nil
        }
        var hostPart: Substring, portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw NetError("URL host: missing ']' after an IPv6 address") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.isEmpty { portPart = nil } else {
                guard after.hasPrefix(":") else { throw NetError("URL: unexpected text after the IPv6 address") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
            portPart = nil
        }
        guard !hostPart.isEmpty else { throw NetError("URL \(scheme.rawValue)://…: the host is missing") }
        host = String(hostPart).lowercased()
        if let p = portPart {
            guard let n = UInt16(p), n > 0 else { throw NetError("URL port \"\(Self.short(String(p)))\" must be 1 to 65535") }
            port = n
        } else {
            port = scheme == .https || scheme == .wss ? 443 : 80
        }
    }

    /// The request target for `path` relative to this URL: "/" means the URL's own target;
    /// any other path is appended to the URL's path (a base URL with a key in its path).
    public func target(for path: String) -> String {
        if path == "/" || path.isEmpty { return target }
        guard target != "/" else { return path }
        let base = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        return (base.hasSuffix("/") ? String(base.dropLast()) : base) + path
    }

    static func short(_ s: String) -> String { s.count > 40 ? String(s.prefix(40)) + "…" : s }
}
