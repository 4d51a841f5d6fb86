import ChainIndex
import Storage

/// Verified blocks and rewinds of the chains the cluster follows (`ChainCommand`).
struct ChainCommandSet: CommandSet {
    let index: ChainIndex
    var name: String { "chain" }
    var tags: [UInt8] { [ChainCommand.tag] }
    var tableNames: [String] { ChainTables.names }

    func apply(_ data: [UInt8], in txn: WriteTransaction, effects: inout ApplyEffects) throws {
        let outcome = try index.apply(try ChainCommand.decode(data), in: txn)
        effects.skipped += outcome.skipped
        effects.chainEvents += outcome.events
    }
}
