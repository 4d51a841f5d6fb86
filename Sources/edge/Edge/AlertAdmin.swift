import Alerts
import ByteCodec
import Chain
import Foundation
import Net
import StateMachine
import Storage
import Tenancy
import Webhooks

/// Built-in alerting's admin endpoints. An alert belongs to an organisation; every member
/// reads its alerts and incidents, admins and operators create and delete them (the README's
/// role table):
///
///   GET    /v1/alerts?org=ID                    the organisation's alerts (never the secret), in pages
///   POST   /v1/alerts                           create {org, name, condition, chain?, for?, severity?,
///                                               channels: [{type, url}]} → 201 with the signing secret, shown this once
///   GET    /v1/alerts/{id}
///   DELETE /v1/alerts/{id}                      resolves its open incidents (their channels are told)
///   GET    /v1/alerts/incidents?org=ID[&state=open|resolved][&limit=N]   newest first
///
/// `condition` is the seed's text: `lag_seconds > 30`, `error_rate > 0.01`, `p99_latency_ms > 500`,
/// `refused_blocks > 0`, `no_leader` (the metrics: `AlertMetric`). `chain` names one of the
/// organisation's chains; without it a chain condition is judged on each of them.
struct AlertAdmin: Sendable {
    let node: ChainNode
    let sender: WebhookSender
    let fixedChain: UInt64?

    static let prefix = "/v1/alerts"
    static let incidentsPath = "/v1/alerts/incidents"
    static let changers: Set<Role> = AdminAccess.admins

    static func owns(_ path: String) -> Bool { path == prefix || path.hasPrefix(prefix + "/") }

    func handle(_ req: HTTPRequest, _ access: AdminAccess, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        if req.path == Self.incidentsPath {
            guard req.method == "GET" else { return jsonError(405, "use GET on \(Self.incidentsPath)") }
            return incidents(req, access)
        }
        if req.path == Self.prefix {
            switch req.method {
            case "GET": return list(req, access)
            case "POST":
                // Who may create comes before what: a member short of the role hears so, whatever the body.
                guard let orgText = (try? JSON.parse(req.body))?["org"]?.stringValue, let org = OrgAdmin.parseId(orgText) else {
                    return jsonError(400, "org is required: the organisation's id")
                }
                guard access.sees(org) else { return jsonError(404, "no organisation \(orgText)") }
                if let refusal = access.require(Self.changers, in: org, "creating an alert", hidden: jsonError(404, "no organisation \(orgText)")) {
                    return refusal
                }
                let rule: AlertRule
                switch parse(req.body) {
                case .failure(let why): return jsonError(400, why.description)
                case .success(let r): rule = r
                }
                if rule.chainId != 0 {
                    let owner = (try? node.stateMachine.tenantView { d, txn in try d.owner(ofChain: rule.chainId, txn) }) ?? nil
                    guard owner == rule.org || (access.isClusterAdmin && known(rule.chainId)) else {
                        return jsonError(404, "organisation \(OrgAdmin.idText(rule.org)) owns no chain \(rule.chainId) (see GET /v1/orgs/{id}/chains)")
                    }
                }
                var stamped = rule
                stamped.createdBy = access.principal.user ?? 0
                return forward { create(stamped) }
            default: return jsonError(405, "use GET or POST on \(Self.prefix)")
            }
        }
        let rest = String(req.path.dropFirst(Self.prefix.count + 1))
        guard let id = OrgAdmin.parseId(rest), let rule = (try? node.stateMachine.alertView({ d, txn in try d.rule(id, txn) })) ?? nil,
              !rule.deleted, access.sees(rule.org) else {
            return jsonError(404, "no alert \(boundedQuote(rest))")
        }
        switch req.method {
        case "GET": return .json(JSON.serialize(Self.json(rule)) + "\n")
        case "DELETE":
            if let refusal = access.require(Self.changers, in: rule.org, "deleting an alert", hidden: jsonError(404, "no alert \(rest)")) { return refusal }
            return forward {
                proposeChanges(node, [AlertCommand.delete(id: id, atMillis: unixMillis()).encoded()], raced: "the alert changed meanwhile",
                               stored: { [node] in try node.stateMachine.alertView { d, txn in try d.rule(id, txn).flatMap { $0.deleted ? true : nil } } }) { _, index in
                    .json("{\"ok\":true,\"index\":\(index),\"message\":\(jsonQuote("alert \(rule.name) deleted"))}\n")
                }
            }
        default: return jsonError(405, "use GET or DELETE on \(Self.prefix)/{id}; GET on \(Self.incidentsPath)")
        }
    }

