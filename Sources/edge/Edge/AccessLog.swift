import ByteCodec
import Foundation
import Glibc
import NodeConfig
import Net
import Synchronization

/// The optional per-request log of the read surfaces (`accessLog` in the config): one JSON
/// line per answered request — time (Unix milliseconds), node, caller (a key's id, never a secret), organisation,
/// surface, method, path (the `/k/<key>` prefix already removed), status, client address,
/// request id. Lines are buffered and written by `flush` (a timer, off the request path);
/// the file is rotated at `maxBytes` into `path.1` … `path.<keep>`. When writing falls far
/// behind, lines are dropped and counted, never the request slowed.
public final class AccessLog: Sendable {
    let settings: NodeConfig.AccessLogSettings
    static let maxBuffered = 8 << 20

    struct Buffer { var bytes: [UInt8] = []; var dropped = 0 }
    struct File { var fd: Int32; var size: Int }

    private let buffer = Mutex(Buffer())
    private let file: Mutex<File>

    public init(_ settings: NodeConfig.AccessLogSettings) throws {
        self.settings = settings
        file = Mutex(try Self.open(settings.path))
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    static func open(_ path: String) throws -> File {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Problem(description: "accessLog.path: cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        return File(fd: fd, size: fstat(fd, &st) == 0 ? Int(st.st_size) : 0)
    }

    /// Queues one line (without its newline).
    public func append(_ line: String) {
        buffer.withLock { b in
            guard b.bytes.count < Self.maxBuffered else { b.dropped += 1; return }
            b.bytes.append(contentsOf: line.utf8)
            b.bytes.append(UInt8(ascii: "\n"))
        }
    }

    /// Lines dropped because the disk fell behind.
    public var dropped: Int { buffer.withLock { $0.dropped } }

    /// Writes what is queued, rotating first when it would pass `maxBytes`.
    public func flush() {
        let bytes = buffer.withLock { b -> [UInt8] in defer { b.bytes.removeAll(keepingCapacity: true) }; return b.bytes }
        guard !bytes.isEmpty else { return }
        file.withLock { f in
            if f.size > 0, f.size + bytes.count > settings.maxBytes { rotate(&f) }
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { write(f.fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 { if errno == EINTR { continue }; break }
                offset += n
            }
            f.size += offset
        }
    }

    private func rotate(_ f: inout File) {
        Glibc.close(f.fd)
        let p = settings.path
        for i in stride(from: settings.keep - 1, through: 1, by: -1) { rename("\(p).\(i)", "\(p).\(i + 1)") }
        rename(p, "\(p).1")
        f = (try? Self.open(p)) ?? File(fd: -1, size: 0)
    }

    public func close() { flush(); file.withLock { f in if f.fd >= 0 { Glibc.close(f.fd); f.fd = -1 } } }
}

/// Writes each answered read into the access log.
struct AccessLogHook: EdgeHook {
    let log: AccessLog
    let nodeId: UInt64

    func admit(_ request: EdgeRequest) -> HTTPResponse? { nil }

    func completed(_ request: EdgeRequest, _ response: HTTPResponse) {
        guard case .read(let surface) = request.route, let name = request.readMethod else { return }
        let req = request.http
        let method = surface == .rest ? req.method : name
        var line = "{\"timeMillis\":\(unixMillis()),\"node\":\(nodeId),\"caller\":\(jsonQuote(request.principal.caller))"
        line += ",\"org\":" + (request.principal.organisation.map { jsonQuote(OrgAdmin.idText($0)) } ?? "null")
        line += ",\"surface\":\"\(surface)\",\"method\":\(jsonQuote(method)),\"path\":\(jsonQuote(String(request.path.prefix(256))))"
        line += ",\"status\":\(response.status),\"remote\":\(jsonQuote(APIKeys.host(req.remote)))"
        line += ",\"requestId\":" + (req.header("X-Request-Id").map { jsonQuote(String($0.prefix(128))) } ?? "null") + "}"
        log.append(line)
    }
}
