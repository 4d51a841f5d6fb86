import Storage
import Tenancy

/// Organisations, users, memberships, API keys and chain ownership (`TenantCommand`).
struct TenantCommandSet: CommandSet {
    let directory: TenantDirectory
    var name: String { "tenants" }
    var tags: [UInt8] { [TenantCommand.tag] }
    var tableNames: [String] { TenantDirectory.tableNames }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let outcome = try directory.apply(try TenantCommand.decode(data), in: txn)
        if let why = outcome.skipped { effects.skipped.append(why) }
    }
}
