import ByteCodec
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Telemetry

/// A blocking HTTP/1.1 client with one kept-alive connection, for CLIs, tests and the
/// upstream fetcher. Not thread-safe: use one client per thread.
public final class HTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]
        public func header(_ name: String) -> String? {
            let l = name.lowercased()
            return headers.first { $0.name.lowercased() == l }?.value
        }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public let endpoint: SocketAddress
    /// The URL this client was made for (path, query, userinfo, scheme); nil when made from an address.
    public let url: HTTPURL?
    public var timeoutMillis: Int
    /// Sent with every request (a provider's `x-api-key`, basic auth from the URL's userinfo).
    public var defaultHeaders: [(String, String)] = []
    private let tlsContext: TLSContext?
    private var tls: TLSSession?
    /// When the request in progress must be complete (monotonic ms): `timeoutMillis` bounds
    /// the whole exchange, so a server trickling bytes cannot stretch it.
    var deadline: UInt64 = 0
    /// Largest response body accepted; a bigger (or malformed) Content-Length or chunk size is an error, not an allocation.
    public var maxResponseBytes = 512 * 1024 * 1024
    private var fd: Int32 = -1
    var buffer: [UInt8] = []
    /// recv's landing area, kept between reads rather than zeroed anew for each one.
    private var chunk = [UInt8](repeating: 0, count: 65536)

    /// `url` as users paste it: `http://` or `https://`, any path and query (requests for "/"
    /// go to the URL's own path; others are appended to it), `user:password@` as basic auth.
    /// HTTPS verifies the server against the system trust store unless `tls` says otherwise.
    public init(url text: String, timeoutMillis: Int = 10_000, tls: TLSConfiguration? = nil, headers: [(String, String)] = []) throws(NetError) {
        let u = try HTTPURL(parsing: text)
        guard u.scheme == .http || u.scheme == .https else { throw NetError("an HTTP client needs an http:// or https:// URL, not \(u.scheme.rawValue)://") }
        url = u
        endpoint = u.address
        self.timeoutMillis = timeoutMillis
        if u.usesTLS {
            do { tlsContext = try TLSContext(tls ?? TLSConfiguration(role: .client)) } catch { throw NetError("TLS for \(u.redacted): \(error)") }
        } else {
            tlsContext = nil
        }
        defaultHeaders = headers
        if let auth = u.basicAuthorization { defaultHeaders.append(("Authorization", auth)) }
    }

    public init(address: SocketAddress, timeoutMillis: Int = 10_000) {
        endpoint = address
        url = nil
        tlsContext = nil
        self.timeoutMillis = timeoutMillis
    }

    /// How the server is named in errors: never the path or userinfo, which may hold a key.
    var name: String { url?.redacted ?? endpoint.description }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        tls = nil
        buffer.removeAll()
    }

    /// Sends one request and reads the whole response. A request on a reused connection
    /// that finds it closed by the server is retried once on a new connection.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> Response {
        try InlineAttempt.mayBlock()
        let reused = fd >= 0
        do {
            return try attempt(method, path, headers: headers, body: body)
        } catch let e as NetError where reused && e.description.hasPrefix("connection closed") {
            close()
            return try attempt(method, path, headers: headers, body: body)
        } catch let e as SocketError where reused && (e.errno == EPIPE || e.errno == ECONNRESET) {
            close()
            return try attempt(method, path, headers: headers, body: body)
        }
    }

    public func get(_ path: String, headers: [(String, String)] = []) throws -> Response { try request("GET", path, headers: headers) }

    public func post(_ path: String, json: String, headers: [(String, String)] = []) throws -> Response {
        try request("POST", path, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    private func attempt(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]) throws -> Response {
        deadline = EventLoop.nowMillis() + UInt64(max(timeoutMillis, 1))
        if fd < 0 {
            fd = try Socket.connectBlocking(to: endpoint, timeoutMillis: Int32(timeoutMillis))
            Socket.setTimeouts(fd, millis: timeoutMillis)
            buffer.removeAll()
            if let tlsContext {
                do { try handshake(tlsContext) } catch { close(); throw error }
            }
        }
        let target = url?.target(for: path) ?? path
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(url?.hostHeader ?? endpoint.description)\r\n"
        for (n, v) in defaultHeaders where !headers.contains(where: { $0.0.lowercased() == n.lowercased() }) { head += "\(n): \(v)\r\n" }
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        do {
            try sendAll(Array(head.utf8) + body)
            let r = try readResponse(headOnly: method == "HEAD")
            if r.header("Connection")?.lowercased() == "close" { close() }
            return r
        } catch {
            close()
            throw error
        }
    }

    /// The TLS handshake over the freshly connected socket, with SNI and hostname checks.
    private func handshake(_ context: TLSContext) throws {
        let session = try TLSSession(context: context, serverName: url?.host ?? endpoint.host)
        while try !session.handshake() {
            try sendRaw(session.takeOutput())
            guard let bytes = try receiveRaw() else { throw NetError("\(name) closed the connection during the TLS handshake") }
            session.feed(bytes)
        }
        try sendRaw(session.takeOutput())
        tls = session
    }

    func sendAll(_ bytes: [UInt8]) throws {
        guard let tls else { try sendRaw(bytes); return }
        try tls.write(bytes)
        try sendRaw(tls.takeOutput())
    }

    private func sendRaw(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { throw NetError("send to \(name) timed out after \(timeoutMillis) ms") }
                throw SocketError("send", detail: "to \(name)")
            }
            off += n
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    func fill() throws -> Bool {
        guard let tls else {
            guard let bytes = try receiveRaw() else { return false }
            buffer.append(contentsOf: bytes)
            return true
        }
        while true {
            let plain = try tls.read()
            if !plain.isEmpty { buffer.append(contentsOf: plain); return true }
            if tls.peerClosed { return false }
            guard let bytes = try receiveRaw() else { return false }
            tls.feed(bytes)
        }
    }

    /// What the socket has, blocking up to the timeout; nil at end of stream.
    private func receiveRaw() throws -> [UInt8]? {
        while true {
            let now = EventLoop.nowMillis()
            guard now < deadline else { throw NetError("no complete response from \(name) within \(timeoutMillis) ms") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(deadline - now, UInt64(Int32.max))))
            if ready == 0 { throw NetError("no complete response from \(name) within \(timeoutMillis) ms") }
            if ready < 0 { if errno == EINTR { continue }; throw SocketError("poll", detail: "on \(name)") }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return Array(chunk[0..<n]) }
            if n == 0 { return nil }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw NetError("no response from \(name) within \(timeoutMillis) ms") }
            throw SocketError("recv", detail: "from \(name)")
        }
    }

    private func readLine() throws -> String {
        while true {
            if let i = findCRLF() {
                let line = String(decoding: buffer[0..<i], as: UTF8.self)
                buffer.removeFirst(i + 2)
                return line
            }
            guard try fill() else { throw NetError("connection closed by \(name) before the response was complete") }
        }
    }

    private func findCRLF() -> Int? {
        guard buffer.count >= 2 else { return nil }
        for i in 0..<(buffer.count - 1) where buffer[i] == 0x0d && buffer[i + 1] == 0x0a { return i }
        return nil
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        // Upstream batches run to tens of megabytes: grow once, not by doubling (each
        // doubling faulted in fresh zeroed pages), and hand the buffer over when it holds
        // exactly the body, which is the usual case.
        if buffer.capacity < n { buffer.reserveCapacity(n) }
        while buffer.count < n {
            guard try fill() else { throw NetError("connection closed by \(name) before the response was complete") }
        }
        if buffer.count == n {
            defer { buffer = [] }
            return buffer
        }
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    private func readResponse(headOnly: Bool) throws -> Response {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw NetError("malformed status line from \(name): \(statusLine.prefix(80))")
        }
        var headers = [(name: String, value: String)]()
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw NetError("malformed header from \(name)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ n: String) -> String? { headers.first { $0.name.lowercased() == n }?.value }
        var body = [UInt8]()
        if headOnly || status == 204 || status == 304 || (100..<200).contains(status) {
        } else if header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                let size: Int
                switch HTTPLength.hex(sizeLine.utf8.prefix { $0 != UInt8(ascii: ";") }, max: maxResponseBytes - body.count) {
                case .value(let v): size = v
                case .malformed: throw NetError("malformed chunk size \(boundedQuote(sizeLine)) from \(name)")
                case .tooLarge: throw NetError("chunked response from \(name) exceeds \(maxResponseBytes) bytes")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                body.append(contentsOf: try readExactly(size))
                _ = try readExactly(2)
            }
        } else if let len = header("content-length") {
            switch HTTPLength.decimal(len.utf8, max: maxResponseBytes) {
            case .value(let n): body = try readExactly(n)
            case .malformed: throw NetError("malformed Content-Length \(boundedQuote(len)) from \(name)")
            case .tooLarge: throw NetError("response from \(name) of \(boundedQuote(len)) bytes exceeds \(maxResponseBytes)")
            }
        } else {
            while try fill() {}
            body = buffer
            buffer.removeAll()
            close()
        }
        return Response(status: status, headers: headers, body: body)
    }
}
