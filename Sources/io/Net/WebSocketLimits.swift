/// Limits and timers for server-side WebSocket connections. Every limit ends the connection
/// with the close code RFC 6455 assigns to it.
public struct WebSocketLimits: Sendable {
    /// Largest message (after reassembling fragments) accepted from a client; beyond it: close 1009.
    public var maxMessageBytes = 4 * 1024 * 1024
    /// The server pings a client it has not heard from for this long.
    public var pingIntervalMillis = 20_000
    /// A client silent this long (no frame at all, not even a pong) is closed with 1011.
    public var idleTimeoutMillis = 60_000
    /// After sending a close frame, how long to wait for the client's close before dropping the TCP connection.
    public var closeTimeoutMillis = 5_000
    /// Slow-client policy: bytes queued for a client that is not reading. Beyond it the server
    /// stops sending that client messages and closes it with 1008 "client too slow", rather than
    /// buffering without bound; the close frame is queued behind the backlog and the TCP
    /// connection is dropped after `closeTimeoutMillis` if the client still does not read it.
    /// The kernel's socket buffers come first, so this counts only what they could not take;
    /// keep it well above the largest message the application sends.
    public var maxPendingWriteBytes = 8 * 1024 * 1024
    /// Inbound backpressure: messages received but not yet handled by the application. Beyond it
    /// the server stops reading from that client until the handler catches up.
    public var maxQueuedMessages = 64

    public init() {}
}
