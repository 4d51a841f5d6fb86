import ByteCodec
import Foundation
import Synchronization

/// Structured logging: one event per line, as a JSON object with a timestamp, level,
/// component, event name and fields. Never pass secrets as fields — there is no
/// redaction pass after the fact.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CustomStringConvertible {
        case debug, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var description: String { ["debug", "info", "warn", "error"][rawValue] }
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error": self = .error
            default: return nil
            }
        }
    }

    /// Where lines go; tests can capture them.
    public final class Sink: Sendable {
        private let lock = Mutex<(fd: Int32, captured: [String]?)>((2, nil))
        public let minimum: Level
        public init(fd: Int32 = 2, minimum: Level = .info, capture: Bool = false) {
            self.minimum = minimum
            lock.withLock { $0 = (fd, capture ? [] : nil) }
        }
        func write(_ line: String) { write(bytes: Array(line.utf8)) }

        /// One line (without its newline): a single write(2), so lines of concurrent
        /// loggers never interleave.
        func write(bytes line: [UInt8]) {
            var line = line
            lock.withLock { s in
                if s.captured != nil { s.captured!.append(String(decoding: line, as: UTF8.self)); return }
                line.append(0x0A)
                _ = line.withUnsafeBytes { Foundation.write(s.fd, $0.baseAddress, $0.count) }
            }
        }
        /// Lines written so far, when created with `capture: true`.
        public var lines: [String] { lock.withLock { $0.captured ?? [] } }
    }

    public let component: String
    public let sink: Sink
    /// Fields added to every event of this logger (node id, peer…).
    public let context: [(String, String)]

    public init(component: String, sink: Sink = Logger.standardError, context: [(String, String)] = []) {
        self.component = component
        self.sink = sink
        self.context = context
    }

    public static let standardError = Sink()

    public func with(_ key: String, _ value: CustomStringConvertible) -> Logger {
        Logger(component: component, sink: sink, context: context + [(key, value.description)])
    }

    public func debug(_ event: String, _ fields: [(String, Any)] = []) { log(.debug, event, fields) }
    public func info(_ event: String, _ fields: [(String, Any)] = []) { log(.info, event, fields) }
    public func warn(_ event: String, _ fields: [(String, Any)] = []) { log(.warn, event, fields) }
    public func error(_ event: String, _ fields: [(String, Any)] = []) { log(.error, event, fields) }

    public func log(_ level: Level, _ event: String, _ fields: [(String, Any)]) {
        guard level >= sink.minimum else { return }
        // Built as bytes: the audit hook logs every admin request, and String(format:) plus
        // string concatenation were a seventh of a loaded leader's CPU.
        var line = [UInt8]()
        line.reserveCapacity(160 + 48 * (context.count + fields.count))
        line += Self.tsPrefix
        Self.appendTimestamp(to: &line)
        line += Self.levelPrefix
        line += level.description.utf8
        line += Self.componentPrefix
        line += Self.quote(component).utf8
        line += Self.eventPrefix
        line += Self.quote(event).utf8
        for (k, v) in context { line.append(0x2C); line += Self.quote(k).utf8; line.append(0x3A); line += Self.quote(v).utf8 }
        for (k, v) in fields { line.append(0x2C); line += Self.quote(k).utf8; line.append(0x3A); line += Self.render(v).utf8 }
        line.append(0x7D)
        sink.write(bytes: line)
    }

    static let tsPrefix = Array(#"{"ts":""#.utf8)
    static let levelPrefix = Array(#"","level":""#.utf8)
    static let componentPrefix = Array(#"","component":"#.utf8)
    static let eventPrefix = Array(#","event":"#.utf8)

    static func render(_ v: Any) -> String {
        switch v {
        case let b as Bool: return b ? "true" : "false"
        case let i as any BinaryInteger: return "\(i)"
        case let d as Double: return d.isFinite ? String(format: "%.6g", d) : "null"
        default: return quote(String(describing: v))
        }
    }

    static func quote(_ s: String) -> String { jsonQuote(s) }

    /// `2026-12-06T21:43:05.123Z` (UTC, milliseconds).
    static func appendTimestamp(to out: inout [UInt8]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let start = out.count
        func digits(_ v: Int, _ width: Int) {
            var div = 1
            for _ in 1..<width { div *= 10 }
            var v = v
            for _ in 0..<width { out.append(UInt8(0x30 + (v / div) % 10)); v %= div; div /= 10 }
        }
        digits(Int(tmv.tm_year) + 1900, 4); out.append(0x2D); digits(Int(tmv.tm_mon) + 1, 2); out.append(0x2D); digits(Int(tmv.tm_mday), 2)
        out.append(0x54); digits(Int(tmv.tm_hour), 2); out.append(0x3A); digits(Int(tmv.tm_min), 2); out.append(0x3A); digits(Int(tmv.tm_sec), 2)
        out.append(0x2E); digits(Int(ts.tv_nsec / 1_000_000), 3); out.append(0x5A)
        assert(out.count - start == 24, "an ISO 8601 timestamp with milliseconds is 24 bytes")
    }
}
