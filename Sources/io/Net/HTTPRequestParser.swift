import ByteCodec
import Telemetry

/// Limits the server enforces, each answered with its proper status code.
public struct HTTPLimits: Sendable {
    /// Request line plus headers; beyond it: 431. Chunked trailers count against it too.
    public var maxHeaderBytes = 16 * 1024
    /// Decoded body; beyond it: 413.
    public var maxBodyBytes = 8 * 1024 * 1024
    /// Open connections; beyond it new ones get 503 and are closed.
    public var maxConnections = 10_000
    /// A keep-alive connection with no request in progress is closed after this.
    public var idleTimeoutMillis = 60_000
    /// The request line and headers must be complete within this from the first byte of the
    /// request (an absolute deadline, not reset by each byte: slowloris clients get 408).
    public var headerTimeoutMillis = 10_000
    /// The whole request, body included, must arrive within this from its first byte; 408 otherwise.
    public var requestTimeoutMillis = 15_000
    /// Once `bodyRateGraceMillis` have passed since the head was complete, the body must keep
    /// arriving at least this fast on average, or the request is answered 408.
    public var minBodyBytesPerSecond = 240
    /// How long a body may arrive slower than `minBodyBytesPerSecond` (slow start, a client
    /// that waits for 100 Continue).
    public var bodyRateGraceMillis = 5_000

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
/// lengths, obsolete line folding, whitespace before the colon, control bytes in values).
/// Every length read from the wire is bounded by the limits before any arithmetic uses it,
/// and error messages quote at most a bounded prefix of the offending input.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the end of the head resumes (so a trickled head is scanned once).
    private var headScan = 0
    /// The current request once its head is complete and its body is not.
    private var head: PendingHead?
    /// Chunked decoding progress: the offset of the next chunk-size line and the body so far.
    private var chunkNext = 0
    private var chunkBody: [UInt8] = []

    private enum Framing: Sendable {
        case none
        case length(Int)
        case chunked
    }

    private struct PendingHead: Sendable {
        var request: HTTPRequest
        let bodyStart: Int
        var framing: Framing
        let expectsContinue: Bool
    }

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    public var bufferedBytes: Int { buffer.count - start }
    public var hasPartialRequest: Bool { bufferedBytes > 0 }
    /// The head of the request being received, once it is complete and its body is still to come.
    public var pendingHead: HTTPRequest? { head?.request }
    /// Body bytes (as framed on the wire) received so far for `pendingHead`.
    public var pendingBodyBytes: Int { head.map { buffer.count - $0.bodyStart } ?? 0 }
    /// Whether `pendingHead` is an HTTP/1.1 request with `Expect: 100-continue` (RFC 9110 §10.1.1;
    /// the expectation is ignored in HTTP/1.0 requests, as the RFC requires).
    public var pendingHeadExpectsContinue: Bool { head?.expectsContinue ?? false }

