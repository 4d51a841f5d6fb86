import Chain
import ChainIndex

/// `Transaction`: a stored transaction object (mined: with its block and receipt), or a
/// pending one from the upstream (`blockNumber` nil: receipt fields are null).
struct TransactionValue: ObjectValue {
    let ctx: EthereumContext
    let tx: JSONObject
    let blockNumber: UInt64?
    let index: Int?
    var typeName: String { "Transaction" }

    /// A mined transaction looked up by hash.
    static func byHash(_ ctx: EthereumContext, _ hash: Hash32) throws -> TransactionValue? {
        guard let t = try ctx.transaction(hash: hash) else { return nil }
        return TransactionValue(ctx: ctx, tx: t, blockNumber: t.number("blockNumber"), index: t.number("transactionIndex").map { Int($0) })
    }

    private func receipt() throws -> JSONObject? {
        guard let n = blockNumber, let i = index else { return nil }
        return try ctx.receipt(block: n, index: i)
    }

    private func account(_ key: String, _ arguments: Arguments) -> Resolved {
        guard let a = tx[key]?.stringValue else { return .null }
        return .object(AccountValue(ctx: ctx, address: a, source: accountSource(arguments)))
    }

    private func accountSource(_ arguments: Arguments) -> AccountValue.Source {
        if let b = arguments.uint64("block") { return .indexed(b) }
        return blockNumber.map { .indexed($0) } ?? .pending
    }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "hash", "value", "r", "s": return try tx.required(field, of: "transaction")
        case "v":
            // Typed transactions may carry only yParity; v equals it there.
            return tx.has("v") ? tx.raw("v") : try tx.required("yParity", of: "transaction")
        case "yParity": return tx.raw("yParity")
        case "inputData": return try tx.required("input", of: "transaction")
        case "nonce", "gas": return tx.long(field)
        case "type": return tx.has("type") ? tx.long("type") : .int(0)
        case "index": return index.map { .int($0) } ?? .null
        case "from": return account("from", arguments)
        case "to": return account("to", arguments)
        case "gasPrice":
            // Mined transactions carry the effective price here; fall back to the receipt's.
            if tx.has("gasPrice") { return tx.raw("gasPrice") }
            if let r = try receipt(), r.has("effectiveGasPrice") { return r.raw("effectiveGasPrice") }
            return try tx.required("maxFeePerGas", of: "transaction")
        case "maxFeePerGas", "maxPriorityFeePerGas", "maxFeePerBlobGas": return tx.raw(field)
        case "effectiveTip": return try effectiveTip()
        case "accessList":
            guard let list = tx["accessList"]?.arrayValue else { return .null }
            return .list(list.compactMap { $0.objectValue.map { .object(AccessTupleValue(entry: $0)) } })
        case "blobVersionedHashes":
            guard let list = tx["blobVersionedHashes"]?.arrayValue else { return .null }
            return .list(list.map { .leaf($0) })
        case "block": return blockNumber.map { .object(BlockValue(ctx: ctx, number: $0)) } ?? .null
        case "status", "gasUsed", "cumulativeGasUsed", "blobGasUsed":
            return try receipt()?.long(field) ?? .null
        case "effectiveGasPrice", "blobGasPrice":
            return try receipt()?.raw(field) ?? .null
        case "createdContract":
            guard let a = try receipt()?["contractAddress"]?.stringValue else { return .null }
            return .object(AccountValue(ctx: ctx, address: a, source: accountSource(arguments)))
        case "logs":
            guard let r = try receipt() else { return .null }
            return .list((r["logs"]?.arrayValue ?? []).compactMap { $0.objectValue.map { .object(LogValue(ctx: ctx, log: $0)) } })
        case "raw":
            do { return .leaf(.string(Hex.encode(try Transaction(json: tx).envelope))) } catch { throw FieldFailure("cannot encode the transaction: \(error)") }
        case "rawReceipt":
            guard let r = try receipt() else { throw FieldFailure("the transaction has no receipt yet") }
            do { return .leaf(.string(Hex.encode(try Receipt(json: r).encoded))) } catch { throw FieldFailure("cannot encode the receipt: \(error)") }
        default: return .null
        }
    }

    /// Price paid per gas minus the block's base fee (the whole price before London).
    private func effectiveTip() throws -> Resolved {
        guard let n = blockNumber, let b = try ctx.block(n) else { return .null }
        let priceText = try receipt()?["effectiveGasPrice"]?.stringValue ?? tx["gasPrice"]?.stringValue
        guard let priceText, let price = try? U256(quantity: priceText) else { return .null }
        guard let feeText = b["baseFeePerGas"]?.stringValue, let fee = try? U256(quantity: feeText) else { return .leaf(.string(price.quantity)) }
        return .leaf(.string((price < fee ? .zero : price - fee).quantity))
    }
}

/// `AccessTuple`, from a stored access list entry.
struct AccessTupleValue: ObjectValue {
    let entry: JSONObject
    var typeName: String { "AccessTuple" }
    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "address": return entry.raw("address")
        case "storageKeys": return .list((entry["storageKeys"]?.arrayValue ?? []).map { .leaf($0) })
        default: return .null
        }
    }
}
