import Net

/// One peer as the transport sees it, for /status and for tests.
public struct PeerStatus: Sendable, Equatable {
    public var address: SocketAddress
    /// This node's outbound connection to the peer has completed the handshake (messages can flow out).
    public var connected: Bool
    /// The peer's connection to this node has completed the handshake (messages can flow in).
    public var inboundConnected: Bool
    public var queuedMessages: Int
    public var queuedBytes: Int
    /// Messages refused because the queue was full, or discarded when a connection failed.
    public var droppedMessages: UInt64
    /// Messages handed to the socket (not necessarily delivered: a connection that dies loses its unsent tail).
    public var sentMessages: UInt64
    public var receivedMessages: UInt64
    public var lastError: String?
    /// Failed connection attempts since the last successful handshake (drives the backoff).
    public var reconnectAttempts: Int
}
