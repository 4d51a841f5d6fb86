import Foundation
import Hashing
import Chain
import Net
import Tenancy

/// Secrets kept only as SHA-256 digests and compared in constant time, so neither the
/// secret nor the position of the first differing byte leaks; shared by API keys and the
/// admin token.
struct SecretDigests: Sendable {
    private let digests: [[UInt8]]

    init(_ secrets: [String]) { digests = secrets.map { SHA256.hash(Array($0.utf8)) } }

    var isEmpty: Bool { digests.isEmpty }

    /// The index of the matching secret, checked against every digest without an early exit.
    func match(_ presented: String) -> Int? {
        let d = SHA256.hash(Array(presented.utf8))
        var found: Int? = nil
        for (i, known) in digests.enumerated() {
            precondition(known.count == d.count, "SHA-256 digests are 32 bytes")
            var diff: UInt8 = 0
            for j in 0..<known.count { diff |= known[j] ^ d[j] }
            if diff == 0 && found == nil { found = i }
        }
        return found
    }

    /// A short, stable, non-secret name for a secret (for per-caller limits; never the secret).
    static func fingerprint(_ presented: String) -> String {
        "key:" + Hex.encodeBare(Array(SHA256.hash(Array(presented.utf8)).prefix(6)))
    }
}

/// API keys for the read surfaces. A key arrives in a header (`X-API-Key: k` or
/// `Authorization: Bearer k`) or, as hosted providers do, as the first path segment
/// after `/k/` (`POST /k/<key>` for JSON-RPC, `/k/<key>/graphql`, `/k/<key>/v1/chain/…`).
/// Keys never reach the logs. Config-file keys are cluster-wide; an organisation's keys
/// (`/v1/api-keys`) are looked up by their SHA-256 in the replicated tenant tables and act
/// for that organisation. No config-file keys means open access (development), but a
/// presented organisation key still acts for its organisation.
struct APIKeys: Sendable {
    private let digests: SecretDigests
    /// An organisation's key opened by a secret with this SHA-256 now, or nil; its
    /// `ratePerMinute` is the key's own limit, else its organisation's, else 0 (the default).
    let tenantKey: @Sendable ([UInt8]) -> APIKeyRecord?

    init(_ keys: [String], tenantKey: @escaping @Sendable ([UInt8]) -> APIKeyRecord? = { _ in nil }) {
        digests = SecretDigests(keys)
        self.tenantKey = tenantKey
    }

    var required: Bool { !digests.isEmpty }

    /// How organisations' secrets start (`KeyAdmin.newSecret`).
    static let tenantPrefix = "isk_"

    /// Who asked: the key's fingerprint, or on an open node the client's address.
    enum Outcome: Equatable {
        case allowed(path: String, credential: Principal.Credential, organisation: UInt64?, mayWrite: Bool, ratePerMinute: UInt32)
        case denied(String)
    }

    /// Strips a `/k/<key>` prefix from the path and checks whichever key was presented.
    func check(_ req: HTTPRequest) -> Outcome {
        var path = req.path
        var presented: String? = nil
        if path.hasPrefix("/k/") {
            let rest = path.dropFirst(3)
            let key = rest.prefix { $0 != "/" }
            presented = String(key)
            path = String(rest.dropFirst(key.count))
            if path.isEmpty { path = "/" }
        }
        if presented == nil, let h = req.header("X-API-Key") { presented = h }
        if presented == nil, let a = req.header("Authorization"), a.lowercased().hasPrefix("bearer ") { presented = String(a.dropFirst(7)) }
        if let k = presented, !k.isEmpty {
            if digests.match(k) != nil { return .allowed(path: path, credential: .apiKey(fingerprint: SecretDigests.fingerprint(k)), organisation: nil, mayWrite: true, ratePerMinute: 0) }
            if let record = tenantKey(SHA256.hash(Array(k.utf8))) {
                if let why = Self.restriction(record, req) { return .denied(why) }
                return .allowed(path: path, credential: .tenantKey(id: record.id), organisation: record.org, mayWrite: record.permissions == .readWrite,
                                ratePerMinute: record.ratePerMinute)
            }
            // An organisation's key that opens nothing is refused even on an open node: it
            // was revoked or rotated out, and must not quietly turn into open access.
            if k.hasPrefix(Self.tenantPrefix) { return .denied("this API key is not valid: revoked, rotated out past its grace period, or never issued") }
        }
        guard required else { return .allowed(path: path, credential: .open(address: Self.host(req.remote)), organisation: nil, mayWrite: true, ratePerMinute: 0) }
        guard let k = presented, !k.isEmpty else {
            return .denied("an API key is required: send X-API-Key, Authorization: Bearer, or use the /k/<key>/ path prefix")
        }
        return .denied("unknown API key")
    }

    /// Why an organisation's key may not be used from here, or nil: with `cidrs` the client's
    /// address must be in one; with `origins` the request must carry a matching `Origin`
    /// (browsers always send it; a key meant for a web page is refused elsewhere).
    static func restriction(_ key: APIKeyRecord, _ req: HTTPRequest) -> String? {
        if !key.cidrs.isEmpty {
            let host = Self.host(req.remote).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            guard key.cidrs.contains(where: { CIDR($0)?.contains(host) == true }) else {
                return "this API key is not allowed from \(host) (its allowed networks: \(key.cidrs.joined(separator: ", ")))"
            }
        }
        if !key.origins.isEmpty {
            guard let origin = req.header("Origin"), key.origins.contains(where: { $0.lowercased() == origin.lowercased() }) else {
                return "this API key is allowed only from the origins \(key.origins.joined(separator: ", ")) (send a matching Origin header)"
            }
        }
        return nil
    }

    /// The host part of "host:port" / "[v6]:port".
    static func host(_ remote: String) -> String {
        guard let colon = remote.lastIndex(of: ":") else { return remote }
        return String(remote[..<colon])
    }
}