    func known(_ chain: UInt64) -> Bool {
        chain == fixedChain || ((try? node.stateMachine.allChains()) ?? []).contains { $0.spec.chainId == chain }
    }

    func create(_ rule: AlertRule) -> HTTPResponse {
        proposeChanges(node, [AlertCommand.create(rule).encoded()], raced: "the alert could not be created; retry",
                       stored: { [node] in try node.stateMachine.alertView { d, txn in try d.rule(rule.id, txn).flatMap { $0 == rule ? $0 : nil } } }) { r, _ in
            var o = Self.json(r).objectValue ?? [:]
            o["secret"] = .string(r.secret)
            return .json(JSON.serialize(.object(o)) + "\n", status: 201)
        }
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
            let rules = try node.stateMachine.alertView { d, txn in try d.allRules(txn) }.filter { $0.org == org && !$0.deleted }
            return page.answer(rules, id: \.id, field: "alerts", Self.json)
        } catch {
            return jsonError(500, "cannot read the alerts: \(error)")
        }
    }

    func incidents(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        guard let text = req.query["org"], let org = OrgAdmin.parseId(text) else {
            return jsonError(400, "org is required: GET \(Self.incidentsPath)?org=<organisation id>")
        }
        guard access.sees(org) else { return jsonError(404, "no organisation \(text)") }
        let state = req.query["state"]
        guard state == nil || state == "open" || state == "resolved" else { return jsonError(400, "state is open or resolved, not \(boundedQuote(state ?? ""))") }
        var limit = 100
        if let l = req.query["limit"] {
            guard let n = Int(l), (1...1000).contains(n) else { return jsonError(400, "limit must be 1 to 1000") }
            limit = n
        }
        do {
            let (list, names) = try node.stateMachine.alertView { d, txn in
                let all = try state == "open" ? d.openIncidents(txn).sorted { $0.id > $1.id } : d.recentIncidents(txn)
                let mine = Array(all.filter { $0.org == org && (state != "resolved" || !$0.isOpen) }.prefix(limit))
                return (mine, try Set(mine.map(\.rule)).reduce(into: [UInt64: AlertRule]()) { $0[$1] = try d.rule($1, txn) })
            }
            return .json(JSON.serialize(.object(["incidents": .array(list.map { Self.json($0, names[$0.rule]) })])) + "\n")
        } catch {
            return jsonError(500, "cannot read the incidents: \(error)")
        }
    }

    // MARK: bodies

    struct Problem: Error, CustomStringConvertible { let description: String }
    static let fields = ["org", "name", "condition", "chain", "for", "severity", "channels"]

    /// A new rule from a request body, every field validated with a message naming it.
    func parse(_ body: [UInt8]) -> Result<AlertRule, Problem> {
        func fail(_ s: String) -> Result<AlertRule, Problem> { .failure(Problem(description: s)) }
        guard let o = (try? JSON.parse(body))?.objectValue else {
            return fail("body must be a JSON object {org, name, condition, chain?, for?, severity?, channels}")
        }
        for k in o.keys where !Self.fields.contains(k) { return fail("unknown field \(boundedQuote(k)) (known: \(Self.fields.joined(separator: ", ")))") }
        guard let orgText = o["org"]?.stringValue, let org = OrgAdmin.parseId(orgText) else { return fail("org is required: the organisation's id") }
        guard let name = o["name"]?.stringValue else { return fail("name is required") }
        guard let conditionText = o["condition"]?.stringValue else { return fail("condition is required, e.g. \"lag_seconds > 30\"") }
        let condition: AlertCondition
        switch AlertCondition.parse(conditionText) {
        case .failure(let p): return fail(p.description)
        case .success(let c): condition = c
        }
        var chain: UInt64 = 0
        if let c = o["chain"], c != .null {
            guard case .number(let n) = c, let v = UInt64(n), v > 0 else { return fail("chain must be a chain id (a positive integer)") }
            guard condition.metric.perChain else { return fail("\(condition.metric.name) is about the cluster: it takes no chain") }
            chain = v
        }
        var forSeconds: UInt32 = 0
        if let f = o["for"] {
            guard case .number(let n) = f, let v = UInt32(n), v <= AlertRule.maxForSeconds else { return fail("for must be 0 to \(AlertRule.maxForSeconds) seconds") }
            forSeconds = v
        }
        var severity = AlertSeverity.warning
        if let s = o["severity"] {
            guard let text = s.stringValue, let v = AlertSeverity(name: text) else { return fail("severity must be info, warning or critical") }
            severity = v
        }
        guard let list = o["channels"]?.arrayValue, (1...AlertRule.maxChannels).contains(list.count) else {
            return fail("channels is required: 1 to \(AlertRule.maxChannels) of {type: slack|pagerduty|webhook, url}")
        }
        var channels = [AlertChannel]()
        for (i, c) in list.enumerated() {
            guard let co = c.objectValue else { return fail("channels[\(i)] must be an object {type, url}") }
            for k in co.keys where k != "type" && k != "url" { return fail("channels[\(i)]: unknown field \(boundedQuote(k)) (known: type, url)") }
            guard let t = co["type"]?.stringValue, let kind = AlertChannel.Kind(name: t) else { return fail("channels[\(i)].type must be slack, pagerduty or webhook") }
            guard let url = co["url"]?.stringValue else { return fail("channels[\(i)].url is required") }
            if let why = sender.problem(url) { return fail("channels[\(i)].\(why)") }
            if kind == .pagerDuty, WebhookPayload.routingKey(url) == nil {
                return fail("channels[\(i)]: a pagerduty channel needs the integration's routing key in the url: https://events.pagerduty.com/v2/enqueue?routing_key=…")
            }
            channels.append(AlertChannel(kind: kind, url: url))
        }
        let rule = AlertRule(id: UInt64.random(in: 1...UInt64.max), org: org, chainId: chain, name: name, condition: condition, forSeconds: forSeconds,
                             severity: severity, channels: channels, secret: StandardWebhooks.newSecret(), createdMillis: unixMillis())
        if let why = AlertDirectory.problem(rule) { return fail(why) }
        return .success(rule)
    }

    // MARK: answers

    /// A rule as the API shows it: channels without their URLs' query (a routing key, a token).
    static func json(_ r: AlertRule) -> JSONValue {
        .object(["id": .string(OrgAdmin.idText(r.id)), "org": .string(OrgAdmin.idText(r.org)), "name": .string(r.name),
                 "condition": .string(r.condition.text), "chain": r.chainId == 0 ? .null : jsonNumber(r.chainId),
                 "for": jsonNumber(r.forSeconds), "severity": .string(r.severity.name),
                 "channels": .array(r.channels.map { .object(["type": .string($0.kind.name), "url": .string(redacted($0.url))]) }),
                 "createdAt": .string(OrgAdmin.iso8601(r.createdMillis))])
    }

    static func redacted(_ url: String) -> String {
        (try? HTTPURL(parsing: url))?.redacted ?? String(url.prefix { $0 != "?" })
    }

    static func json(_ i: AlertIncident, _ rule: AlertRule?) -> JSONValue {
        var o: JSONObject = ["id": .string(OrgAdmin.idText(i.id)), "alert": .string(OrgAdmin.idText(i.rule)), "org": .string(OrgAdmin.idText(i.org)),
                             "name": rule.map { .string($0.name) } ?? .null, "condition": rule.map { .string($0.condition.text) } ?? .null,
                             "chain": i.chainId == 0 ? .null : jsonNumber(i.chainId), "severity": .string(i.severity.name),
                             "state": .string(i.isOpen ? "open" : "resolved"), "summary": .string(i.summary),
                             "openedAt": .string(OrgAdmin.iso8601(i.openedMillis)), "value": .number(AlertCondition.number(AlertEvaluator.rounded(i.openValue)))]
        o["resolvedAt"] = i.isOpen ? .null : .string(OrgAdmin.iso8601(i.resolvedMillis))
        o["notifications"] = .array(i.notified.enumerated().map { c, bits in
            let n = AlertIncident.Notified(rawValue: bits)
            func state(_ p: AlertIncident.Phase) -> JSONValue {
                n.contains(p.sent) ? .string("sent") : n.contains(p.givenUp) ? .string("given up") : (p == .resolved && i.isOpen) ? .null : .string("pending")
            }
            return .object(["channel": jsonNumber(c), "type": rule.flatMap { c < $0.channels.count ? .string($0.channels[c].kind.name) : nil } ?? .null,
                            "firing": state(.firing), "resolved": state(.resolved)])
        })
        return .object(o)
    }
}
