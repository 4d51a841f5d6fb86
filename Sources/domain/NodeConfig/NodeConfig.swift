import Backup
import ByteCodec
import Upstream
import Chain
import Foundation
import ChainFollower
import Net

/// A node's configuration, from a JSON file, overridable by flags and environment.
/// Every field is validated at start; an error names the field and what is wrong.
///
/// ```json
/// {
///   "nodeId": 1,                      // unique, > 0
///   "clusterId": "local",             // peers must agree; carried in the peer handshake
///   "dataDir": "/var/lib/infrastack", // LMDB environment (created if missing)
///   "raftListen": "127.0.0.1:7001",   // peer port (authenticated with the cluster secret)
///   "httpListen": "127.0.0.1:8001",   // JSON-RPC, REST, /status, /healthz, /readyz
///   "secretFile": "/etc/infrastack/secret",  // or "secret"; INFRASTACK_SECRET overrides
///   "peers": [{"id": 2, "raft": "127.0.0.1:7002", "http": "http://127.0.0.1:8002"}],
///   "bootstrap": true,                // founding member: start a new cluster from nodeId + peers
///   "tickMillis": 100, "electionTicks": 10, "heartbeatTicks": 1,
///   "snapshotEvery": 10000, "mapSizeMiB": 1024, "mapLimitMiB": 1048576, "logLevel": "info",
///   "chain": {                        // optional: follow an EVM chain (only the leader ingests)
///     "chainId": 1337, "adapter": "ethereum",        // ethereum | op-stack | arbitrum | custom
///     "upstreams": ["http://127.0.0.1:8545"],         // tried in order, with failover
///     "batchBlocks": 16, "maxEntryBytes": 4194304, "pollMillis": 500, "maxReorgDepth": 64, "startBlock": 0,
///     "stateSource": "auto",                          // auto | tracer | probe
///     "checks": ["headerHash", "..."], "tracer": false // custom adapter only
///   },
///   "chains": [{"slug": "base-sepolia", "parent": 11155111, "chainId": 84532, "adapter": "op-stack",
///               "upstreams": ["https://..."]}],  // optional: seed the replicated chain registry once, at bootstrap
///                                     // (same settings as "chain", plus slug and optional parent L1 chain id)
///   "rpc": {                          // optional: the read API (JSON-RPC, GraphQL, REST)
///     "forward": true,                // forward eth_call & co. to chain.upstreams
///     "maxBatch": 100, "maxLogBlockRange": 10000, "maxLogResults": 10000,
///     "maxWaitMillis": 2000           // longest wait for X-Infrastack-Min-Block
///   },
///   "apiKeysFile": "/etc/infrastack/api-keys",  // or "apiKeys": [...]; INFRASTACK_API_KEYS (comma-separated) overrides;
///                                     // none configured = open access (development)
///   "adminTokenFile": "/etc/infrastack/admin-token", // or "adminToken"; INFRASTACK_ADMIN_TOKEN overrides. Required by
///                                     // membership changes and the debug KV; without one those endpoints are refused
///   "metricsTokenFile": "/etc/infrastack/metrics-token", // or "metricsToken"; INFRASTACK_METRICS_TOKEN overrides.
///                                     // /metrics takes it, the admin token or a cluster admin's token; with neither
///                                     // this nor an admin token, /metrics is open (development)
///   "adminListen": "127.0.0.1:9001",  // optional: serve admin endpoints only here, not on httpListen
///   "debugKV": false,                 // the replicated debug key-value store (testing aid), off unless true
///   "bootstrapAdmin": true,           // the first leader creates cluster-admin user "admin", its token in
///                                     // dataDir/bootstrap-admin-token (once, when the cluster has no user)
///   "rateLimit": {                    // organisations' API keys, counted across the cluster
///     "perMinute": 1000,              // a key's limit unless the key or its organisation sets one
///     "windowSeconds": 60             // the counting window (the limit scales with it)
///   },
///   "auditRetentionDays": 365,        // older audit entries are deleted (the chain stays verifiable)
///   "usageRetentionDays": 30,         // older per-key, per-minute usage counts are deleted
///   "accessLog": {                    // optional: one JSON line per read request (no secrets)
///     "path": "/var/log/infrastack/access.log", "maxBytes": 104857600, "keep": 5
///   },
///   "webhooks": {                     // delivery (see the README's Webhooks section)
///     "allowPrivateDestinations": false, // receivers on private networks (tests, labs)
///     "maxAttempts": 12,              // failures in a row before a webhook is paused
///     "concurrency": 16,              // POSTs in flight at once, all webhooks
///     "timeoutMillis": 5000,          // per POST
///     "caFile": "/etc/infrastack/receivers-ca.pem"  // optional: trust this CA for https:// receivers
///   },
///   "backup": {                       // optional: backups and log shipping (see the README's Backup section)
///     "to": "s3://bucket/prefix",     // or a directory; S3 is configured as the AWS CLI is
///     "everyMinutes": 60, "keep": 48, // scheduled backups and how many are kept (no schedule without everyMinutes)
///     "takenBy": "follower",          // follower (the lowest-numbered one), leader or any
///     "shipLogs": true, "shipEverySeconds": 30, "shipEveryMiB": 16  // the leader ships committed entries
///   }
/// }
/// ```
public struct NodeConfig: Sendable {
    public struct Peer: Sendable, Equatable {
        public var id: UInt64
        public var raft: SocketAddress
        public var http: String
        /// The peer's admin URL (its adminListen), where admin requests are forwarded when
        /// admin endpoints have their own listener.
        public var admin: String?
    }

