import ChainIndex
import Storage

/// Verified blocks and rewinds of the chains the cluster follows (`ChainCommand`).
struct ChainCommandSet: CommandSet {
    let index: ChainIndex
    let registry: ChainRegistry
    var name: String { "chain" }
    var tags: [UInt8] { [ChainCommand.tag] }
    var tableNames: [String] { ChainTables.names }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let command = try ChainCommand.decode(data)
        // Blocks a stopping indexer proposed before its chain was removed must not bring
        // back data the purge steps are deleting.
        if try registry.record(command.chainId, txn)?.state == .removing {
            effects.skipped.append("chain \(command.chainId) is being removed")
            return
        }
        let outcome = try index.apply(command, in: txn)
        effects.skipped += outcome.skipped
        effects.chainEvents += outcome.events
    }
}
