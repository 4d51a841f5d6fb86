#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A failed socket call: the operation, errno and its text, and the peer when known.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32
    public let detail: String

    public init(_ operation: String, errno: Int32 = Glibc.errno, detail: String = "") {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let text = String(cString: strerror(errno))
        return detail.isEmpty ? "\(operation) failed: \(text) (errno \(errno))" : "\(operation) \(detail) failed: \(text) (errno \(errno))"
    }
}

/// Something that is not a system-call failure: timeouts, bad addresses, protocol violations.
public struct NetError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