    public var nodeId: UInt64 = 0
    public var clusterId = ""
    public var dataDir = ""
    public var raftListen = SocketAddress(host: "127.0.0.1", port: 7001)
    public var httpListen = SocketAddress(host: "127.0.0.1", port: 8001)
    public var secret: [UInt8] = []
    public var peers: [Peer] = []
    public var bootstrap = true
    public var tickMillis = 100
    public var electionTicks = 10
    public var heartbeatTicks = 1
    public var snapshotEvery: UInt64 = 10_000
    public var mapSizeMiB = 1024
    /// The LMDB map grows on demand up to this; a write past it raises the disk alarm.
    public var mapLimitMiB = 1 << 20
    public var logLevel = "info"
    /// The chain fixed by this file (`chain`): indexed and served at `/` as it is here,
    /// outside the replicated chain registry.
    public var chain: Indexer.Config?
    /// Chains that seed the replicated registry when the cluster first elects a leader
    /// (`chains`); afterwards the registry, changed with `infrastack chain`, is what counts.
    public var chains: [ChainSeed] = []
    public var rpc = RPCSettings()
    /// Keys accepted on the read API; empty means open access.
    public var apiKeys: [String] = []
    /// The cluster-admin credential (membership, debug KV); nil disables those endpoints.
    public var adminToken: String?
    /// A bearer token that may read /metrics and nothing else (Prometheus's scrape credential).
    public var metricsToken: String?
    /// Where admin endpoints are served; nil = on httpListen, next to the read API.
    public var adminListen: SocketAddress?
    /// Whether /v1/debug/kv is served at all.
    public var debugKV = false
    public var bootstrapAdmin = true
    public var auditRetentionDays = 365
    public var usageRetentionDays = 30
    public var accessLog: AccessLogSettings?
    /// Whether webhooks may be sent to private, loopback and link-local addresses.
    public var webhookPrivateDestinations = false
    public var webhookMaxAttempts = 12
    public var webhookConcurrency = 16
    public var webhookTimeoutMillis = 5000
    /// Trust this CA (PEM) for https:// receivers instead of the system store.
    public var webhookCAFile: String?
    /// Backups and log shipping; nil: only backups on request, to a destination named then.
    public var backup: BackupAgent.Settings?

    public struct AccessLogSettings: Sendable, Equatable {
        public var path: String
        public var maxBytes = 100 << 20
        public var keep = 5
        public init(path: String) { self.path = path }
    }
    public var rateLimit = RateLimitSettings()

    public struct RateLimitSettings: Sendable, Equatable {
        public var perMinute: UInt32 = 1000
        public var windowSeconds = 60
        public init() {}
    }
    /// TLS for peer links (cluster CA, this node's certificate and key); nil = plain TCP,
    /// allowed only on loopback addresses or with `insecurePlainPeers`.
    public var peerTLS: PeerTLSFiles?
    public var insecurePlainPeers = false
    /// TLS for the HTTP listeners (https://, wss://); reloaded on SIGHUP.
    public var httpTLS: HTTPTLSFiles?

    public struct PeerTLSFiles: Sendable, Equatable { public var caFile, certFile, keyFile: String }
    public struct HTTPTLSFiles: Sendable, Equatable {
        public var certFile, keyFile: String
        /// The CA other nodes' HTTPS certificates come from, for forwarding between nodes.
        public var caFile: String?
    }

    /// How this node talks to other nodes' HTTPS listeners.
    public var nodeClientTLS: TLSConfiguration? {
        guard let ca = httpTLS?.caFile else { return nil }
        var c = TLSConfiguration(role: .client)
        c.caFile = ca
        return c
    }

    public struct RPCSettings: Sendable {
        public var forward = true
        public var maxBatch = 100
        public var maxLogBlockRange: UInt64 = 10_000
        public var maxLogResults = 10_000
        public var maxWaitMillis = 2000
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let field: String
        public let problem: String
        public var description: String { "config field \(field): \(problem)" }
        public init(field: String, problem: String) { self.field = field; self.problem = problem }
    }

