import ByteCodec
import Chain
import Foundation
import Net
import StateMachine
import Storage
import Tenancy
import WebhookEvents
import Webhooks

/// Webhooks, the admin endpoints behind `infrastack webhook`. A webhook belongs to an
/// organisation and one of its chains. Any member may create one; admins manage all of the
/// organisation's, operators read all and change their own, developers see and change
/// their own (the README's role table):
///
///   GET    /v1/webhooks?org=ID                the organisation's webhooks (never a secret), in pages
///   POST   /v1/webhooks                       create {org, chain, name, url, event, filter?,
///                                             confirmations?, batch?, format?} → 201 with the
///                                             signing secret, shown this once
///   GET    /v1/webhooks/{id}
///   PATCH  /v1/webhooks/{id}                  change {name?, url?, filter?, confirmations?, batch?, format?, paused?}
///   DELETE /v1/webhooks/{id}
///   POST   /v1/webhooks/{id}/test             a signed sample event now: the receiver's status and latency
///   POST   /v1/webhooks/{id}/rotate-secret    a new secret {graceSeconds?}: both sign until then
///   GET    /v1/webhooks/{id}/deliveries       the latest attempts: status, latency, error
///   POST   /v1/webhooks/{id}/replay?fromBlock=N  send every event again from block N (a new
///                                             stream: no retractions of what went before)
///
/// A new webhook starts after the chain's current head: its first events are the next block's.
struct WebhookAdmin: Sendable {
    let node: ChainNode
    let sender: WebhookSender
    /// The chain the node's config names, which an organisation may own too.
    let fixedChain: UInt64?
    let nodeId: UInt64

    static let prefix = "/v1/webhooks"
    static let defaultGraceSeconds = 86_400

    static func owns(_ path: String) -> Bool { path == prefix || path.hasPrefix(prefix + "/") }

