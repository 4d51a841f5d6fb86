import Chain
import Foundation
import Net
import Synchronization
import NodeConfig
import Webhooks

/// One signed POST to a webhook's receiver, and what came of it. Destinations on private,
/// loopback or link-local networks are refused unless the node allows them
/// (`webhooks.allowPrivateDestinations`): a tenant must not make the cluster reach inside
/// its own network (server-side request forgery). The check resolves the host just before
/// sending; a name that changes its answer between the check and the connection is the one
/// gap left.
struct WebhookSender: Sendable {
    let allowPrivate: Bool
    var timeoutMillis = 5000
    /// For https:// receivers: nil is the system trust store.
    var tls: TLSConfiguration? = nil

    init(allowPrivate: Bool, timeoutMillis: Int = 5000) { self.allowPrivate = allowPrivate; self.timeoutMillis = timeoutMillis }
    init(_ config: NodeConfig) {
        self.init(allowPrivate: config.webhookPrivateDestinations, timeoutMillis: config.webhookTimeoutMillis)
        if let ca = config.webhookCAFile {
            var c = TLSConfiguration(role: .client)
            c.caFile = ca
            tls = c
        }
    }

    static let resolved = Mutex<[String: (hosts: [String], until: UInt64)]>([:])
    static let resolvedMillis: UInt64 = 30_000

    /// Kept-alive connections to receivers, by URL.
    static let connections = IdlePool<HTTPClient>(capacityPerKey: 4)

    static let privateNetworks = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                                  "192.168.0.0/16", "::/128", "::1/128", "fc00::/7", "fe80::/10"].compactMap(CIDR.init)

    /// Why `url` cannot be a webhook's destination, or nil (`resolve` false: the syntax only).
    func problem(_ url: String, resolve: Bool = true) -> String? {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), let u = try? HTTPURL(parsing: url) else {
            return "url must be an http:// or https:// URL"
        }
        guard u.user == nil else { return "url may not carry user:password (use a token in the path or query)" }
        guard resolve, !allowPrivate else { return nil }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let key = u.address.description
        let hosts: [String]
        if let known = Self.resolved.withLock({ $0[key] }), now < known.until {
            hosts = known.hosts
        } else {
            do { hosts = try u.address.resolvedHosts() } catch { return "url: \(error)" }
            // A name's answers, kept a little while: a resolver call per POST would be most of a delivery's cost.
            Self.resolved.withLock { r in
                if r.count > 10_000 { r.removeAll() }
                r[key] = (hosts, now + Self.resolvedMillis)
            }
        }
        if let inside = hosts.first(where: { h in Self.privateNetworks.contains { $0.contains(h) } }) {
            return "url: \(u.host) is on a private network (\(inside)); this cluster does not send webhooks there (webhooks.allowPrivateDestinations)"
        }
        return nil
    }

    struct Result: Sendable {
        var status: Int
        var latencyMillis: Int
        var error: String
        var retryAfterSeconds: Int?
        var ok: Bool { (200..<300).contains(status) }
    }

    /// Signs `body` as message `id` with every secret the webhook signs with now, and POSTs it.
    func send(_ hook: Webhook, id: String, body: [UInt8], nowMillis: UInt64) -> Result {
        send(to: hook.url, secrets: hook.signingSecrets(nowMillis: nowMillis), id: id, body: body, nowMillis: nowMillis)
    }

    /// Signs `body` as message `id` with `secrets` (Standard Webhooks) and POSTs it to `url`:
    /// webhook deliveries and alert notifications alike.
    func send(to url: String, secrets: [String], id: String, body: [UInt8], nowMillis: UInt64) -> Result {
        precondition(!secrets.isEmpty, "every delivery is signed")
        if let why = problem(url) { return Result(status: 0, latencyMillis: 0, error: why) }
        let timestamp = nowMillis / 1000
        let headers = [("Content-Type", "application/json"), ("User-Agent", "infrastack-webhooks"), ("webhook-id", id),
                       ("webhook-timestamp", String(timestamp)),
                       ("webhook-signature", StandardWebhooks.signature(secrets: secrets, id: id, timestamp: timestamp, body: body))]
        let started = Date()
        do {
            // "/" is the URL itself, path and query included. Connections are kept alive per
            // URL; one that failed is dropped, not given back.
            let client = try Self.connections.take(url) { try HTTPClient(url: url, timeoutMillis: timeoutMillis, tls: tls) }
            client.timeoutMillis = timeoutMillis
            let r = try client.request("POST", "/", headers: headers, body: body)
            Self.connections.giveBack(client, url)
            let latency = Int(Date().timeIntervalSince(started) * 1000)
            let retry = r.headers.first { $0.name.lowercased() == "retry-after" }.flatMap { Int($0.value) }
            return Result(status: r.status, latencyMillis: latency, error: (200..<300).contains(r.status) ? "" : "the receiver answered \(r.status)",
                          retryAfterSeconds: retry)
        } catch {
            return Result(status: 0, latencyMillis: Int(Date().timeIntervalSince(started) * 1000), error: "\(error)")
        }
    }
}
