import Alerts
import Chain

/// The bodies alert notifications POST, by channel:
///
///   webhook    `{type: "alert.firing" | "alert.resolved", id, cluster, alert: {id, name,
///              condition, severity}, incident: {id, chain, summary, value, openedAt, resolvedAt}}`
///   slack      an incoming-webhook message `{"text": …}`
///   pagerduty  an Events API v2 event: `trigger` when it fires, `resolve` when it ends, both
///              with the incident's `dedup_key`, so PagerDuty keeps one incident for it
///
/// The Standard Webhooks message id names the incident and the phase: a notification sent
/// again (a retry, or the next leader after a failover) carries the same id.
enum AlertPayload {
    struct Notice: Sendable {
        var rule: AlertRule
        var incidentId: String
        var chainId: UInt64
        var summary: String
        var value: Double
        var openedMillis: UInt64
        var resolvedMillis: UInt64?
        var phase: AlertIncident.Phase
    }

    static func notice(_ rule: AlertRule, _ i: AlertIncident, _ phase: AlertIncident.Phase) -> Notice {
        Notice(rule: rule, incidentId: OrgAdmin.idText(i.id), chainId: i.chainId, summary: i.summary,
               value: phase == .firing ? i.openValue : i.resolvedValue, openedMillis: i.openedMillis,
               resolvedMillis: i.isOpen ? nil : i.resolvedMillis, phase: phase)
    }

    static func messageId(_ n: Notice) -> String { "alert_\(n.incidentId)_\(n.phase.name)" }

    static func dedupKey(_ n: Notice, clusterId: String) -> String { "infrastack-\(clusterId)-incident-\(n.incidentId)" }

    static func body(_ kind: AlertChannel.Kind, _ n: Notice, clusterId: String) -> [UInt8] {
        let r = n.rule
        let state = n.phase == .firing ? "FIRING" : "RESOLVED"
        let line = "InfraStack [\(r.severity.name)] \(state): \(n.summary)" + (n.phase == .resolved ? " — now \(AlertCondition.number(AlertEvaluator.rounded(n.value)))" : "")
        switch kind {
        case .slack:
            return Array(JSON.serialize(.object(["text": .string(line)])).utf8)
        case .pagerDuty:
            let url = r.channels.first { $0.kind == .pagerDuty }?.url ?? ""
            let severity = r.severity == .critical ? "critical" : r.severity == .warning ? "warning" : "info"
            return Array(JSON.serialize(.object([
                "routing_key": .string(WebhookPayload.routingKey(url) ?? ""), "event_action": .string(n.phase == .firing ? "trigger" : "resolve"),
                "dedup_key": .string(dedupKey(n, clusterId: clusterId)),
                "payload": .object(["summary": .string(String(line.prefix(1024))), "source": .string("infrastack \(clusterId)"),
                                    "severity": .string(severity), "custom_details": envelope(n, clusterId: clusterId)]),
            ])).utf8)
        case .webhook:
            return Array(JSON.serialize(envelope(n, clusterId: clusterId)).utf8)
        }
    }

    static func envelope(_ n: Notice, clusterId: String) -> JSONValue {
        let r = n.rule
        var incident: JSONObject = ["id": .string(n.incidentId), "chain": n.chainId == 0 ? .null : .number(String(n.chainId)),
                                    "summary": .string(n.summary), "value": .number(AlertCondition.number(AlertEvaluator.rounded(n.value))),
                                    "openedAt": .string(OrgAdmin.iso8601(n.openedMillis))]
        incident["resolvedAt"] = n.resolvedMillis.map { .string(OrgAdmin.iso8601($0)) } ?? .null
        return .object(["type": .string("alert.\(n.phase.name)"), "id": .string(messageId(n)), "cluster": .string(clusterId),
                        "alert": .object(["id": .string(OrgAdmin.idText(r.id)), "org": .string(OrgAdmin.idText(r.org)), "name": .string(r.name),
                                          "condition": .string(r.condition.text), "severity": .string(r.severity.name)]),
                        "incident": .object(incident)])
    }
}
