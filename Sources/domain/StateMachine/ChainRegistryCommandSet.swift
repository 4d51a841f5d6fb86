import ChainIndex
import Storage

/// The set of chains the cluster follows (`ChainRegistryCommand`).
struct ChainRegistryCommandSet: CommandSet {
    let registry: ChainRegistry
    var name: String { "chain registry" }
    var tags: [UInt8] { [ChainRegistryCommand.tag] }
    var tableNames: [String] { [ChainRegistry.tableName] }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let outcome = try registry.apply(try ChainRegistryCommand.decode(data), in: txn)
        if let why = outcome.skipped { effects.skipped.append(why) }
    }
}
