#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CEpoll

/// A non-blocking TCP connection owned by one event loop; use it only on that loop.
///
/// Writes are queued and flushed as the socket allows; `pendingWriteBytes` lets a
/// producer apply backpressure (stop producing above a high-water mark and resume on
/// `onDrained`). Reads are delivered as they arrive through `onRead`.
public final class TCPConnection: @unchecked Sendable {
    public let loop: EventLoop
    public let remote: SocketAddress
    public private(set) var fd: Int32
    public private(set) var isClosed = false

    /// Bytes received; called on the loop.
    public var onRead: (([UInt8]) -> Void)?
    /// Called once when the connection closes, with the reason when it was an error.
    public var onClose: ((Error?) -> Void)?
    /// Called when a write backlog (the socket pushed back) has been fully flushed.
    public var onDrained: (() -> Void)?
    /// Called once when the peer shuts down its sending side (recv() returns 0). When set, the
    /// connection stays open for writing — a half-close (RFC 9293 §3.6; RFC 9112 §9.6) after
    /// which the owner answers what it has and closes. When nil, end of input closes at once.
    public var onEndOfInput: (() -> Void)?
    /// The peer has shut down its sending side; nothing more will be read.
    public private(set) var inputEnded = false

    /// The TLS session carrying this connection, once `startTLS` was called.
    public private(set) var tls: TLSSession?
    /// Plaintext written before the TLS handshake completed, sent once it has.
    private var plaintextBeforeHandshake: [[UInt8]] = []
    private var plaintextBeforeHandshakeBytes = 0

    private var writeQueue: [[UInt8]] = []
    private var writeOffset = 0
    private var rawPendingBytes = 0
    /// Bytes queued for this connection and not yet handed to the socket.
    public var pendingWriteBytes: Int { rawPendingBytes + plaintextBeforeHandshakeBytes }
    private var wantWritable = false
    private var readPaused = false
    private var closeAfterFlush = false
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(loop: EventLoop, fd: Int32, remote: SocketAddress) {
        self.loop = loop
        self.fd = fd
        self.remote = remote
    }

    /// Registers with the loop and starts reading.
    func activate() throws(SocketError) {
        try loop.register(fd: fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue) { [weak self] ev in self?.handle(ev) }
    }

    /// Connects to `address` on `loop`; calls `completion` on the loop with the connection or the error.
    public static func connect(to address: SocketAddress, on loop: EventLoop, timeoutMillis: Int,
                               completion: @escaping (Result<TCPConnection, Error>) -> Void) {
        loop.assertInLoop()
        let fd: Int32
        do { fd = try Socket.startConnect(to: address) } catch { completion(.failure(error)); return }
        var finished = false
        var timer: UInt64 = 0
        func finish(_ r: Result<TCPConnection, Error>) {
            guard !finished else { return }
            finished = true
            loop.cancelTimer(timer)
            completion(r)
        }
        timer = loop.schedule(afterMillis: timeoutMillis) {
            guard !finished else { return }
            loop.unregister(fd: fd); Glibc.close(fd)
            finish(.failure(NetError("connect to \(address) timed out after \(timeoutMillis) ms")))
        }
        do {
            try loop.register(fd: fd, events: EPOLLOUT.rawValue) { _ in
                loop.unregister(fd: fd)
                let err = Socket.pendingError(fd)
                if err != 0 {
                    Glibc.close(fd)
                    finish(.failure(SocketError("connect", errno: err, detail: "to \(address)")))
                    return
                }
                let c = TCPConnection(loop: loop, fd: fd, remote: address)
                do { try c.activate(); finish(.success(c)) } catch { Glibc.close(fd); finish(.failure(error)) }
            }
        } catch {
            Glibc.close(fd)
            finish(.failure(error))
        }
    }

    /// Queues bytes for the peer: plaintext, encrypted first when TLS is on.
    public func write(_ bytes: [UInt8]) {
        loop.assertInLoop()
        guard !isClosed, !bytes.isEmpty else { return }
        guard let tls else { writeRaw(bytes); return }
        guard tls.handshakeDone else {
            plaintextBeforeHandshake.append(bytes)
            plaintextBeforeHandshakeBytes += bytes.count
            return
        }
        do { try tls.write(bytes) } catch { close(error: error); return }
        writeRaw(tls.takeOutput())
    }

    private func writeRaw(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        writeQueue.append(bytes)
        rawPendingBytes += bytes.count
        flush()
    }

    /// Runs TLS over this connection from now on: `onRead` and `write` carry plaintext,
    /// what is written before the handshake completes waits for it, and a failed
    /// handshake closes the connection with the TLSError (naming the reason).
    public func startTLS(_ session: TLSSession) {
        loop.assertInLoop()
        precondition(tls == nil, "TLS starts once per connection")
        precondition(!session.handshakeDone, "a fresh TLS session")
        tls = session
        advanceHandshake()
    }

    /// Drives the handshake with what has arrived; true once it is done (and the connection open).
    @discardableResult
    private func advanceHandshake() -> Bool {
        guard let tls, !isClosed else { return false }
        let done: Bool
        do { done = try tls.handshake() } catch {
            writeRaw(tls.takeOutput())   // the alert, when there is one
            close(error: error)
            return false
        }
        writeRaw(tls.takeOutput())
        guard done else { return false }
        let early = plaintextBeforeHandshake
        plaintextBeforeHandshake.removeAll()
        plaintextBeforeHandshakeBytes = 0
        for chunk in early where !isClosed { write(chunk) }
        return !isClosed
    }

