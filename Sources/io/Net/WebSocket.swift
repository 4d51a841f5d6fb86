import Synchronization

/// What the application does with a WebSocket connection. The server calls these on a worker
/// thread, one at a time per connection and in order: `onOpen` first, then one `onText` or
/// `onBinary` per message as received, then `onClose` exactly once. A callback may block
/// briefly; while it does, later messages from that client wait (and past
/// `WebSocketLimits.maxQueuedMessages` the server stops reading from it).
public struct WebSocketHandler: Sendable {
    public var onOpen: @Sendable (WebSocket) -> Void
    public var onText: @Sendable (WebSocket, String) -> Void
    /// nil refuses binary messages: the connection is closed with 1003 (unsupported data).
    public var onBinary: (@Sendable (WebSocket, [UInt8]) -> Void)?
    /// The peer's close code when it sent a close frame (1005 if it carried none); otherwise
    /// the code the server closed with (protocol error, timeout, slow client, shutdown);
    /// 1006 when the TCP connection simply ended.
    public var onClose: @Sendable (WebSocket, WebSocketCloseCode) -> Void

    public init(onOpen: @escaping @Sendable (WebSocket) -> Void = { _ in },
                onText: @escaping @Sendable (WebSocket, String) -> Void,
                onBinary: (@Sendable (WebSocket, [UInt8]) -> Void)? = nil,
                onClose: @escaping @Sendable (WebSocket, WebSocketCloseCode) -> Void = { _, _ in }) {
        self.onOpen = onOpen; self.onText = onText; self.onBinary = onBinary; self.onClose = onClose
    }
}

/// The application's handle on one server-side WebSocket connection. Every method may be
/// called from any thread: frames are encoded on the caller's thread and handed to the
/// connection's event loop, so sends from one thread go out in the order they were made.
/// Once the connection starts closing (either side) `isOpen` is false and sends are ignored.
public final class WebSocket: Sendable, CustomStringConvertible {
    /// Unique among the connections of one server.
    public let id: UInt64
    /// The peer's address, for logs.
    public let remote: String
    /// The request that asked for the upgrade (target, query, headers such as auth or origin).
    public let request: HTTPRequest
    public var path: String { request.path }
    public var headers: [(name: String, value: String)] { request.headers }
    public func header(_ name: String) -> String? { request.header(name) }

    private let loop: EventLoop
    private let connection: LoopConfinedReference<WebSocketConnection>
    private let open = Atomic<Bool>(true)

    init(id: UInt64, request: HTTPRequest, loop: EventLoop, connection: LoopConfinedReference<WebSocketConnection>) {
        self.id = id
        self.remote = request.remote
        self.request = request
        self.loop = loop
        self.connection = connection
    }

    public var isOpen: Bool { open.load(ordering: .acquiring) }

    public var description: String { "WebSocket #\(id) \(remote) \(path)" }

    public func send(text: String) {
        send(WebSocketFrame(opcode: .text, payload: Array(text.utf8)))
    }

    public func send(binary: [UInt8]) {
        send(WebSocketFrame(opcode: .binary, payload: binary))
    }

    /// Starts the close handshake: sends a close frame, then waits (up to
    /// `WebSocketLimits.closeTimeoutMillis`) for the client's before dropping the TCP connection.
    /// A code that may not appear on the wire (1005, 1006, unassigned ranges) is sent as 1000.
    public func close(code: WebSocketCloseCode = .normal, reason: String = "") {
        guard isOpen else { return }
        let code = code.isValidOnTheWire ? code : .normal
        let connection = self.connection
        loop.execute { connection.value?.close(code: code, reason: reason) }
    }

    private func send(_ frame: WebSocketFrame) {
        guard isOpen else { return }
        let bytes = frame.encoded()
        let connection = self.connection
        loop.execute { connection.value?.sendFromApplication(bytes) }
    }

    /// Called on the loop when the connection starts closing.
    func markClosed() { open.store(false, ordering: .releasing) }
}

/// A weak reference that crosses threads but is dereferenced only on its object's event loop.
final class LoopConfinedReference<T: AnyObject>: @unchecked Sendable {
    weak var value: T?
    init() {}
}
