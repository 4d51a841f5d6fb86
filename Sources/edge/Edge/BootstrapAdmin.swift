import Foundation
import Glibc
import StateMachine
import Telemetry
import Tenancy

/// A new cluster's first cluster-admin user. The first leader that finds no user at all
/// creates `admin` (user id 1, so two leaders racing at the start create one user: the
/// second proposal is skipped) with a fresh personal token, and hands the token over once:
/// in the file `bootstrap-admin-token` of its data directory (mode 0600; `cluster/up` prints
/// it and moves it away) and, when its standard output is a terminal, on the screen. The
/// token never reaches a log line; the log says where the file is.
public final class BootstrapAdmin: Sendable {
    let node: ChainNode
    let dataDir: String
    let logger: Logger

    static let userId: UInt64 = 1
    public static let fileName = "bootstrap-admin-token"

    public init(node: ChainNode, dataDir: String, logger: Logger) {
        self.node = node
        self.dataDir = dataDir
        self.logger = logger
    }

    var path: String { dataDir + "/" + Self.fileName }

    /// One attempt; true once the cluster has a user (made here or anywhere else), so the
    /// caller stops trying.
    public func step() -> Bool {
        let r = node.report
        guard r.corruption == nil, r.status.role == .leader, r.appliedIndex >= r.status.committed else { return false }
        guard let users = try? node.stateMachine.tenantView({ d, txn in try d.users(txn).count }) else { return false }
        guard users == 0 else { return true }
        let (token, hash) = newTenantSecret(prefix: UserAdmin.tokenPrefix)
        let user = User(id: Self.userId, name: "admin", tokenHash: hash, clusterAdmin: true, createdMillis: unixMillis())
        guard case .applied = node.propose(raw: TenantCommand.createUser(user).encoded(), timeoutMillis: 5000) else { return false }
        guard let stored = (try? node.stateMachine.tenantView({ d, txn in try d.user(Self.userId, txn) })) ?? nil else { return false }
        // Another leader's bootstrap won the race: its token is the one.
        guard stored.tokenHash == hash else { return true }
        precondition(stored.clusterAdmin, "the bootstrap user is a cluster admin")
        hand(over: token)
        return true
    }

    private func hand(over token: String) {
        let old = umask(0o077)
        defer { umask(old) }
        let written = FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        logger.info("bootstrap_admin_created", [("user", "admin"), ("tokenFile", written ? path : "not written"),
                                                ("next", "store the token, delete the file; infrastack whoami --token-file \(path)")])
        if isatty(STDOUT_FILENO) == 1 {
            print("\nFirst start: cluster-admin user \"admin\" created. Its token, shown this once:\n\n    \(token)\n\nStore it (a password manager); the copy in \(path) is for scripts: delete it.\n")
        }
        if !written { logger.error("bootstrap_admin_token_not_written", [("path", path), ("why", "cannot create the file; reset the token with POST /v1/users/0000000000000001/token")]) }
    }
}