    public init() {}

    /// Parses and validates a config file, then applies overrides (flag name → value).
    public static func load(path: String, overrides: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(field: "--config", problem: "cannot read \(path)")
        }
        let json: JSONValue
        do { json = try JSON.parse(Array(data)) } catch { throw Invalid(field: "--config", problem: "\(path) is not valid JSON: \(error)") }
        guard var o = json.objectValue else { throw Invalid(field: "--config", problem: "\(path) must hold a JSON object") }
        for (k, v) in overrides { o[k] = Self.overrideValue(k, v) }
        if let s = environment["INFRASTACK_SECRET"], !s.isEmpty { o["secret"] = .string(s); o["secretFile"] = nil }
        if let s = environment["INFRASTACK_ADMIN_TOKEN"], !s.isEmpty { o["adminToken"] = .string(s); o["adminTokenFile"] = nil }
        if let s = environment["INFRASTACK_METRICS_TOKEN"], !s.isEmpty { o["metricsToken"] = .string(s); o["metricsTokenFile"] = nil }
        if let s = environment["INFRASTACK_API_KEYS"], !s.isEmpty {
            o["apiKeys"] = .array(s.split(separator: ",").map { .string(String($0).trimmingCharacters(in: .whitespaces)) }); o["apiKeysFile"] = nil
        }
        return try parse(o, baseDir: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    static func overrideValue(_ key: String, _ value: String) -> JSONValue {
        ["nodeId", "tickMillis", "electionTicks", "heartbeatTicks", "snapshotEvery", "mapSizeMiB", "mapLimitMiB"].contains(key) && Int(value) != nil
            ? .number(value) : (["bootstrap"].contains(key) ? .bool(value == "true") : .string(value))
    }

    static let knownFields: Set<String> = ["nodeId", "clusterId", "dataDir", "raftListen", "httpListen", "secret", "secretFile",
                                           "peers", "bootstrap", "tickMillis", "electionTicks", "heartbeatTicks", "snapshotEvery",
                                           "mapSizeMiB", "mapLimitMiB", "logLevel", "chain", "chains", "rpc", "apiKeys", "apiKeysFile",
                                           "adminToken", "adminTokenFile", "metricsToken", "metricsTokenFile", "adminListen", "debugKV", "peerTLS", "insecurePlainPeers", "httpTLS",
                                           "bootstrapAdmin", "rateLimit", "auditRetentionDays", "usageRetentionDays", "accessLog", "webhooks", "backup"]

    static func parseBackup(_ v: JSONValue) throws -> BackupAgent.Settings {
        let known = ["to", "everyMinutes", "keep", "takenBy", "shipLogs", "shipEverySeconds", "shipEveryMiB"]
        guard let b = v.objectValue else { throw Invalid(field: "backup", problem: "must be an object {\(known.joined(separator: ", "))}") }
        for k in b.keys where !known.contains(k) {
            throw Invalid(field: "backup.\(k)", problem: "unknown field (known: \(known.joined(separator: ", ")))")
        }
        guard let to = b["to"]?.stringValue, !to.isEmpty else { throw Invalid(field: "backup.to", problem: "is required: a directory or s3://bucket/prefix") }
        do { _ = try BackupTargets.open(to) } catch { throw Invalid(field: "backup.to", problem: "\(error)") }
        var s = BackupAgent.Settings(to: to)
        func int(_ k: String, _ lo: Int, _ hi: Int) throws -> Int? {
            guard let v = b[k] else { return nil }
            guard case .number(let n) = v, let i = Int(n), (lo...hi).contains(i) else {
                throw Invalid(field: "backup.\(k)", problem: "must be an integer from \(lo) to \(hi)")
            }
            return i
        }
        s.everyMinutes = try int("everyMinutes", 1, 525_600)
        if let k = try int("keep", 1, 100_000) { s.keep = k }
        if let e = try int("shipEverySeconds", 1, 3600) { s.shipEverySeconds = e }
        if let m = try int("shipEveryMiB", 1, 4096) { s.shipEveryMiB = m }
        if let t = b["takenBy"] {
            guard let name = t.stringValue, let by = BackupAgent.Settings.TakenBy(rawValue: name) else {
                throw Invalid(field: "backup.takenBy", problem: "must be follower, leader or any")
            }
            s.takenBy = by
        }
        if let l = b["shipLogs"] {
            guard let on = l.boolValue else { throw Invalid(field: "backup.shipLogs", problem: "must be true or false") }
            s.shipLogs = on
        }
        return s
    }

    public static func parse(_ o: JSONObject, baseDir: String = ".") throws -> NodeConfig {
        for k in o.keys where !knownFields.contains(k) {
            throw Invalid(field: k, problem: "unknown field (known: \(knownFields.sorted().joined(separator: ", ")))")
        }
        var c = NodeConfig()
        func int(_ k: String, min: Int, max: Int) throws -> Int? {
            guard let v = o[k] else { return nil }
            guard case .number(let n) = v, let i = Int(n) else { throw Invalid(field: k, problem: "must be an integer") }
            guard (min...max).contains(i) else { throw Invalid(field: k, problem: "must be between \(min) and \(max), got \(i)") }
            return i
        }
        func string(_ k: String) throws -> String? {
            guard let v = o[k] else { return nil }
            guard let s = v.stringValue else { throw Invalid(field: k, problem: "must be a string") }
            return s
        }
        func address(_ k: String, _ s: String) throws -> SocketAddress {
            do { return try SocketAddress(parsing: s) } catch { throw Invalid(field: k, problem: error.description) }
        }
        guard let id = try int("nodeId", min: 1, max: Int.max) else { throw Invalid(field: "nodeId", problem: "is required (a positive integer)") }
        c.nodeId = UInt64(id)
        guard let cid = try string("clusterId"), !cid.isEmpty else { throw Invalid(field: "clusterId", problem: "is required (a non-empty string)") }
        c.clusterId = cid
        guard let dir = try string("dataDir"), !dir.isEmpty else { throw Invalid(field: "dataDir", problem: "is required") }
        c.dataDir = dir.hasPrefix("/") ? dir : baseDir + "/" + dir
        if let s = try string("raftListen") { c.raftListen = try address("raftListen", s) }
        if let s = try string("httpListen") { c.httpListen = try address("httpListen", s) }
        if c.raftListen == c.httpListen && c.raftListen.port != 0 { throw Invalid(field: "httpListen", problem: "must differ from raftListen") }
        if let s = try string("secret") {
            c.secret = Array(s.utf8)
        } else if let f = try string("secretFile") {
            let path = f.hasPrefix("/") ? f : baseDir + "/" + f
            guard let d = FileManager.default.contents(atPath: path) else { throw Invalid(field: "secretFile", problem: "cannot read \(path)") }
            c.secret = Array(String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        }
        guard c.secret.count >= 16 else { throw Invalid(field: "secret", problem: "is required and must be at least 16 bytes (set secret, secretFile or INFRASTACK_SECRET)") }
        if let v = o["peers"] {
            guard let list = v.arrayValue else { throw Invalid(field: "peers", problem: "must be an array") }
            for (i, p) in list.enumerated() {
                let f = "peers[\(i)]"
                guard let po = p.objectValue else { throw Invalid(field: f, problem: "must be an object with id, raft, http") }
                guard case .number(let n)? = po["id"], let pid = UInt64(n), pid > 0 else { throw Invalid(field: "\(f).id", problem: "must be a positive integer") }
                guard pid != c.nodeId else { throw Invalid(field: "\(f).id", problem: "\(pid) is this node's own id") }
                guard !c.peers.contains(where: { $0.id == pid }) else { throw Invalid(field: "\(f).id", problem: "duplicate peer id \(pid)") }
                guard let raft = po["raft"]?.stringValue else { throw Invalid(field: "\(f).raft", problem: "is required (host:port)") }
                guard let http = po["http"]?.stringValue, http.hasPrefix("http://") || http.hasPrefix("https://") else {
                    throw Invalid(field: "\(f).http", problem: "is required (http://host:port or https://host:port)")
                }
                var admin: String? = nil
                if let a = po["admin"] {
                    guard let u = a.stringValue, u.hasPrefix("http://") || u.hasPrefix("https://"), (try? HTTPURL(parsing: u)) != nil else {
                        throw Invalid(field: "\(f).admin", problem: "must be the peer's admin URL, http(s)://host:port")
                    }
                    admin = u
                }
                for k in po.keys where !["id", "raft", "http", "admin"].contains(k) {
                    throw Invalid(field: "\(f).\(k)", problem: "unknown field (known: admin, http, id, raft)")
                }
                c.peers.append(Peer(id: pid, raft: try address("\(f).raft", raft), http: http, admin: admin))
            }
        }
        if let v = o["bootstrap"] {
            guard let b = v.boolValue else { throw Invalid(field: "bootstrap", problem: "must be true or false") }
            c.bootstrap = b
        }
        c.tickMillis = try int("tickMillis", min: 10, max: 10_000) ?? c.tickMillis
        c.electionTicks = try int("electionTicks", min: 3, max: 1000) ?? c.electionTicks
        c.heartbeatTicks = try int("heartbeatTicks", min: 1, max: 100) ?? c.heartbeatTicks
        guard c.heartbeatTicks * 2 < c.electionTicks else { throw Invalid(field: "heartbeatTicks", problem: "must be under half of electionTicks (\(c.electionTicks))") }
        c.snapshotEvery = UInt64(try int("snapshotEvery", min: 10, max: 100_000_000) ?? Int(c.snapshotEvery))
        c.mapSizeMiB = try int("mapSizeMiB", min: 1, max: 1 << 20) ?? c.mapSizeMiB
        c.mapLimitMiB = try int("mapLimitMiB", min: 1, max: 1 << 20) ?? c.mapLimitMiB
        guard c.mapLimitMiB >= c.mapSizeMiB else { throw Invalid(field: "mapLimitMiB", problem: "must be at least mapSizeMiB (\(c.mapSizeMiB)): the map starts at mapSizeMiB and grows up to mapLimitMiB") }
        if let l = try string("logLevel") {
            guard ["debug", "info", "warn", "error"].contains(l) else { throw Invalid(field: "logLevel", problem: "must be debug, info, warn or error") }
            c.logLevel = l
        }
        if let v = o["chain"] { c.chain = try parseChain(v) }
        if let v = o["chains"] { c.chains = try parseChains(v) }
        if let id = c.chain?.chainId, c.chains.contains(where: { $0.spec.chainId == id }) {
            throw Invalid(field: "chains", problem: "chain \(id) is also the \"chain\" field's; list it in one of the two")
        }
        if let v = o["rpc"] { c.rpc = try parseRPC(v) }
        if let v = o["apiKeys"] {
            guard let list = v.arrayValue else { throw Invalid(field: "apiKeys", problem: "must be an array of strings") }
            c.apiKeys = try list.enumerated().map { (i, k) in
                guard let s = k.stringValue else { throw Invalid(field: "apiKeys[\(i)]", problem: "must be a string") }
                return s
            }
        } else if let f = try string("apiKeysFile") {
            let path = f.hasPrefix("/") ? f : baseDir + "/" + f
            guard let d = FileManager.default.contents(atPath: path) else { throw Invalid(field: "apiKeysFile", problem: "cannot read \(path)") }
            c.apiKeys = String(decoding: d, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        for (i, k) in c.apiKeys.enumerated() {
            guard k.utf8.count >= 16, k.utf8.count <= 128, k.utf8.allSatisfy({ (0x21...0x7e).contains($0) && $0 != UInt8(ascii: "/") }) else {
                throw Invalid(field: "apiKeys[\(i)]", problem: "must be 16 to 128 printable characters without spaces or '/'")
            }
        }
        /// A bearer secret given inline (`field`) or in a file (`field + "File"`), 16 to 256
        /// printable characters, never one of the API keys.
        func token(_ field: String, _ what: String) throws -> String? {
            var t: String?
            if let v = try string(field) {
                t = v
            } else if let f = try string(field + "File") {
                let path = f.hasPrefix("/") ? f : baseDir + "/" + f
                guard let d = FileManager.default.contents(atPath: path) else { throw Invalid(field: field + "File", problem: "cannot read \(path)") }
                t = String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let t else { return nil }
            let named = o[field] != nil ? field : field + "File"
            guard t.utf8.count >= 16, t.utf8.count <= 256, t.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw Invalid(field: named, problem: "the \(what) must be 16 to 256 printable characters without spaces")
            }
            guard !c.apiKeys.contains(t) else { throw Invalid(field: named, problem: "must differ from every API key (a read key must never administer the cluster)") }
            return t
        }
        c.adminToken = try token("adminToken", "admin token")
        c.metricsToken = try token("metricsToken", "metrics token")
        if let m = c.metricsToken, m == c.adminToken {
            throw Invalid(field: o["metricsToken"] != nil ? "metricsToken" : "metricsTokenFile", problem: "must differ from the admin token (a scraper must not administer the cluster)")
        }
        if let s = try string("adminListen") {
            let a = try address("adminListen", s)
            guard a != c.httpListen || a.port == 0, a != c.raftListen || a.port == 0 else { throw Invalid(field: "adminListen", problem: "must differ from httpListen and raftListen") }
            c.adminListen = a
        }
        if let v = o["debugKV"] {
            guard let b = v.boolValue else { throw Invalid(field: "debugKV", problem: "must be true or false") }
            c.debugKV = b
        }
        if let v = o["bootstrapAdmin"] {
            guard let b = v.boolValue else { throw Invalid(field: "bootstrapAdmin", problem: "must be true or false") }
            c.bootstrapAdmin = b
        }
        if let b = o["backup"] { c.backup = try parseBackup(b) }
        if let w = o["webhooks"] {
            let known = ["allowPrivateDestinations", "maxAttempts", "concurrency", "timeoutMillis", "caFile"]
            guard let wo = w.objectValue else { throw Invalid(field: "webhooks", problem: "must be an object {\(known.joined(separator: ", "))}") }
            for k in wo.keys where !known.contains(k) {
                throw Invalid(field: "webhooks.\(k)", problem: "unknown field (known: \(known.joined(separator: ", ")))")
            }
            if let a = wo["allowPrivateDestinations"] {
                guard let b = a.boolValue else { throw Invalid(field: "webhooks.allowPrivateDestinations", problem: "must be true or false") }
                c.webhookPrivateDestinations = b
            }
            if let f = wo["caFile"] {
                guard let path = f.stringValue, FileManager.default.isReadableFile(atPath: path) else {
                    throw Invalid(field: "webhooks.caFile", problem: "must be the path of a readable PEM file")
                }
                c.webhookCAFile = path
            }
            for (k, lo, hi) in [("maxAttempts", 1, 1000), ("concurrency", 1, 1024), ("timeoutMillis", 100, 60_000)] {
                guard let v = wo[k] else { continue }
                guard case .number(let n) = v, let i = Int(n), (lo...hi).contains(i) else {
                    throw Invalid(field: "webhooks.\(k)", problem: "must be an integer from \(lo) to \(hi)")
                }
                switch k {
                case "maxAttempts": c.webhookMaxAttempts = i
                case "concurrency": c.webhookConcurrency = i
                default: c.webhookTimeoutMillis = i
                }
            }
        }
        if let d = try int("auditRetentionDays", min: 1, max: 36_500) { c.auditRetentionDays = d }
        if let d = try int("usageRetentionDays", min: 1, max: 3_650) { c.usageRetentionDays = d }
        if let v = o["accessLog"] {
            guard let a = v.objectValue else { throw Invalid(field: "accessLog", problem: "must be an object {path, maxBytes?, keep?}") }
            for k in a.keys where !["path", "maxBytes", "keep"].contains(k) {
                throw Invalid(field: "accessLog.\(k)", problem: "unknown field (known: path, maxBytes, keep)")
            }
            guard let path = a["path"]?.stringValue, !path.isEmpty else { throw Invalid(field: "accessLog.path", problem: "is required (a file path)") }
            var settings = AccessLogSettings(path: path.hasPrefix("/") ? path : baseDir + "/" + path)
            if let m = a["maxBytes"] {
                guard case .number(let n) = m, let i = Int(n), (1 << 16...1 << 40).contains(i) else {
                    throw Invalid(field: "accessLog.maxBytes", problem: "must be an integer from 65536 to 1099511627776")
                }
                settings.maxBytes = i
            }
            if let k = a["keep"] {
                guard case .number(let n) = k, let i = Int(n), (1...100).contains(i) else { throw Invalid(field: "accessLog.keep", problem: "must be an integer from 1 to 100") }
                settings.keep = i
            }
            c.accessLog = settings
        }
        if let v = o["rateLimit"] {
            guard let r = v.objectValue else { throw Invalid(field: "rateLimit", problem: "must be an object {perMinute, windowSeconds}") }
            for k in r.keys where !["perMinute", "windowSeconds"].contains(k) {
                throw Invalid(field: "rateLimit.\(k)", problem: "unknown field (known: perMinute, windowSeconds)")
            }
            if let p = r["perMinute"] {
                guard case .number(let n) = p, let i = UInt32(n), (1...1_000_000).contains(i) else {
                    throw Invalid(field: "rateLimit.perMinute", problem: "must be an integer from 1 to 1000000")
                }
                c.rateLimit.perMinute = i
            }
            if let w = r["windowSeconds"] {
                guard case .number(let n) = w, let i = Int(n), (1...3600).contains(i) else {
                    throw Invalid(field: "rateLimit.windowSeconds", problem: "must be an integer from 1 to 3600")
                }
                c.rateLimit.windowSeconds = i
            }
        }
        func files(_ field: String, _ v: JSONValue, required: [String], optional: [String] = []) throws -> [String: String] {
            guard let fo = v.objectValue else { throw Invalid(field: field, problem: "must be an object {\((required + optional).joined(separator: ", "))}") }
            for k in fo.keys where !(required + optional).contains(k) { throw Invalid(field: "\(field).\(k)", problem: "unknown field (known: \((required + optional).joined(separator: ", ")))") }
            var out = [String: String]()
            for k in required + optional {
                guard let raw = fo[k] else {
                    if required.contains(k) { throw Invalid(field: "\(field).\(k)", problem: "is required (a PEM file)") }
                    continue
                }
                guard let path = raw.stringValue.map({ $0.hasPrefix("/") ? $0 : baseDir + "/" + $0 }), FileManager.default.isReadableFile(atPath: path) else {
                    throw Invalid(field: "\(field).\(k)", problem: "must be a readable PEM file")
                }
                out[k] = path
            }
            return out
        }
        if let v = o["peerTLS"] {
            let f = try files("peerTLS", v, required: ["caFile", "certFile", "keyFile"])
            c.peerTLS = PeerTLSFiles(caFile: f["caFile"]!, certFile: f["certFile"]!, keyFile: f["keyFile"]!)
        }
        if let v = o["httpTLS"] {
            let f = try files("httpTLS", v, required: ["certFile", "keyFile"], optional: ["caFile"])
            c.httpTLS = HTTPTLSFiles(certFile: f["certFile"]!, keyFile: f["keyFile"]!, caFile: f["caFile"])
        }
        if let v = o["insecurePlainPeers"] {
            guard let b = v.boolValue else { throw Invalid(field: "insecurePlainPeers", problem: "must be true or false") }
            c.insecurePlainPeers = b
        }
        if c.peerTLS == nil && !c.insecurePlainPeers {
            let exposed = ([c.raftListen] + c.peers.map(\.raft)).filter { !Self.isLoopback($0.host) }
            if let a = exposed.first {
                throw Invalid(field: "peerTLS", problem: "is required when peer links leave this machine (\(a) is not a loopback address): "
                              + "issue certificates with `infrastack certs`, or set \"insecurePlainPeers\": true to send Raft traffic in the clear")
            }
        }
        return c
    }

    static func parseRPC(_ v: JSONValue) throws -> RPCSettings {
        guard let o = v.objectValue else { throw Invalid(field: "rpc", problem: "must be an object") }
        let known: Set<String> = ["forward", "maxBatch", "maxLogBlockRange", "maxLogResults", "maxWaitMillis"]
        for k in o.keys where !known.contains(k) { throw Invalid(field: "rpc.\(k)", problem: "unknown field (known: \(known.sorted().joined(separator: ", ")))") }
        var r = RPCSettings()
        func int(_ k: String, _ lo: Int, _ hi: Int) throws -> Int? {
            guard let x = o[k] else { return nil }
            guard case .number(let n) = x, let i = Int(n), (lo...hi).contains(i) else { throw Invalid(field: "rpc.\(k)", problem: "must be an integer between \(lo) and \(hi)") }
            return i
        }
        if let f = o["forward"] {
            guard let b = f.boolValue else { throw Invalid(field: "rpc.forward", problem: "must be true or false") }
            r.forward = b
        }
        r.maxBatch = try int("maxBatch", 1, 10_000) ?? r.maxBatch
        r.maxLogBlockRange = UInt64(try int("maxLogBlockRange", 1, 10_000_000) ?? Int(r.maxLogBlockRange))
        r.maxLogResults = try int("maxLogResults", 1, 1_000_000) ?? r.maxLogResults
        r.maxWaitMillis = try int("maxWaitMillis", 0, 60_000) ?? r.maxWaitMillis
        return r
    }

    /// An upstream: a URL string, or an object with the URL, extra headers and TLS settings.
    static func parseUpstream(_ v: JSONValue, field f: String) throws -> UpstreamEndpoint {
        var e: UpstreamEndpoint
        if let s = v.stringValue {
            e = UpstreamEndpoint(url: s)
        } else if let o = v.objectValue {
            let known: Set<String> = ["url", "ws", "headers", "caFile", "insecureSkipVerify"]
            for k in o.keys where !known.contains(k) { throw Invalid(field: "\(f).\(k)", problem: "unknown field (known: \(known.sorted().joined(separator: ", ")))") }
            guard let url = o["url"]?.stringValue else { throw Invalid(field: "\(f).url", problem: "is required") }
            e = UpstreamEndpoint(url: url)
            if let w = o["ws"] {
                guard let ws = w.stringValue, let u = try? HTTPURL(parsing: ws), u.scheme == .ws || u.scheme == .wss else {
                    throw Invalid(field: "\(f).ws", problem: "must be the provider's ws:// or wss:// URL (for newHeads)")
                }
                e.ws = ws
            }
            if let h = o["headers"] {
                guard let ho = h.objectValue else { throw Invalid(field: "\(f).headers", problem: "must be an object of header names to values") }
                for (name, value) in ho.pairs {
                    guard !name.isEmpty, name.utf8.allSatisfy({ (0x21...0x7e).contains($0) && $0 != UInt8(ascii: ":") }),
                          let text = value.stringValue, !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
                        throw Invalid(field: "\(f).headers", problem: "header \(boundedQuote(name)) must be a token with a string value without control characters")
                    }
                    e.headers[name] = text
                }
            }
            var tls = TLSConfiguration(role: .client)
            if let ca = o["caFile"] {
                guard let path = ca.stringValue, FileManager.default.isReadableFile(atPath: path) else { throw Invalid(field: "\(f).caFile", problem: "must be a readable PEM file") }
                tls.caFile = path
            }
            if let skip = o["insecureSkipVerify"] {
                guard let b = skip.boolValue else { throw Invalid(field: "\(f).insecureSkipVerify", problem: "must be true or false") }
                tls.insecureSkipVerify = b
            }
            if tls != TLSConfiguration(role: .client) { e.tls = tls }
        } else {
            throw Invalid(field: f, problem: "must be a URL string or an object {url, headers, caFile, insecureSkipVerify}")
        }
        let url: HTTPURL
        do { url = try HTTPURL(parsing: e.url) } catch { throw Invalid(field: f, problem: "\(error)") }
        guard url.scheme == .http || url.scheme == .https else { throw Invalid(field: f, problem: "must be an http:// or https:// URL") }
        if e.tls != nil, !url.usesTLS, !(e.ws?.lowercased().hasPrefix("wss://") ?? false) {
            throw Invalid(field: f, problem: "caFile and insecureSkipVerify apply to https:// and wss:// URLs only")
        }
        do { _ = try e.makeClient(timeoutMillis: 1000) } catch { throw Invalid(field: f, problem: "\(error)") }
        return e
    }

    /// A chain's settings (the `chain` object, or one of `chains` without its slug and
    /// parent), validated into an indexer configuration; errors name `field`.`key`.
    public static func parseChain(_ v: JSONValue, field: String = "chain") throws -> Indexer.Config {
        guard let o = v.objectValue else { throw Invalid(field: field, problem: "must be an object") }
        let known: Set<String> = ["chainId", "adapter", "upstreams", "batchBlocks", "maxEntryBytes", "pollMillis", "maxReorgDepth", "startBlock", "stateSource", "checks", "tracer"]
        for k in o.keys where !known.contains(k) { throw Invalid(field: "\(field).\(k)", problem: "unknown field (known: \(known.sorted().joined(separator: ", ")))") }
        func int(_ k: String, min: UInt64, max: UInt64) throws -> UInt64? {
            guard let x = o[k] else { return nil }
            guard case .number(let n) = x, let i = UInt64(n), (min...max).contains(i) else { throw Invalid(field: "\(field).\(k)", problem: "must be an integer between \(min) and \(max)") }
            return i
        }
        guard let cid = try int("chainId", min: 1, max: UInt64(Int64.max)) else { throw Invalid(field: "\(field).chainId", problem: "is required") }
        let adapterName = o["adapter"]?.stringValue ?? "ethereum"
        var custom: CustomChainAdapter? = nil
        if adapterName == "custom" {
            var checks = Set(BlockCheck.allCases)
            if let list = o["checks"] {
                guard let arr = list.arrayValue else { throw Invalid(field: "\(field).checks", problem: "must be an array of check names") }
                checks = []
                for (i, c) in arr.enumerated() {
                    guard let name = c.stringValue, let check = BlockCheck(rawValue: name) else {
                        throw Invalid(field: "\(field).checks[\(i)]", problem: "unknown check (known: \(BlockCheck.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    checks.insert(check)
                }
            }
            custom = CustomChainAdapter(checks: checks, expectsTracer: o["tracer"]?.boolValue ?? false)
        }
        guard let adapter = ChainAdapters.named(adapterName, custom: custom) else {
            throw Invalid(field: "\(field).adapter", problem: "unknown adapter \(adapterName) (known: \(ChainAdapters.names.joined(separator: ", ")))")
        }
        guard let ups = o["upstreams"]?.arrayValue, !ups.isEmpty else {
            throw Invalid(field: "\(field).upstreams", problem: "is required: a non-empty array of http(s):// URLs or {url, headers, caFile, insecureSkipVerify} objects")
        }
        let urls = try ups.enumerated().map { (i, u) in try parseUpstream(u, field: "\(field).upstreams[\(i)]") }
        var cfg = Indexer.Config(chainId: cid, adapter: adapter, upstreams: urls)
        cfg.batchBlocks = Int(try int("batchBlocks", min: 1, max: 10_000) ?? UInt64(cfg.batchBlocks))
        cfg.maxEntryBytes = Int(try int("maxEntryBytes", min: 64 << 10, max: 64 << 20) ?? UInt64(cfg.maxEntryBytes))
        cfg.pollMillis = Int(try int("pollMillis", min: 10, max: 600_000) ?? UInt64(cfg.pollMillis))
        cfg.maxReorgDepth = try int("maxReorgDepth", min: 1, max: 100_000) ?? cfg.maxReorgDepth
        cfg.startBlock = try int("startBlock", min: 0, max: UInt64(Int64.max)) ?? 0
        if let s = o["stateSource"] {
            guard let mode = s.stringValue.flatMap(Indexer.StateMode.init(rawValue:)) else {
                throw Invalid(field: "\(field).stateSource", problem: "must be auto, tracer or probe")
            }
            cfg.stateSource = mode
        }
        return cfg
    }

    public var httpURL: String { "\(httpTLS == nil ? "http" : "https")://\(httpListen)" }
    public var adminURL: String? { adminListen.map { "\(httpTLS == nil ? "http" : "https")://\($0)" } }

    static func isLoopback(_ host: String) -> Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}
