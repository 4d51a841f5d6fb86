/// An HTTP/1.1 request as the server hands it to a handler.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent: path plus optional query.
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The peer, for logs and rate limits.
    public var remote: String = ""

    public init(method: String, target: String, minorVersion: Int = 1, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method; self.target = target; self.minorVersion = minorVersion; self.headers = headers; self.body = body
    }

    /// First value of a header, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { headerNamesEqual($0.name, name) }?.value
    }

    public var path: String { String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") }

    public var query: [String: String] {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var out = [String: String]()
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let v = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
            out[k] = v
        }
        return out
    }

    /// Whether the connection stays open after the response (HTTP/1.1 default yes, 1.0 default no).
    public var keepAlive: Bool {
        let c = header("Connection")?.lowercased() ?? ""
        if minorVersion == 0 { return c.contains("keep-alive") }
        return !c.contains("close")
    }
}

/// A response from a handler.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Set when the answer comes later (see `DeferredResponse`); status, headers and body are then placeholders.
    public internal(set) var later: LaterResponse?

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status; self.headers = headers; self.body = body
    }

    public static func json(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { headerNamesEqual($0.name, name) }?.value
    }

    /// Serialized with Content-Length (and Connection: close when asked).
    func serialize(keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        precondition(later == nil, "a deferred response is written once it arrives")
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (n, v) in headers where !headerNamesEqual(n, "content-length") && !headerNamesEqual(n, "connection") {
            head += "\(n): \(v)\r\n"
        }
        head += "Content-Length: \(body.count)\r\n"
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        if !headOnly { out.append(contentsOf: body) }
        return out
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"; case 101: "Switching Protocols"
        case 200: "OK"; case 201: "Created"; case 202: "Accepted"; case 204: "No Content"
        case 301: "Moved Permanently"; case 304: "Not Modified"; case 307: "Temporary Redirect"
        case 400: "Bad Request"; case 401: "Unauthorized"; case 403: "Forbidden"; case 404: "Not Found"
        case 405: "Method Not Allowed"; case 408: "Request Timeout"; case 409: "Conflict"; case 411: "Length Required"
        case 413: "Content Too Large"; case 414: "URI Too Long"; case 417: "Expectation Failed"; case 421: "Misdirected Request"; case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"; case 501: "Not Implemented"; case 502: "Bad Gateway"
        case 503: "Service Unavailable"; case 504: "Gateway Timeout"; case 505: "HTTP Version Not Supported"; case 507: "Insufficient Storage"
        default: "Status \(status)"
        }
    }
}

/// Header names compare case-insensitively (RFC 9110 §5.1); they are ASCII tokens, so this
/// folds ASCII letters only and allocates nothing (it runs several times per request).
@inline(__always)
public func headerNamesEqual(_ a: String, _ b: String) -> Bool {
    var x = a.utf8.makeIterator(), y = b.utf8.makeIterator()
    while true {
        switch (x.next(), y.next()) {
        case (nil, nil): return true
        case (let p?, let q?):
            if p == q { continue }
            let folded = p | 0x20
            guard folded == q | 0x20, folded >= 0x61, folded <= 0x7a else { return false }
        default: return false
        }
    }
}
