import Alerts
import Storage
import Tenancy
import Webhooks

/// Organisations, users, memberships, API keys and chain ownership (`TenantCommand`).
struct TenantCommandSet: CommandSet {
    let directory: TenantDirectory
    var name: String { "tenants" }
    var tags: [UInt8] { [TenantCommand.tag] }
    var tableNames: [String] { TenantDirectory.tableNames }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let command = try TenantCommand.decode(data)
        let outcome = try directory.apply(command, in: txn)
        if let why = outcome.skipped { effects.skipped.append(why); return }
        switch command {
        case .audit, .usage, .compactAudit, .compactUsage: break
        default: effects.tenantsChanged = true
        }
    }
}

/// Webhook subscriptions, delivery cursors and attempts (`WebhookCommand`).
struct WebhookCommandSet: CommandSet {
    let directory: WebhookDirectory
    var name: String { "webhooks" }
    var tags: [UInt8] { [WebhookCommand.tag] }
    var tableNames: [String] { WebhookDirectory.tableNames }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let outcome = try directory.apply(try WebhookCommand.decode(data), in: txn)
        if let why = outcome.skipped { effects.skipped.append(why) }
    }
}

/// Alert rules and incidents (`AlertCommand`).
struct AlertCommandSet: CommandSet {
    let directory: AlertDirectory
    var name: String { "alerts" }
    var tags: [UInt8] { [AlertCommand.tag] }
    var tableNames: [String] { AlertDirectory.tableNames }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let outcome = try directory.apply(try AlertCommand.decode(data), in: txn)
        if let why = outcome.skipped { effects.skipped.append(why) }
    }
}
