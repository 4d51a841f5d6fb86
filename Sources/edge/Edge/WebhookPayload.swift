import ByteCodec
import Chain
import Net
import WebhookEvents
import Webhooks

/// The bodies webhooks POST, in the webhook's format:
///
///   json       one event's envelope `{type, id, webhook, chainId, block: {number, hash},
///              removed, data}`; with batches of more than one, `{type: "batch", webhook,
///              events: [envelope, …]}`
///   slack      an incoming-webhook message `{"text": …}`, a line per event (Slack's
///              documented minimum)
///   pagerduty  an Events API v2 alert, one event a request: `trigger` for an event and
///              `resolve` for its retraction, both with the event's id as `dedup_key`; the
///              envelope in `custom_details`; the routing key is the URL's `routing_key`
///
/// An event's id names the webhook, the block (number and hash) and the event's place among
/// the webhook's events of that block, so a retraction carries its original's id and a
/// receiver deduplicates re-sent events by it.
enum WebhookPayload {
    static func eventId(_ hook: Webhook, _ e: StreamEvent) -> String {
        "evt_\(OrgAdmin.idText(hook.id))_\(e.block)_\(e.hash.hex.dropFirst(2).prefix(16))_\(e.index)"
    }

    /// The Standard Webhooks message id: stable for the same events, so a retry (or the next
    /// deliverer after a failover) sends the same id.
    static func messageId(_ hook: Webhook, _ events: [StreamEvent]) -> String {
        precondition(!events.isEmpty, "a message carries events")
        let first = eventId(hook, events[0])
        return events.count == 1 ? first : "msg_" + first.dropFirst(4) + "_n\(events.count)"
    }

    static func envelope(_ hook: Webhook, _ e: StreamEvent) -> JSONValue {
        .object(["type": .string(hook.event.name), "id": .string(eventId(hook, e)), "webhook": .string(OrgAdmin.idText(hook.id)),
                 "chainId": .number(String(hook.chainId)), "block": .object(["number": .number(String(e.block)), "hash": .string(e.hash.hex)]),
                 "removed": .bool(e.removed), "data": e.data])
    }

    /// `envelope` serialized around the event's data already serialized (the same bytes).
    static func envelopeBytes(_ hook: Webhook, _ e: StreamEvent) -> [UInt8] {
        var out = Array("{\"type\":\"\(hook.event.name)\",\"id\":\"\(eventId(hook, e))\",\"webhook\":\"\(OrgAdmin.idText(hook.id))\",\"chainId\":\(hook.chainId),\"block\":{\"number\":\(e.block),\"hash\":\"\(e.hash.hex)\"},\"removed\":\(e.removed),\"data\":".utf8)
        out += e.json
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func body(_ hook: Webhook, _ events: [StreamEvent]) -> [UInt8] {
        precondition(!events.isEmpty, "a body carries events")
        switch hook.format {
        case .json:
            if hook.batchMaxEvents == 1, events.count == 1 { return envelopeBytes(hook, events[0]) }
            var out = Array("{\"type\":\"batch\",\"webhook\":\"\(OrgAdmin.idText(hook.id))\",\"events\":[".utf8)
            out.reserveCapacity(events.reduce(out.count + 2) { $0 + $1.json.count + 200 })
            for (i, e) in events.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += envelopeBytes(hook, e)
            }
            out += Array("]}".utf8)
            return out
        case .slack:
            var lines = events.prefix(20).map { line(hook, $0) }
            if events.count > 20 { lines.append("… and \(events.count - 20) more") }
            return Array(JSON.serialize(.object(["text": .string(lines.joined(separator: "\n"))])).utf8)
        case .pagerDuty:
            let resolve = events.allSatisfy(\.removed)
            return Array(JSON.serialize(.object([
                "routing_key": .string(routingKey(hook.url) ?? ""), "event_action": .string(resolve ? "resolve" : "trigger"),
                "dedup_key": .string(eventId(hook, events[0])),
                "payload": .object(["summary": .string(String(line(hook, events[0]).prefix(1024))), "source": .string("infrastack chain \(hook.chainId)"),
                                    "severity": .string("info"), "custom_details": envelope(hook, events[0])]),
            ])).utf8)
        }
    }

    static func line(_ hook: Webhook, _ e: StreamEvent) -> String {
        let what: String
        switch hook.event {
        case .newBlock: what = "block \(e.block)"
        case .newTx: what = "transaction \(e.data["transaction"]?["hash"]?.stringValue ?? "?") in block \(e.block)"
        case .contractEvent:
            let name = e.data["decoded"]?["event"]?.stringValue ?? "log"
            what = "\(name) from \(e.data["address"]?.stringValue ?? "?") in block \(e.block)"
        case .stateChange: what = "state of \(e.data["address"]?.stringValue ?? "?") changed in block \(e.block)"
        }
        return "InfraStack \(hook.name): \(e.removed ? "retracted (reorg): " : "")\(what) on chain \(hook.chainId)"
    }

    /// PagerDuty's integration key, from the destination's query.
    static func routingKey(_ url: String) -> String? {
        guard let q = url.firstIndex(of: "?") else { return nil }
        for pair in url[url.index(after: q)...].split(separator: "&") where pair.hasPrefix("routing_key=") {
            let v = pair.dropFirst("routing_key=".count)
            return v.isEmpty ? nil : String(v)
        }
        return nil
    }

    static func test(_ hook: Webhook, id: String, nowMillis: UInt64, node: UInt64) -> [UInt8] {
        switch hook.format {
        case .slack:
            return Array(JSON.serialize(.object(["text": .string("InfraStack: test delivery of webhook \(hook.name) (\(hook.event.name) on chain \(hook.chainId)) from node \(node)")])).utf8)
        case .pagerDuty:
            return Array(JSON.serialize(.object([
                "routing_key": .string(routingKey(hook.url) ?? ""), "event_action": .string("trigger"), "dedup_key": .string(id),
                "payload": .object(["summary": .string("InfraStack: test delivery of webhook \(hook.name) from node \(node)"),
                                    "source": .string("infrastack chain \(hook.chainId)"), "severity": .string("info")]),
            ])).utf8)
        case .json:
            return Array(JSON.serialize(.object([
                "type": .string("webhook.test"), "id": .string(id), "webhook": .string(OrgAdmin.idText(hook.id)),
                "chainId": .number(String(hook.chainId)), "timestamp": .string(OrgAdmin.iso8601(nowMillis)),
                "data": .object(["message": .string("a test delivery from node \(node); events of type \(hook.event.name) look like this envelope")]),
            ])).utf8)
        }
    }
}
