import Foundation
import Hashing

/// Signing per the Standard Webhooks specification: a secret is `whsec_` and the base64 of
/// the key; a delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
/// `webhook-signature`, a space-separated list of `v1,` and the base64 of
/// HMAC-SHA256(key, id ‖ "." ‖ timestamp ‖ "." ‖ body) — one per valid secret, so a
/// receiver holding either secret during a rotation accepts it.
public enum StandardWebhooks {
    public static let prefix = "whsec_"

    /// A new secret: 32 random bytes.
    public static func newSecret() -> String {
        var g = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        return prefix + Data(key).base64EncodedString()
    }

    /// The HMAC key a secret holds, or nil when it is not `whsec_` and base64.
    public static func key(_ secret: String) -> [UInt8]? {
        guard secret.hasPrefix(prefix), let d = Data(base64Encoded: String(secret.dropFirst(prefix.count))), !d.isEmpty else { return nil }
        return Array(d)
    }

    /// The `webhook-signature` header value for `body`, signed with every secret given.
    public static func signature(secrets: [String], id: String, timestamp: UInt64, body: [UInt8]) -> String {
        precondition(!secrets.isEmpty, "a delivery is signed with at least one secret")
        let content = Array("\(id).\(timestamp).".utf8) + body
        return secrets.compactMap(key).map { k in
            "v1," + Data(HMACSHA256.authenticationCode(for: content, key: k)).base64EncodedString()
        }.joined(separator: " ")
    }

    /// Whether `header` holds a valid signature of `body` by `secret` (the receiving side;
    /// the tests check it against the reference implementation too).
    public static func verify(header: String, secret: String, id: String, timestamp: UInt64, body: [UInt8]) -> Bool {
        guard let k = key(secret) else { return false }
        let expected = HMACSHA256.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, key: k)
        return header.split(separator: " ").contains { part in
            guard part.hasPrefix("v1,"), let d = Data(base64Encoded: String(part.dropFirst(3))) else { return false }
            return ConstantTime.equals(Array(d), expected)
        }
    }
}
