/// Limits the server enforces, each answered with its proper status code.
public struct HTTPLimits: Sendable {
    /// Request line plus headers; beyond it: 431.
    public var maxHeaderBytes = 16 * 1024
    /// Decoded body; beyond it: 413.
    public var maxBodyBytes = 8 * 1024 * 1024
    /// Open connections; beyond it new ones get 503 and are closed.
    public var maxConnections = 10_000
    /// A keep-alive connection with no request in progress is closed after this.
    public var idleTimeoutMillis = 60_000
    /// A request must arrive completely within this once it starts: slow clients get 408.
    public var requestTimeoutMillis = 15_000

    public init() {}
}

/// Why a request could not be parsed, with the status the server answers.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public var description: String { "\(status): \(message)" }
    static func bad(_ m: String) -> HTTPParseError { HTTPParseError(status: 400, message: m) }
}

/// Incremental HTTP/1.1 request parser (RFC 9112): request line, headers, and a body by
/// Content-Length or chunked transfer coding. Feed bytes as they arrive; take complete
/// requests with `next()`. Strict where laxness enables request smuggling (conflicting
/// lengths, obsolete line folding, whitespace before the colon).
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var start = 0

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    public var bufferedBytes: Int { buffer.count - start }
    public var hasPartialRequest: Bool { bufferedBytes > 0 }

    public mutating func feed(_ bytes: [UInt8]) {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        if start > 64 * 1024 { buffer.removeFirst(start); start = 0 }
        buffer.append(contentsOf: bytes)
    }

    /// Hands over every byte not yet parsed (what follows a request that switched protocols).
    public mutating func takeBufferedBytes() -> [UInt8] {
        let rest = Array(buffer[start...])
        buffer.removeAll()
        start = 0
        return rest
    }

    /// The next complete request, nil when more bytes are needed.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        // Tolerate empty lines before a request line (RFC 9112 §2.2).
        while bufferedBytes >= 2 && buffer[start] == 0x0d && buffer[start + 1] == 0x0a { start += 2 }
        guard let headEnd = findHeaderEnd() else {
            if bufferedBytes > limits.maxHeaderBytes { throw HTTPParseError(status: 431, message: "request headers exceed \(limits.maxHeaderBytes) bytes") }
            return nil
        }
        guard headEnd - start <= limits.maxHeaderBytes else {
            throw HTTPParseError(status: 431, message: "request headers exceed \(limits.maxHeaderBytes) bytes")
        }
        var req = try parseHead(buffer[start..<headEnd])
        var pos = headEnd + 4

        let te = req.header("Transfer-Encoding")
        let lengths = req.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        if te != nil && !lengths.isEmpty { throw .bad("both Transfer-Encoding and Content-Length are present") }
        if let te {
            guard te.lowercased() == "chunked" else { throw HTTPParseError(status: 501, message: "transfer coding \"\(te)\" is not supported (only chunked)") }
            guard let (body, end) = try parseChunked(from: pos) else { return nil }
            req.body = body
            pos = end
        } else if !lengths.isEmpty {
            let distinct = Set(lengths.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
            guard distinct.count == 1, let text = distinct.first, !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let n = Int(text) else {
                throw .bad("invalid Content-Length \(lengths)")
            }
            guard n <= limits.maxBodyBytes else { throw HTTPParseError(status: 413, message: "body of \(n) bytes exceeds \(limits.maxBodyBytes)") }
            guard buffer.count - pos >= n else { return nil }
            req.body = Array(buffer[pos..<(pos + n)])
            pos += n
        }
        start = pos
        return req
    }

    private func findHeaderEnd() -> Int? {
        let end = buffer.count
        var i = start
        while i + 3 < end {
            if buffer[i] == 0x0d && buffer[i + 1] == 0x0a && buffer[i + 2] == 0x0d && buffer[i + 3] == 0x0a { return i }
            i += 1
        }
        return nil
    }

    private func parseHead(_ head: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequest {
        guard let text = String(validating: head, as: UTF8.self) else { throw .bad("request head is not valid UTF-8") }
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .bad("malformed request line") }
        guard parts[0].allSatisfy({ $0.isUppercase || $0 == "-" || $0 == "_" }) else { throw .bad("invalid method \"\(parts[0])\"") }
        let minor: Int
        switch parts[2] {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default:
            if parts[2].hasPrefix("HTTP/") { throw HTTPParseError(status: 505, message: "\(parts[2]) is not supported") }
            throw .bad("malformed HTTP version")
        }
        var headers = [(name: String, value: String)]()
        for line in lines {
            guard let first = line.first else { throw .bad("empty header line") }
            if first == " " || first == "\t" { throw .bad("obsolete header line folding") }
            guard let colon = line.firstIndex(of: ":") else { throw .bad("header line without a colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0)) }) else {
                throw .bad("invalid header name \"\(name)\"")
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .init(charactersIn: " \t"))
            headers.append((String(name), value))
        }
        if minor == 1 && !headers.contains(where: { $0.name.lowercased() == "host" }) { throw .bad("HTTP/1.1 request without Host header") }
        return HTTPRequest(method: String(parts[0]), target: String(parts[1]), minorVersion: minor, headers: headers)
    }

    /// Decodes a chunked body starting at `from`; nil when incomplete.
    private func parseChunked(from: Int) throws(HTTPParseError) -> ([UInt8], Int)? {
        var pos = from
        var body = [UInt8]()
        while true {
            guard let lineEnd = findCRLF(from: pos) else {
                if buffer.count - pos > 1024 { throw .bad("chunk size line too long") }
                return nil
            }
            let line = buffer[pos..<lineEnd]
            let sizePart = line.prefix { $0 != UInt8(ascii: ";") }
            guard !sizePart.isEmpty, sizePart.count <= 16 else { throw .bad("invalid chunk size") }
            var size = 0
            for c in sizePart {
                guard let n = Hex.nibble(c) else { throw .bad("invalid chunk size") }
                size = size << 4 | Int(n)
            }
            pos = lineEnd + 2
            if size == 0 {
                // Trailers, then the final empty line.
                while true {
                    guard let end = findCRLF(from: pos) else { return nil }
                    if end == pos { return (body, pos + 2) }
                    pos = end + 2
                }
            }
            guard body.count + size <= limits.maxBodyBytes else { throw HTTPParseError(status: 413, message: "chunked body exceeds \(limits.maxBodyBytes) bytes") }
            guard buffer.count - pos >= size + 2 else { return nil }
            body.append(contentsOf: buffer[pos..<(pos + size)])
            pos += size
            guard buffer[pos] == 0x0d && buffer[pos + 1] == 0x0a else { throw .bad("chunk not followed by CRLF") }
            pos += 2
        }
    }

    private func findCRLF(from: Int) -> Int? {
        var i = from
        while i + 1 < buffer.count {
            if buffer[i] == 0x0d && buffer[i + 1] == 0x0a { return i }
            i += 1
        }
        return nil
    }
}

enum Hex {
    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
