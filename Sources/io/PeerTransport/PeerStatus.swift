import Net

/// One peer as the transport sees it, for /status, metrics and tests.
public struct PeerStatus: Sendable, Equatable {
    /// Where this node's outbound link to the peer stands.
    public enum LinkState: String, Sendable, CaseIterable {
        /// Handshake done: messages flow out.
        case connected
        /// Dialing or in the handshake, with no failure since the last connection.
        case connecting
        /// The last attempts failed; waiting out the backoff before the next.
        case reconnecting
    }

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
    /// The frame bytes (headers included) of those sent and received messages.
    public var sentBytes: UInt64
    public var receivedBytes: UInt64
    public var lastError: String?
    /// Failed connection attempts since the last successful handshake (drives the backoff).
    public var reconnectAttempts: Int
    /// Outbound handshakes completed since start: more than one means the link was lost and re-established.
    public var connectionsEstablished: UInt64

    public init(address: SocketAddress, connected: Bool = false, inboundConnected: Bool = false, queuedMessages: Int = 0, queuedBytes: Int = 0,
                droppedMessages: UInt64 = 0, sentMessages: UInt64 = 0, receivedMessages: UInt64 = 0, sentBytes: UInt64 = 0, receivedBytes: UInt64 = 0,
                lastError: String? = nil, reconnectAttempts: Int = 0, connectionsEstablished: UInt64 = 0) {
        self.address = address
        self.connected = connected
        self.inboundConnected = inboundConnected
        self.queuedMessages = queuedMessages
        self.queuedBytes = queuedBytes
        self.droppedMessages = droppedMessages
        self.sentMessages = sentMessages
        self.receivedMessages = receivedMessages
        self.sentBytes = sentBytes
        self.receivedBytes = receivedBytes
        self.lastError = lastError
        self.reconnectAttempts = reconnectAttempts
        self.connectionsEstablished = connectionsEstablished
    }

    public var linkState: LinkState { connected ? .connected : reconnectAttempts > 0 ? .reconnecting : .connecting }
}
