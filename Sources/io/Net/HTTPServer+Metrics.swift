import Telemetry

extension HTTPServer {
    /// The server's own counts as series on `registry`, read at each snapshot: connections
    /// open, requests being handled, requests answered on the loop without a worker (see
    /// `InlineCheck`), and TLS handshakes that failed. One server per registry (the public
    /// listener); registering another replaces the first's series.
    public func registerMetrics(in registry: MetricsRegistry) {
        func collect(_ name: String, _ help: String, _ kind: MetricKind, _ value: @escaping @Sendable (HTTPServer) -> MetricValue) {
            registry.collect(name, help: help, kind: kind, labels: []) { [weak self] in
                guard let self else { return [] }
                return [MetricSeries(value: value(self))]
            }
        }
        collect("http_open_connections", "Open TCP connections of the HTTP listener, WebSocket ones included", .gauge) { .gauge(Int64($0.openConnections)) }
        collect("http_open_websockets", "Open WebSocket connections", .gauge) { .gauge(Int64($0.openWebSockets)) }
        collect("http_requests_in_flight", "HTTP requests taken and not yet answered", .gauge) { .gauge(Int64($0.inFlight.load(ordering: .relaxed))) }
        collect("http_inline_answers_total", "HTTP requests answered on the event loop without a worker thread", .counter) {
            .counter(UInt64($0.inlineAnswers.load(ordering: .relaxed)))
        }
        collect("http_tls_handshake_failures_total", "TLS handshakes that failed or did not finish in time", .counter) {
            .counter(UInt64($0.tlsHandshakeFailures.load(ordering: .relaxed)))
        }
    }
}