    func handle(_ req: HTTPRequest, _ access: AdminAccess, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        if req.path == Self.prefix {
            switch req.method {
            case "GET": return list(req, access)
            case "POST":
                let draft: Draft
                switch Self.parse(req.body, creating: true) {
                case .failure(let why): return jsonError(400, why.description)
                case .success(let d): draft = d
                }
                guard let org = draft.org, access.sees(org) else { return jsonError(404, "no organisation \(draft.org.map(OrgAdmin.idText) ?? "?")") }
                if let why = sender.problem(draft.url!) ?? Self.formatProblem(draft.format ?? .json, draft.url!, batchMaxEvents: draft.batchMaxEvents ?? 1) {
                    return jsonError(400, why)
                }
                let owner = (try? node.stateMachine.tenantView { d, txn in try d.owner(ofChain: draft.chain!, txn) }) ?? nil
                guard owner == org || (access.isClusterAdmin && known(draft.chain!)) else {
                    return jsonError(404, "organisation \(OrgAdmin.idText(org)) owns no chain \(draft.chain!) (see GET /v1/orgs/{id}/chains)")
                }
                return forward { create(draft, by: access.principal.user ?? 0) }
            default: return jsonError(405, "use GET or POST on \(Self.prefix)")
            }
        }
        let rest = req.path.dropFirst(Self.prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let id = OrgAdmin.parseId(rest[0]), let hook = (try? node.stateMachine.webhookView({ d, txn in try d.webhook(id, txn) })) ?? nil,
              access.sees(hook.org) else {
            return jsonError(404, "no webhook \(boundedQuote(rest[0]))")
        }
        let reading = req.method == "GET"
        if let refusal = Self.refusal(hook, access, reading ? .read : .change) { return refusal }
        switch (req.method, rest.count == 2 ? rest[1] : nil) {
        case ("GET", nil) where rest.count == 1: return .json(JSON.serialize(json(hook)) + "\n")
        case ("PATCH", nil) where rest.count == 1:
            let draft: Draft
            switch Self.parse(req.body, creating: false) {
            case .failure(let why): return jsonError(400, why.description)
            case .success(let d): draft = d
            }
            if let url = draft.url, let why = sender.problem(url) { return jsonError(400, why) }
            if let why = Self.formatProblem(draft.format ?? hook.format, draft.url ?? hook.url, batchMaxEvents: draft.batchMaxEvents ?? hook.batchMaxEvents) {
                return jsonError(400, why)
            }
            return forward { update(hook, draft) }
        case ("DELETE", nil) where rest.count == 1:
            return forward { change(.delete(id: id), check: { d, txn in try d.webhook(id, txn) == nil ? true : nil }, "webhook \(hook.name) deleted") }
        case ("POST", "test"): return test(hook)
        case ("POST", "replay"): return replay(hook, req, forward: forward)
        case ("POST", "rotate-secret"):
            var grace = Self.defaultGraceSeconds
            if !req.body.isEmpty {
                guard let o = (try? JSON.parse(req.body))?.objectValue else { return jsonError(400, "body must be a JSON object {graceSeconds?}") }
                for k in o.keys where k != "graceSeconds" { return jsonError(400, "unknown field \(boundedQuote(k)) (known: graceSeconds)") }
                if let g = o["graceSeconds"] {
                    guard case .number(let n) = g, let v = Int(n), (0...KeyAdmin.maxGraceSeconds).contains(v) else {
                        return jsonError(400, "graceSeconds must be 0 to \(KeyAdmin.maxGraceSeconds)")
                    }
                    grace = v
                }
            }
            let secret = StandardWebhooks.newSecret()
            let until = unixMillis() + UInt64(grace) * 1000
            return forward {
                proposeWebhookChange(.rotateSecret(id: id, secret: secret, previousValidUntilMillis: until), raced: "the webhook changed meanwhile",
                                     stored: { d, txn in try d.webhook(id, txn).flatMap { $0.secret == secret ? $0 : nil } }) { h, _ in
                    var o = json(h).objectValue ?? [:]
                    o["secret"] = .string(secret)
                    return .json(JSON.serialize(.object(o)) + "\n")
                }
            }
        case ("GET", "deliveries"):
            let attempts = (try? node.stateMachine.webhookView { d, txn in try d.attempts(id, txn) }) ?? []
            return .json(JSON.serialize(.object(["deliveries": .array(attempts.reversed().map(Self.json))])) + "\n")
        default:
            return jsonError(405, "use GET, PATCH or DELETE on \(Self.prefix)/{id}; POST on /test, /rotate-secret or /replay; GET on /deliveries")
        }
    }

    enum Use { case read, change }

    /// PagerDuty takes one alert a request, deduplicated (and resolved, for a retraction) by
    /// its key: one event per POST, and the integration's routing key in the URL.
    static func formatProblem(_ format: WebhookFormat, _ url: String, batchMaxEvents: UInt32) -> String? {
        guard format == .pagerDuty else { return nil }
        if WebhookPayload.routingKey(url) == nil {
            return "format pagerduty needs the integration's routing key in the url: https://events.pagerduty.com/v2/enqueue?routing_key=…"
        }
        return batchMaxEvents == 1 ? nil : "format pagerduty sends one event a request (each its own alert): batch.maxEvents must be 1"
    }

    /// Starts the webhook's stream again at `fromBlock` (between the chain's earliest and
    /// latest indexed blocks).
    func replay(_ hook: Webhook, _ req: HTTPRequest, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        guard let text = req.query["fromBlock"], let from = UInt64(text) else {
            return jsonError(400, "fromBlock is required: POST \(Self.prefix)/{id}/replay?fromBlock=<block number>")
        }
        let range = try? node.stateMachine.chain.view { v in (try v.head(hook.chainId, .earliest), try v.head(hook.chainId)) }
        guard let (earliest, latest) = range, let earliest, let latest else { return jsonError(409, "chain \(hook.chainId) has no blocks indexed yet") }
        guard (earliest.number...latest.number).contains(from), let hash = (try? node.stateMachine.chain.view { try $0.blockHash(hook.chainId, number: from) }) ?? nil else {
            return jsonError(400, "fromBlock must be from \(earliest.number) to \(latest.number), the blocks chain \(hook.chainId) has indexed")
        }
        let cursor = WebhookCursor(webhook: hook.id, at: StreamPoint(block: from, hash: hash.bytes, held: 0))
        let before = (try? node.stateMachine.webhookView { d, txn in try d.cursor(hook.id, txn) })??.generation ?? 0
        return forward {
            proposeWebhookChange(.advance([cursor], replay: true), raced: "the webhook changed meanwhile",
                                 stored: { d, txn in try d.cursor(hook.id, txn).flatMap { $0.generation > before ? $0 : nil } }) { c, index in
                .json(JSON.serialize(.object(["ok": .bool(true), "index": .number(String(index)), "fromBlock": .number(String(from)),
                                              "generation": .number(String(c.generation)),
                                              "paused": .bool(hook.paused)])) + "\n")
            }
        }
    }

    /// nil when the principal may `use` the webhook (of an organisation they see).
    static func refusal(_ hook: Webhook, _ access: AdminAccess, _ use: Use) -> HTTPResponse? {
        guard !access.isClusterAdmin, let role = access.role(in: hook.org), role != .admin else { return nil }
        if hook.createdBy != 0, hook.createdBy == access.principal.user { return nil }
        if role == .operator, use == .read { return nil }
        return jsonError(403, "\(use == .read ? "reading" : "changing") another member's webhook needs the role admin in the organisation; you are \(role.name)",
                         [("role", .string(role.name))])
    }

    func known(_ chain: UInt64) -> Bool {
        chain == fixedChain || ((try? node.stateMachine.allChains()) ?? []).contains { $0.spec.chainId == chain }
    }

    // MARK: bodies

    struct Draft: Sendable {
        var org: UInt64?
        var chain: UInt64?
        var name: String?
        var url: String?
        var event: WebhookEvent?
        var filter: [UInt8]?
        var confirmations: Confirmations?
        var batchMaxEvents: UInt32?
        var batchMaxMillis: UInt32?
        var format: WebhookFormat?
        var paused: Bool?
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    static let createFields = ["org", "chain", "name", "url", "event", "filter", "confirmations", "batch", "format"]
    static let patchFields = ["name", "url", "filter", "confirmations", "batch", "format", "paused"]

    static func parse(_ body: [UInt8], creating: Bool) -> Result<Draft, Problem> {
        func fail(_ s: String) -> Result<Draft, Problem> { .failure(Problem(description: s)) }
        let known = creating ? createFields : patchFields
        guard let o = (try? JSON.parse(body))?.objectValue else { return fail("body must be a JSON object {\(known.joined(separator: ", "))}") }
        for k in o.keys where !known.contains(k) { return fail("unknown field \(boundedQuote(k)) (known: \(known.joined(separator: ", ")))") }
        var d = Draft()
        if creating {
            guard let text = o["org"]?.stringValue, let org = OrgAdmin.parseId(text) else { return fail("org is required: an organisation id (16 hex digits)") }
            guard case .number(let n)? = o["chain"], let chain = UInt64(n), chain > 0 else { return fail("chain is required: a chain id (a positive integer)") }
            guard let e = o["event"]?.stringValue, let event = WebhookEvent(name: e) else {
                return fail("event is required: \(WebhookEvent.allCases.map(\.name).joined(separator: ", "))")
            }
            guard o["name"] != nil, o["url"] != nil else { return fail("name and url are required") }
            (d.org, d.chain, d.event) = (org, chain, event)
        }
        if let n = o["name"] {
            guard let name = n.stringValue, TenantDirectory.nameProblem(name) == nil else { return fail("name must be 1 to 100 characters, no control characters") }
            d.name = name
        }
        if let u = o["url"] {
            guard let url = u.stringValue, url.utf8.count <= 2048 else { return fail("url must be a string of at most 2048 bytes") }
            d.url = url
        }
        if let f = o["filter"] ?? (creating ? .object([:]) : nil) {
            switch WebhookFilter.parse(f, event: d.event) {
            case .failure(let why): return fail("filter: \(why.description)")
            case .success(let canonical): d.filter = canonical
            }
        }
        if let c = o["confirmations"] {
            let text: String? = c.stringValue ?? { if case .number(let n) = c { return n } else { return nil } }()
            guard let t = text, let conf = Confirmations(text: t) else { return fail("confirmations must be \"latest\", \"safe\", \"finalized\" or a depth of 1 to 10000 blocks") }
            d.confirmations = conf
        }
        if let b = o["batch"] {
            guard let bo = b.objectValue else { return fail("batch must be an object {maxEvents, maxMillis}") }
            for k in bo.keys where !["maxEvents", "maxMillis"].contains(k) { return fail("batch: unknown field \(boundedQuote(k)) (known: maxEvents, maxMillis)") }
            if let e = bo["maxEvents"] {
                guard case .number(let n) = e, let v = UInt32(n), (1...10_000).contains(v) else { return fail("batch.maxEvents must be 1 to 10000") }
                d.batchMaxEvents = v
            }
            if let m = bo["maxMillis"] {
                guard case .number(let n) = m, let v = UInt32(n), v <= 600_000 else { return fail("batch.maxMillis must be 0 to 600000") }
                d.batchMaxMillis = v
            }
        }
        if let f = o["format"] {
            guard let s = f.stringValue, let format = WebhookFormat(name: s) else {
                return fail("format must be \"json\", \"slack\" or \"pagerduty\"")
            }
            d.format = format
        }
        if let p = o["paused"] {
            guard case .bool(let b) = p else { return fail("paused must be true or false") }
            d.paused = b
        }
        return .success(d)
    }

    // MARK: changes

    func create(_ d: Draft, by user: UInt64) -> HTTPResponse {
        let secret = StandardWebhooks.newSecret()
        let hook = Webhook(id: UInt64.random(in: 1...UInt64.max), org: d.org!, chainId: d.chain!, name: d.name!, url: d.url!, event: d.event!,
                           filter: d.filter ?? Array("{}".utf8), confirmations: d.confirmations ?? .latest, batchMaxEvents: d.batchMaxEvents ?? 1,
                           batchMaxMillis: d.batchMaxMillis ?? 0, format: d.format ?? .json, secret: secret, createdBy: user, createdMillis: unixMillis())
        // Its stream begins after the current head (a replay reaches further back).
        let head = (try? node.stateMachine.chain.view { try $0.head(hook.chainId) }) ?? nil
        let commands: [WebhookCommand] = [.create(hook)] + (head.map { [.advance([WebhookCursor(webhook: hook.id, at: StreamPoint(block: $0.number, hash: $0.hash.bytes))], replay: true)] } ?? [])
        return proposeWebhookChange(commands, raced: "the webhook could not be created; retry",
                                    stored: { dir, txn in try dir.webhook(hook.id, txn).flatMap { $0 == hook ? $0 : nil } }) { h, _ in
            var o = json(h).objectValue ?? [:]
            o["secret"] = .string(secret)
            return .json(JSON.serialize(.object(o)) + "\n", status: 201)
        }
    }

    func update(_ hook: Webhook, _ d: Draft) -> HTTPResponse {
        var next = hook
        if let v = d.name { next.name = v }
        if let v = d.url { next.url = v }
        if let v = d.confirmations { next.confirmations = v }
        if let v = d.batchMaxEvents { next.batchMaxEvents = v }
        if let v = d.batchMaxMillis { next.batchMaxMillis = v }
        if let v = d.format { next.format = v }
        if let v = d.filter {
            switch WebhookFilter.parse((try? JSON.parse(v)) ?? .null, event: hook.event) {
            case .failure(let why): return jsonError(400, "filter: \(why.description)")
            case .success(let canonical): next.filter = canonical
            }
        }
        var commands = [WebhookCommand.update(next)]
        if let p = d.paused, p != hook.paused { commands.append(.setPaused(id: hook.id, paused: p, reason: p ? "paused through the API" : "")) }
        let want = next
        return proposeWebhookChange(commands, raced: "the webhook changed meanwhile; nothing was changed", stored: { dir, txn in
            try dir.webhook(hook.id, txn).flatMap { s in
                s.url == want.url && s.filter == want.filter && s.name == want.name && (d.paused == nil || s.paused == d.paused!) ? s : nil
            }
        }) { h, _ in .json(JSON.serialize(json(h)) + "\n") }
    }

    func change(_ command: WebhookCommand, check: @escaping @Sendable (WebhookDirectory, ReadTransaction) throws -> Bool?, _ what: String) -> HTTPResponse {
        proposeWebhookChange(command, raced: "the webhook changed meanwhile", stored: check) { _, index in
            .json("{\"ok\":true,\"index\":\(index),\"message\":\(jsonQuote(what))}\n")
        }
    }

    /// A sample event in the webhook's format, signed like every delivery and sent now.
    func test(_ hook: Webhook) -> HTTPResponse {
        let now = unixMillis()
        let id = "evt_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let body = WebhookPayload.test(hook, id: id, nowMillis: now, node: nodeId)
        let r = sender.send(hook, id: id, body: body, nowMillis: now)
        let attempt = DeliveryAttempt(webhook: hook.id, atMillis: now, firstEvent: id, events: 1, status: UInt16(clamping: r.status),
                                      latencyMillis: UInt32(clamping: r.latencyMillis), error: r.error, node: nodeId)
        node.propose(raw: WebhookCommand.attempts([attempt]).encoded()) { _ in }
        return .json(JSON.serialize(.object(["ok": .bool(r.ok), "status": r.status == 0 ? .null : .number(String(r.status)),
                                             "latencyMillis": .number(String(r.latencyMillis)), "error": r.error.isEmpty ? .null : .string(r.error),
                                             "eventId": .string(id)])) + "\n", status: r.ok ? 200 : 502)
    }

    // MARK: reads

    func json(_ h: Webhook) -> JSONValue {
        var o: JSONObject = ["id": .string(OrgAdmin.idText(h.id)), "org": .string(OrgAdmin.idText(h.org)), "chain": .number(String(h.chainId)),
                             "name": .string(h.name), "url": .string(Self.redacted(h.url)), "event": .string(h.event.name),
                             "filter": (try? JSON.parse(h.filter)) ?? .object([:]), "confirmations": .string(h.confirmations.text),
                             "batch": .object(["maxEvents": .number(String(h.batchMaxEvents)), "maxMillis": .number(String(h.batchMaxMillis))]),
                             "format": .string(h.format.name), "paused": .bool(h.paused), "createdAt": .string(OrgAdmin.iso8601(h.createdMillis))]
        o["pausedReason"] = h.pausedReason.isEmpty ? .null : .string(h.pausedReason)
        o["createdBy"] = h.createdBy == 0 ? .null : .string(OrgAdmin.idText(h.createdBy))
        o["previousSecretValidUntil"] = h.previousSecret != nil && h.previousValidUntilMillis > unixMillis() ? .string(OrgAdmin.iso8601(h.previousValidUntilMillis)) : .null
        let cursor = (try? node.stateMachine.webhookView { d, txn in try d.cursor(h.id, txn) }) ?? nil
        o["cursor"] = cursor.map { c in
            func point(_ p: StreamPoint) -> JSONValue {
                .object(["block": .number(String(p.block)), "hash": .string(Hex.encode(p.hash)),
                         "eventsOfBlock": p.held == StreamPoint.whole ? .string("all") : .number(String(p.held))])
            }
            return .object(["acknowledged": point(c.at), "sending": c.sending.map(point) ?? .null, "generation": .number(String(c.generation))])
        } ?? .null
        return .object(o)
    }

    /// The URL without its query (tokens often travel there); the path stays.
    static func redacted(_ url: String) -> String {
        guard let q = url.firstIndex(of: "?") else { return url }
        return String(url[..<q]) + "?…"
    }

    static func json(_ a: DeliveryAttempt) -> JSONValue {
        .object(["at": .string(OrgAdmin.iso8601(a.atMillis)), "firstEvent": .string(a.firstEvent), "events": .number(String(a.events)),
                 "status": a.status == 0 ? .null : .number(String(a.status)), "latencyMillis": .number(String(a.latencyMillis)),
                 "error": a.error.isEmpty ? .null : .string(a.error), "node": .number(String(a.node))])
    }

    func list(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        guard let text = req.query["org"], let org = OrgAdmin.parseId(text) else { return jsonError(400, "org is required: GET \(Self.prefix)?org=<organisation id>") }
        guard access.sees(org) else { return jsonError(404, "no organisation \(text)") }
        let page: AdminPage
        switch AdminPage.parse(req.query) {
        case .failure(let e): return e.response
        case .success(let p): page = p
        }
        do {
            let hooks = try node.stateMachine.webhookView { d, txn in try d.webhooks(txn) }.filter { $0.org == org && Self.refusal($0, access, .read) == nil }
            return page.answer(hooks, id: \.id, field: "webhooks", json)
        } catch {
            return jsonError(500, "cannot read the webhooks: \(error)")
        }
    }
}

extension WebhookAdmin {
    func proposeWebhookChange<T: Sendable>(_ command: WebhookCommand, raced: String, stored: @escaping @Sendable (WebhookDirectory, ReadTransaction) throws -> T?,
                                           answer: @escaping @Sendable (T, _ index: UInt64) -> HTTPResponse) -> HTTPResponse {
        proposeWebhookChange([command], raced: raced, stored: stored, answer: answer)
    }

    func proposeWebhookChange<T: Sendable>(_ commands: [WebhookCommand], raced: String, stored: @escaping @Sendable (WebhookDirectory, ReadTransaction) throws -> T?,
                                           answer: @escaping @Sendable (T, _ index: UInt64) -> HTTPResponse) -> HTTPResponse {
        proposeChanges(node, commands.map { $0.encoded() }, raced: raced, stored: { [node] in try node.stateMachine.webhookView(stored) }, answer: answer)
    }
}
