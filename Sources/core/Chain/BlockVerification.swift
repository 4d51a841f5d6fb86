/// Recomputes everything a block's header commits to and compares it with what the
/// upstream claims. The indexer refuses a block unless every applicable check passes.
public enum BlockCheck: String, Sendable, CaseIterable {
    case headerHash, transactionHashes, transactionsRoot, receiptsRoot, receiptBlooms, logsBloom, withdrawalsRoot
}

public struct VerificationFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public let check: BlockCheck
    public let detail: String
    public var description: String { "\(check.rawValue) mismatch: \(detail)" }
}

public struct VerificationReport: Sendable {
    public var number: UInt64
    public var hash: Hash32
    /// Checks that had the data they need and ran.
    public var performed: [BlockCheck] = []
    public var failures: [VerificationFailure] = []
    public var ok: Bool { failures.isEmpty }
}

public enum BlockVerifier {
    /// Verifies a block object (full transactions or hashes) and, when given, its receipts
    /// ordered by transaction index. Malformed input throws naming the field; a well-formed
    /// block whose commitments do not match is reported in `failures`.
    public static func verify(block o: JSONObject, receipts: [JSONValue]? = nil) throws(FieldError) -> VerificationReport {
        let header = try Header(json: o)
        let claimed = try o.hash("hash")
        var r = VerificationReport(number: header.number, hash: claimed)

        func check(_ c: BlockCheck, _ expected: Hash32, _ computed: Hash32) {
            r.performed.append(c)
            if expected != computed { r.failures.append(VerificationFailure(check: c, detail: "header says \(expected), computed \(computed)")) }
        }

        check(.headerHash, claimed, header.hash)

        // Header-only answers (no transactions, or hashes only) cannot prove the transactions root.
        let txValues = o.has("transactions") ? try o.array("transactions") : []
        let fullTransactions = o.has("transactions") && txValues.allSatisfy { $0.objectValue != nil }
        if fullTransactions {
            var envelopes = [[UInt8]]()
            var hashFailures = [String]()
            for (i, v) in txValues.enumerated() {
                let path = "transactions[\(i)]"
                let obj = try v.object(at: path)
                let tx: Transaction
                do { tx = try Transaction(json: obj) } catch { throw error.within(path) }
                envelopes.append(tx.envelope)
                if obj.has("hash") {
                    let stated: Hash32
                    do { stated = try obj.hash("hash") } catch { throw error.within(path) }
                    if stated != tx.hash { hashFailures.append("\(path) says \(stated), computed \(tx.hash)") }
                }
            }
            r.performed.append(.transactionHashes)
            if !hashFailures.isEmpty { r.failures.append(VerificationFailure(check: .transactionHashes, detail: hashFailures.joined(separator: "; "))) }
            check(.transactionsRoot, header.transactionsRoot, MerklePatriciaTrie(orderedValues: envelopes).root)
        }

        if let receipts {
            var encoded = [[UInt8]]()
            var union = Bloom()
            var bloomFailures = [String]()
            for (i, v) in receipts.enumerated() {
                let path = "receipts[\(i)]"
                let rc: Receipt
                do { rc = try Receipt(json: try v.object(at: path)) } catch { throw error.field.hasPrefix(path) ? error : error.within(path) }
                encoded.append(rc.encoded)
                if rc.computedBloom != rc.logsBloom { bloomFailures.append("\(path) logsBloom does not match its logs") }
                union.formUnion(rc.logsBloom)
            }
            check(.receiptsRoot, header.receiptsRoot, MerklePatriciaTrie(orderedValues: encoded).root)
            r.performed.append(.receiptBlooms)
            if !bloomFailures.isEmpty { r.failures.append(VerificationFailure(check: .receiptBlooms, detail: bloomFailures.joined(separator: "; "))) }
            r.performed.append(.logsBloom)
            if union != header.logsBloom { r.failures.append(VerificationFailure(check: .logsBloom, detail: "block logsBloom is not the union of its receipts' blooms")) }
        }

        if let root = header.withdrawalsRoot, o.has("withdrawals") {
            var encoded = [[UInt8]]()
            for (i, v) in try o.array("withdrawals").enumerated() {
                let path = "withdrawals[\(i)]"
                do { encoded.append(try Withdrawal(json: try v.object(at: path)).encoded) } catch { throw error.field.hasPrefix(path) ? error : error.within(path) }
            }
            check(.withdrawalsRoot, root, MerklePatriciaTrie(orderedValues: encoded).root)
        }
        return r
    }
}
