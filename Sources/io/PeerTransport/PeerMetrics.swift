import Telemetry

extension PeerTransport {
    /// Peer ids label every series; a cluster has a handful of members, and the bound keeps a
    /// long history of membership changes from growing the series without limit.
    static let maxPeerSeries = 64

    /// Per-peer series on `registry`, read from the transport's own records at each snapshot,
    /// so sending and receiving pay nothing beyond the counts they already keep.
    public func registerMetrics(in registry: MetricsRegistry) {
        let peer = [MetricLabel.firstSeen("peer", max: Self.maxPeerSeries)]
        let state = [MetricLabel.firstSeen("peer", max: Self.maxPeerSeries), .allowed("state", PeerStatus.LinkState.self)]
        func collect(_ name: String, _ help: String, _ kind: MetricKind, _ value: @escaping @Sendable (PeerStatus) -> MetricValue) {
            registry.collect(name, help: help, kind: kind, labels: peer) { [weak self] in
                guard let self else { return [] }
                return self.status().sorted { $0.key < $1.key }.map { MetricSeries(labels: [String($0.key)], value: value($0.value)) }
            }
        }
        collect("peer_outbound_connected", "1 while this node's link to the peer has completed its handshake", .gauge) { .gauge($0.connected ? 1 : 0) }
        collect("peer_inbound_connected", "1 while the peer's link to this node has completed its handshake", .gauge) { .gauge($0.inboundConnected ? 1 : 0) }
        collect("peer_queued_messages", "Messages waiting for the peer's link", .gauge) { .gauge(Int64($0.queuedMessages)) }
        collect("peer_queued_bytes", "Payload bytes waiting for the peer's link", .gauge) { .gauge(Int64($0.queuedBytes)) }
        collect("peer_sent_messages_total", "Messages handed to the peer's socket", .counter) { .counter($0.sentMessages) }
        collect("peer_received_messages_total", "Messages received from the peer", .counter) { .counter($0.receivedMessages) }
        collect("peer_sent_bytes_total", "Frame bytes of the messages handed to the peer's socket", .counter) { .counter($0.sentBytes) }
        collect("peer_received_bytes_total", "Frame bytes of the messages received from the peer", .counter) { .counter($0.receivedBytes) }
        collect("peer_dropped_messages_total", "Messages refused by a full queue or discarded with a failed link", .counter) { .counter($0.droppedMessages) }
        collect("peer_connections_total", "Outbound handshakes completed with the peer", .counter) { .counter($0.connectionsEstablished) }
        collect("peer_reconnect_attempts", "Failed attempts since the last successful handshake", .gauge) { .gauge(Int64($0.reconnectAttempts)) }
        registry.collect("peer_link_state", help: "1 for the state the link to the peer is in", kind: .gauge, labels: state) { [weak self] in
            guard let self else { return [] }
            return self.status().sorted { $0.key < $1.key }.flatMap { id, s in
                PeerStatus.LinkState.allCases.map { MetricSeries(labels: [String(id), $0.rawValue], value: .gauge(s.linkState == $0 ? 1 : 0)) }
            }
        }
        registry.collect("peer_inbound_refused_total", help: "Inbound connections refused before any handshake (flood protection)",
                         kind: .counter, labels: []) { [weak self] in
            guard let self else { return [] }
            return [MetricSeries(value: .counter(self.refusedInbound))]
        }
    }
}
