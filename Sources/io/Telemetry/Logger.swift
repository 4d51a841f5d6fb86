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
        func write(_ line: String) {
            lock.withLock { s in
                if s.captured != nil { s.captured!.append(line); return }
                let bytes = Array((line + "\n").utf8)
                _ = bytes.withUnsafeBytes { Foundation.write(s.fd, $0.baseAddress, $0.count) }
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
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(level)\",\"component\":\(Self.quote(component)),\"event\":\(Self.quote(event))"
        for (k, v) in context { line += ",\(Self.quote(k)):\(Self.quote(v))" }
        for (k, v) in fields { line += ",\(Self.quote(k)):\(Self.render(v))" }
        line += "}"
        sink.write(line)
    }

    static func render(_ v: Any) -> String {
        switch v {
        case let b as Bool: return b ? "true" : "false"
        case let i as any BinaryInteger: return "\(i)"
        case let d as Double: return d.isFinite ? String(format: "%.6g", d) : "null"
        default: return quote(String(describing: v))
        }
    }

    static func quote(_ s: String) -> String { jsonQuote(s) }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                      tmv.tm_hour, tmv.tm_min, tmv.tm_sec, Int(ts.tv_nsec / 1_000_000))
    }
}
