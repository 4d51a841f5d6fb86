#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CEpoll

/// Thin, typed wrappers over the socket system calls. Every failure carries the
/// operation and errno text.
public enum Socket {
    static func setNonBlocking(_ fd: Int32) throws(SocketError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw SocketError("fcntl(O_NONBLOCK)") }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A listening socket bound to the address (port 0 picks a free port).
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws -> Int32 {
        try address.withSockAddr { sa, len, family in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SocketError("socket") }
            setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            guard bind(fd, sa, len) == 0 else {
                let e = SocketError("bind", detail: address.description); close(fd); throw e
            }
            guard Glibc.listen(fd, backlog) == 0 else {
                let e = SocketError("listen", detail: address.description); close(fd); throw e
            }
            try setNonBlocking(fd)
            return fd
        }
    }

    /// The local address a socket is bound to (to learn the port picked for port 0).
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress.from(storage) : nil
    }

    /// Accepts one pending connection, non-blocking; nil when none is pending.
    static func accept(_ listener: Int32) throws(SocketError) -> (Int32, SocketAddress)? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                infrastack_accept4(listener, $0, &len, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
        }
        if fd < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED { return nil }
            throw SocketError("accept")
        }
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return (fd, SocketAddress.from(storage))
    }

    /// Starts a non-blocking connect; the caller waits for writability and checks `pendingError`.
    static func startConnect(to address: SocketAddress) throws -> Int32 {
        try address.withSockAddr { sa, len, family in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SocketError("socket") }
            setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            if connect(fd, sa, len) != 0 && errno != EINPROGRESS {
                let e = SocketError("connect", detail: "to \(address)"); close(fd); throw e
            }
            return fd
        }
    }

    static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    /// Blocking connect with a timeout, for clients that want plain blocking I/O.
    public static func connectBlocking(to address: SocketAddress, timeoutMillis: Int32) throws -> Int32 {
        let fd = try startConnect(to: address)
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let rc = poll(&p, 1, timeoutMillis)
        if rc == 0 { close(fd); throw NetError("connect to \(address) timed out after \(timeoutMillis) ms") }
        let err = pendingError(fd)
        if rc < 0 || err != 0 {
            let e = SocketError("connect", errno: rc < 0 ? errno : err, detail: "to \(address)"); close(fd); throw e
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        return fd
    }

    /// Sets send and receive timeouts on a blocking socket.
    public static func setTimeouts(_ fd: Int32, millis: Int) {
        var tv = timeval(tv_sec: millis / 1000, tv_usec: (millis % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