    /// Ciphertext from the socket: on through the handshake, then plaintext to `onRead`.
    private func receivedTLS(_ tls: TLSSession, _ bytes: [UInt8]) {
        tls.feed(bytes)
        if !tls.handshakeDone { guard advanceHandshake() else { return } }
        let plain: [UInt8]
        do { plain = try tls.read() } catch { close(error: error); return }
        writeRaw(tls.takeOutput())   // post-handshake messages the read produced
        if !plain.isEmpty { onRead?(plain) }
        if tls.peerClosed && !isClosed && !inputEnded { endOfInput() }
    }

    private func endOfInput() {
        if let endOfInput = onEndOfInput {
            inputEnded = true
            updateInterest()
            endOfInput()
        } else {
            close(error: nil)
        }
    }

    /// Stops delivering reads (backpressure towards the peer) until `resumeReading`.
    public func pauseReading() {
        guard !readPaused, !isClosed else { return }
        readPaused = true
        updateInterest()
    }

    public func resumeReading() {
        guard readPaused, !isClosed else { return }
        readPaused = false
        updateInterest()
    }

    /// Closes after everything queued has been written (with TLS, after a close_notify).
    public func closeWhenFlushed() {
        if let tls, tls.handshakeDone, !isClosed {
            tls.close()
            writeRaw(tls.takeOutput())
        }
        if rawPendingBytes == 0 { close(error: nil) } else { closeAfterFlush = true }
    }

    public func close(error: Error? = nil) {
        guard !isClosed else { return }
        isClosed = true
        loop.unregister(fd: fd)
        Glibc.close(fd)
        fd = -1
        writeQueue.removeAll()
        rawPendingBytes = 0
        plaintextBeforeHandshake.removeAll()
        plaintextBeforeHandshakeBytes = 0
        let cb = onClose
        onClose = nil; onRead = nil; onDrained = nil; onEndOfInput = nil
        cb?(error)
    }

    private func updateInterest() {
        // After end of input, EPOLLIN and EPOLLRDHUP would stay ready forever (level-triggered):
        // ask only for writability; hang-ups and errors are always reported.
        var ev: UInt32 = 0
        if !inputEnded {
            ev |= EPOLLRDHUP.rawValue
            if !readPaused { ev |= EPOLLIN.rawValue }
        }
        if wantWritable { ev |= EPOLLOUT.rawValue }
        loop.modify(fd: fd, events: ev)
    }

    private func handle(_ events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 { flush() }
        if isClosed { return }
        if inputEnded {
            if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { close(error: SocketError("socket", errno: Socket.pendingError(fd))) }
            return
        }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && !readPaused {
            readAvailable()
        } else if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            close(error: SocketError("socket", errno: Socket.pendingError(fd)))
        }
    }

    private func readAvailable() {
        while !isClosed && !readPaused {
            let n = readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                if let tls { receivedTLS(tls, Array(readBuffer[0..<n])) } else { onRead?(Array(readBuffer[0..<n])) }
                if n < readBuffer.count { return }
            } else if n == 0 {
                endOfInput()
                return
            } else {
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                if errno == EINTR { continue }
                close(error: SocketError("recv", detail: "from \(remote)"))
                return
            }
        }
    }

    private func flush() {
        while !writeQueue.isEmpty && !isClosed {
            let chunk = writeQueue[0]
            let n = chunk.withUnsafeBytes { send(fd, $0.baseAddress! + writeOffset, chunk.count - writeOffset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    if !wantWritable { wantWritable = true; updateInterest() }
                    return
                }
                if errno == EINTR { continue }
                close(error: SocketError("send", detail: "to \(remote)"))
                return
            }
            writeOffset += n
            rawPendingBytes -= n
            if writeOffset == chunk.count { writeQueue.removeFirst(); writeOffset = 0 }
        }
        if isClosed { return }
        // onDrained reports the end of a backlog, so it fires only when the socket had pushed back;
        // firing it from every write() would re-enter the writer.
        let hadBacklog = wantWritable
        if wantWritable { wantWritable = false; updateInterest() }
        if closeAfterFlush { close(error: nil); return }
        if hadBacklog { onDrained?() }
    }
}

/// Accepts connections on a loop and hands each to `onAccept`.
public final class TCPListener: @unchecked Sendable {
    public let loop: EventLoop
    public let fd: Int32
    public let address: SocketAddress
    private var closed = false

    /// Binds immediately (so the port is known and errors surface at start); accepting begins with `start`.
    public init(address: SocketAddress, loop: EventLoop) throws {
        self.loop = loop
        fd = try Socket.listen(on: address)
        self.address = Socket.localAddress(fd) ?? address
    }

    /// Accepts on this listener's loop. Each connection lives on the loop `loopForNext` names
    /// (asked on this loop, once per connection; this loop when nil) and `onAccept` runs there.
    public func start(loopForNext: (() -> EventLoop)? = nil, onAccept: @escaping @Sendable (TCPConnection) -> Void) {
        let pick = UncheckedBox(loopForNext)
        loop.execute { [self] in
            do {
                try loop.register(fd: fd, events: EPOLLIN.rawValue) { [weak self] _ in
                    guard let self else { return }
                    while !self.closed, let (cfd, remote) = try? Socket.accept(self.fd) {
                        let target = pick.value?() ?? self.loop
                        target.execute {
                            let c = TCPConnection(loop: target, fd: cfd, remote: remote)
                            do { try c.activate(); onAccept(c) } catch { Glibc.close(cfd) }
                        }
                    }
                }
            } catch {
                // Registration fails only if the fd is invalid, which init rules out.
                preconditionFailure("listener registration failed: \(error)")
            }
        }
    }

    public func close() {
        loop.execute { [self] in
            guard !closed else { return }
            closed = true
            loop.unregister(fd: fd)
            Glibc.close(fd)
        }
    }
}
