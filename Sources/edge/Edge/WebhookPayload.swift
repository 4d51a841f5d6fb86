import ByteCodec
import Chain
import Webhooks

/// The bodies webhooks POST, in the webhook's format: `json` is the event envelope itself
/// (`{type, id, webhook, chainId, timestamp, data}`); `slack` an incoming-webhook message
/// (`{"text": …}`, Slack's documented minimum).
enum WebhookPayload {
    static func test(_ hook: Webhook, id: String, nowMillis: UInt64, node: UInt64) -> [UInt8] {
        switch hook.format {
        case .slack:
            return Array(JSON.serialize(.object(["text": .string("InfraStack: test delivery of webhook \(hook.name) (\(hook.event.name) on chain \(hook.chainId)) from node \(node)")])).utf8)
        case .json, .pagerDuty:
            return Array(JSON.serialize(.object([
                "type": .string("webhook.test"), "id": .string(id), "webhook": .string(OrgAdmin.idText(hook.id)),
                "chainId": .number(String(hook.chainId)), "timestamp": .string(OrgAdmin.iso8601(nowMillis)),
                "data": .object(["message": .string("a test delivery from node \(node); events of type \(hook.event.name) look like this envelope")]),
            ])).utf8)
        }
    }
}
