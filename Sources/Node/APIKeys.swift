import Chain
import Net
import Replication

/// API keys for the read surfaces. A key arrives in a header (`X-API-Key: k` or
/// `Authorization: Bearer k`) or, as hosted providers do, as the first path segment
/// after `/k/` (`POST /k/<key>` for JSON-RPC, `/k/<key>/graphql`, `/k/<key>/v1/chain/…`).
/// Only SHA-256 digests of the keys are kept, compared in constant time; keys never
/// reach the logs. No keys configured means open access (development).
struct APIKeys: Sendable {
    private let digests: [[UInt8]]

    init(_ keys: [String]) { digests = keys.map { SHA256.hash(Array($0.utf8)) } }

    var required: Bool { !digests.isEmpty }

    enum Outcome: Equatable { case allowed(path: String), denied(String) }

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
        guard required else { return .allowed(path: path) }
        guard let k = presented, !k.isEmpty else {
            return .denied("an API key is required: send X-API-Key, Authorization: Bearer, or use the /k/<key>/ path prefix")
        }
        let d = SHA256.hash(Array(k.utf8))
        // Compare against every digest without an early exit.
        var match = false
        for known in digests {
            var diff: UInt8 = 0
            for i in 0..<known.count { diff |= known[i] ^ d[i] }
            match = match || diff == 0
        }
        return match ? .allowed(path: path) : .denied("unknown API key")
    }
}
