import Foundation
import Net

/// `infrastack certs init|issue`: a cluster CA and per-node certificates for TLS between
/// peers (and optionally the nodes' HTTPS listeners).
enum CertsCommand {
    static let usage = """
    usage: infrastack certs init  --dir DIR [--name NAME] [--days N]
           infrastack certs issue --dir DIR --node-id N --hosts H[,H...] [--days N] [--out PREFIX]

      init   creates the cluster CA in DIR (ca.pem, and ca.key readable by its owner only);
             keep ca.key off the nodes once they have their certificates
      issue  signs a certificate for node N, valid for the listed hosts (the IP addresses and
             DNS names peers and clients reach it at), usable as server and client; writes
             PREFIX.pem and PREFIX.key (default DIR/node-N)

    Defaults: --name "InfraStack cluster CA", CA --days 3650, node --days 825.
    Configure each node with "peerTLS": {"caFile": "DIR/ca.pem", "certFile": "…/node-N.pem",
    "keyFile": "…/node-N.key"}; peers must present a certificate from the same CA.
    """

    static func run(_ args: [String]) -> Int32 {
        runCommand(usage: usage, args, valued: ["dir", "name", "days", "node-id", "hosts", "out"]) { o in
            let dir = try o.require("dir")
            switch o.positional.first {
            case "init":
                let days = try Self.days(o, default: 3650)
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try Certificates.createAuthority(in: dir, name: o.values["name"] ?? "InfraStack cluster CA", days: days)
                print("wrote \(dir)/ca.pem and \(dir)/ca.key (valid \(days) days)")
                return 0
            case "issue":
                guard let id = UInt64(try o.require("node-id")), id > 0 else { throw Options.Problem(description: "--node-id must be a positive integer") }
                let hosts = try o.require("hosts").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let days = try Self.days(o, default: 825)
                let out = o.values["out"] ?? "\(dir)/node-\(id)"
                try Certificates.issue(caDirectory: dir, commonName: "infrastack-node-\(id)", hosts: hosts, days: days, out: out)
                print("wrote \(out).pem and \(out).key for node \(id) (\(hosts.joined(separator: ", ")); valid \(days) days)")
                return 0
            default:
                throw Options.Problem(description: "expected 'init' or 'issue'")
            }
        }
    }

    static func days(_ o: Options, default d: Int) throws -> Int {
        guard let text = o.values["days"] else { return d }
        guard let n = Int(text), (1...36500).contains(n) else { throw Options.Problem(description: "--days must be 1 to 36500") }
        return n
    }
}