    public mutating func feed(_ bytes: [UInt8]) {
        // Offsets into the buffer are kept while a head is pending, so compact only between requests.
        if head == nil {
            if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); headScan -= start; start = 0 }
            if start > 64 * 1024 { buffer.removeFirst(start); headScan -= start; start = 0 }
        }
        buffer.append(contentsOf: bytes)
    }

    /// Hands over every byte not yet parsed (what follows a request that switched protocols).
    public mutating func takeBufferedBytes() -> [UInt8] {
        let rest = Array(buffer[start...])
        buffer.removeAll()
        start = 0
        headScan = 0
        head = nil
        chunkBody = []
        return rest
    }

    /// The next complete request, nil when more bytes are needed.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        if head == nil {
            // Tolerate empty lines before a request line (RFC 9112 §2.2).
            while bufferedBytes >= 2 && buffer[start] == 0x0d && buffer[start + 1] == 0x0a { start += 2 }
            headScan = max(headScan, start)
            guard let headEnd = findHeaderEnd() else {
                if bufferedBytes > limits.maxHeaderBytes { throw HTTPParseError(status: 431, message: "request headers exceed \(limits.maxHeaderBytes) bytes") }
                return nil
            }
            guard headEnd - start <= limits.maxHeaderBytes else {
                throw HTTPParseError(status: 431, message: "request headers exceed \(limits.maxHeaderBytes) bytes")
            }
            head = try pendingHead(buffer[start..<headEnd], bodyStart: headEnd + 4)
            chunkNext = headEnd + 4
            chunkBody = []
        }
        guard var pending = head else { return nil }
        let end: Int
        switch pending.framing {
        case .none:
            end = pending.bodyStart
        case .length(let n):
            guard buffer.count - pending.bodyStart >= n else { return nil }
            pending.request.body = Array(buffer[pending.bodyStart..<(pending.bodyStart + n)])
            end = pending.bodyStart + n
        case .chunked:
            // Moved out while decoding, so appending never copies the body decoded so far.
            var decoded = [UInt8]()
            swap(&decoded, &chunkBody)
            let result = try decodeChunks(from: chunkNext, into: &decoded)
            chunkNext = result.next
            guard let stop = result.end else { swap(&decoded, &chunkBody); return nil }
            pending.request.body = decoded
            end = stop
        }
        start = end
        headScan = end
        head = nil
        return pending.request
    }

    private mutating func findHeaderEnd() -> Int? {
        let end = buffer.count
        var i = headScan
        while i + 3 < end {
            if buffer[i] == 0x0d && buffer[i + 1] == 0x0a && buffer[i + 2] == 0x0d && buffer[i + 3] == 0x0a { return i }
            i += 1
        }
        headScan = max(start, i)
        return nil
    }

    /// Parses a complete head and decides how its body is framed; every refusal that does not
    /// need the body (bad lengths, a body over the limit, an unknown expectation) happens here.
    private func pendingHead(_ bytes: ArraySlice<UInt8>, bodyStart: Int) throws(HTTPParseError) -> PendingHead {
        let req = try parseHead(bytes)
        let te = req.header("Transfer-Encoding")
        let lengths = req.headers.filter { headerNamesEqual($0.name, "content-length") }.map(\.value)
        if te != nil && !lengths.isEmpty { throw .bad("both Transfer-Encoding and Content-Length are present") }
        var expectsContinue = false
        if let expect = req.header("Expect") {
            guard expect.lowercased() == "100-continue" else {
                throw HTTPParseError(status: 417, message: "expectation \(boundedQuote(expect)) is not supported (only 100-continue)")
            }
            expectsContinue = req.minorVersion == 1
        }
        let framing: Framing
        if let te {
            // HTTP/1.0 has no transfer codings; a 1.0 message that claims one is a smuggling attempt (RFC 9112 §6.1).
            guard req.minorVersion == 1 else { throw .bad("Transfer-Encoding in an HTTP/1.0 request") }
            guard te.lowercased() == "chunked" else {
                throw HTTPParseError(status: 501, message: "transfer coding \(boundedQuote(te)) is not supported (only chunked)")
            }
            framing = .chunked
        } else if !lengths.isEmpty {
            framing = .length(try contentLength(lengths))
        } else {
            framing = .none
        }
        return PendingHead(request: req, bodyStart: bodyStart, framing: framing, expectsContinue: expectsContinue)
    }

    /// The one Content-Length all the headers agree on (a list of identical values is allowed,
    /// RFC 9112 §6.3), as plain decimal digits: no sign, no spaces inside, no overflow.
    private func contentLength(_ values: [String]) throws(HTTPParseError) -> Int {
        var found: Int?
        for value in values {
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                let text = item.trimmingCharacters(in: .init(charactersIn: " \t"))
                let n: Int
                switch HTTPLength.decimal(text.utf8, max: limits.maxBodyBytes) {
                case .value(let v): n = v
                case .malformed: throw .bad("invalid Content-Length \(boundedQuote(value))")
                case .tooLarge:
                    throw HTTPParseError(status: 413, message: "Content-Length \(boundedQuote(text)) exceeds the \(limits.maxBodyBytes)-byte body limit")
                }
                if let f = found, f != n { throw .bad("conflicting Content-Length values \(boundedQuote(values.joined(separator: ", ")))") }
                found = n
            }
        }
        guard let n = found else { throw .bad("empty Content-Length") }
        return n
    }

    /// The request line and header fields, read as bytes: every byte that matters to framing
    /// is ASCII, so nothing here needs Unicode (grapheme-aware String splitting cost more than
    /// the rest of a small request).
    private func parseHead(_ head: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequest {
        if head.contains(where: { $0 >= 0x80 }), String(validating: head, as: UTF8.self) == nil { throw .bad("request head is not valid UTF-8") }
        var lines = Self.lines(head)
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .bad("malformed request line") }
        guard parts[0].allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || $0 == 0x2d || $0 == 0x5f }) else {
            throw .bad("invalid method \(boundedQuote(Self.text(parts[0])))")
        }
        // The target is visible ASCII (RFC 9112 §3.2); a control byte there is never a real path.
        if let bad = parts[1].first(where: { $0 < 0x21 || $0 == 0x7f }) {
            throw .bad("control character 0x\(String(bad, radix: 16)) in the request target")
        }
        let minor: Int
        switch Self.text(parts[2]) {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        case let version:
            if version.hasPrefix("HTTP/") { throw HTTPParseError(status: 505, message: "\(boundedQuote(version)) is not supported") }
            throw .bad("malformed HTTP version")
        }
        var headers = [(name: String, value: String)]()
        headers.reserveCapacity(lines.count)
        var sawHost = false
        for line in lines {
            guard let first = line.first else { throw .bad("empty header line") }
            if first == 0x20 || first == 0x09 { throw .bad("obsolete header line folding") }
            guard let colon = line.firstIndex(of: 0x3a) else { throw .bad("header line without a colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(Self.isTokenByte) else {
                throw .bad("invalid header name \(boundedQuote(Self.text(name)))")
            }
            var value = line[(colon + 1)...]
            while let b = value.first, b == 0x20 || b == 0x09 { value.removeFirst() }
            while let b = value.last, b == 0x20 || b == 0x09 { value.removeLast() }
            // NUL, bare CR/LF and other controls let a value mean different things to different
            // parsers (RFC 9110 §5.5); only HTAB is field content.
            if let bad = value.first(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) {
                throw .bad("control character 0x\(String(bad, radix: 16)) in the value of header \(boundedQuote(Self.text(name)))")
            }
            let nameText = Self.text(name)
            if !sawHost && headerNamesEqual(nameText, "host") { sawHost = true }
            headers.append((nameText, Self.text(value)))
        }
        if minor == 1 && !sawHost { throw .bad("HTTP/1.1 request without Host header") }
        return HTTPRequest(method: Self.text(parts[0]), target: Self.text(parts[1]), minorVersion: minor, headers: headers)
    }

    /// The head split at every CRLF (a bare CR or LF stays inside its line, where the checks
    /// above refuse it).
    private static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var i = head.startIndex
        while i + 1 < head.endIndex {
            if head[i] == 0x0d && head[i + 1] == 0x0a {
                out.append(head[lineStart..<i])
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        out.append(head[lineStart..<head.endIndex])
        return out
    }

    /// tchar (RFC 9110 §5.6.2): letters, digits and !#$%&'*+-.^_`|~
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x5e, 0x5f, 0x60, 0x7c, 0x7e: return true
        default: return false
        }
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Decodes the chunks buffered from `from` on. `end` is the offset past the body's final
    /// CRLF once complete; otherwise `next` is where decoding resumes when more bytes arrive.
    private func decodeChunks(from: Int, into body: inout [UInt8]) throws(HTTPParseError) -> (next: Int, end: Int?) {
        var pos = from
        while true {
            guard let lineEnd = findCRLF(from: pos) else {
                if buffer.count - pos > 1024 { throw .bad("chunk size line too long") }
                return (pos, nil)
            }
            guard lineEnd - pos <= 1024 else { throw .bad("chunk size line too long") }
            let sizePart = buffer[pos..<lineEnd].prefix { $0 != UInt8(ascii: ";") }
            let size: Int
            switch HTTPLength.hex(sizePart, max: limits.maxBodyBytes - body.count) {
            case .value(let v): size = v
            case .malformed: throw .bad("invalid chunk size \(boundedQuote(String(decoding: sizePart, as: UTF8.self)))")
            case .tooLarge: throw HTTPParseError(status: 413, message: "chunked body exceeds the \(limits.maxBodyBytes)-byte limit")
            }
            let dataStart = lineEnd + 2
            if size == 0 {
                // Trailers, then the final empty line; they count against the header limit.
                var p = dataStart
                while true {
                    guard let end = findCRLF(from: p) else {
                        if buffer.count - dataStart > limits.maxHeaderBytes { throw HTTPParseError(status: 431, message: "chunked trailers exceed \(limits.maxHeaderBytes) bytes") }
                        return (pos, nil)
                    }
                    if end - dataStart > limits.maxHeaderBytes { throw HTTPParseError(status: 431, message: "chunked trailers exceed \(limits.maxHeaderBytes) bytes") }
                    if end == p { return (pos, p + 2) }
                    p = end + 2
                }
            }
            // size <= maxBodyBytes here, so this sum cannot overflow.
            guard buffer.count - dataStart >= size + 2 else { return (pos, nil) }
            body.append(contentsOf: buffer[dataStart..<(dataStart + size)])
            pos = dataStart + size
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

/// Lengths read from the wire, parsed without overflow and bounded before anyone does
/// arithmetic with them. Shared by the server's request parser and the client's response reader.
enum HTTPLength {
    enum Parsed: Equatable { case value(Int), malformed, tooLarge }

    /// 1*DIGIT (a Content-Length): malformed when empty or with anything but digits (a sign,
    /// spaces, "0x"); tooLarge when above `max`, however many digits it has.
    static func decimal<C: Collection>(_ digits: C, max: Int) -> Parsed where C.Element == UInt8 { parse(digits, radix: 10, max: max) }

    /// 1*HEXDIG (a chunk size), bounded the same way.
    static func hex<C: Collection>(_ digits: C, max: Int) -> Parsed where C.Element == UInt8 { parse(digits, radix: 16, max: max) }

    private static func parse<C: Collection>(_ digits: C, radix: Int, max: Int) -> Parsed where C.Element == UInt8 {
        precondition(max >= 0, "length bound must not be negative")
        guard !digits.isEmpty else { return .malformed }
        var value = 0
        var tooLarge = false
        for c in digits {
            let d: Int
            if radix == 16 {
                guard let n = Hex.nibble(c) else { return .malformed }
                d = Int(n)
            } else {
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return .malformed }
                d = Int(c - UInt8(ascii: "0"))
            }
            // Past `max`, stop accumulating (that is what could overflow) but keep validating,
            // so malformed input is malformed whatever its length.
            if tooLarge { continue }
            let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = shifted.addingReportingOverflow(d)
            if o1 || o2 || sum > max { tooLarge = true } else { value = sum }
        }
        return tooLarge ? .tooLarge : .value(value)
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
