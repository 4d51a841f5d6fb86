import Foundation
import Net
import Telemetry

/// Every request the pipeline answers, by surface and status class, and how long the
/// answer took (to the moment it was ready, a deferred one included). Handles are resolved
/// at start into a fixed grid, so counting a request takes no lock.
final class EdgeMetrics: Sendable {
    enum Surface: String, CaseIterable { case jsonrpc, graphql, rest, admin, node, metrics }
    /// 429 is its own class: rate-limit refusals are watched apart from other client errors.
    enum Code: String, CaseIterable { case c1xx = "1xx", c2xx = "2xx", c3xx = "3xx", c4xx = "4xx", c429 = "429", c5xx = "5xx" }

    private let requests: [[Counter]]
    private let durations: [Histogram]

    init(registry: MetricsRegistry) {
        let family = registry.counters("edge_requests_total", help: "HTTP requests answered, by surface and status class (429 apart from 4xx)",
                                       labels: [.allowed("surface", Surface.self), .allowed("code", Code.self)])
        let timing = registry.histograms("edge_request_duration_seconds", help: "From a request's arrival in the pipeline to its answer being ready, by surface",
                                         labels: [.allowed("surface", Surface.self)])
        requests = Surface.allCases.map { s in Code.allCases.map { family.labels(s.rawValue, $0.rawValue) } }
        durations = Surface.allCases.map { timing.labels($0.rawValue) }
        precondition(requests.count == Surface.allCases.count && durations.count == Surface.allCases.count, "one row per surface")
    }

    static func surface(_ route: EdgeRoute) -> Surface {
        switch route {
        case .admin: .admin
        case .read(.jsonRPC): .jsonrpc
        case .read(.graphQL): .graphql
        case .read(.rest): .rest
        case .node, .status: .node
        case .metrics: .metrics
        }
    }

    static func code(_ status: Int) -> Code {
        switch status {
        case 429: .c429
        case ..<200: .c1xx
        case 200..<300: .c2xx
        case 300..<400: .c3xx
        case 400..<500: .c4xx
        default: .c5xx
        }
    }

    func answered(_ route: EdgeRoute, status: Int, startedNanos: UInt64) {
        let s = Surface.allCases.firstIndex(of: Self.surface(route))!
        requests[s][Code.allCases.firstIndex(of: Self.code(status))!].increment()
        durations[s].observe(Double(DispatchTime.now().uptimeNanoseconds &- startedNanos) / 1e9)
    }
}
