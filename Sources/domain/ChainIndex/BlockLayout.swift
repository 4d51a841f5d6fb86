import ByteCodec
import Chain

/// Where the pieces apply stores sit inside a block's JSON and its receipts' JSON, and the
/// few fields the indexes key on (transaction hashes, log index, address, topics).
///
/// The leader finds them once and ships them in the entry (chain command version 2), so
/// replicas apply without parsing any JSON; entries of version 1 carry none and each
/// replica finds them itself. Either way apply stores the same bytes.
public struct BlockLayout: Equatable, Sendable {
    public struct Log: Equatable, Sendable {
        /// The log object inside the receipts JSON.
        public var range: Range<Int>
        public var index: UInt32
        public var address: Address
        /// (position 0...3, topic), in order.
        public var topics: [Topic]
    }

    public struct Topic: Equatable, Sendable {
        public var position: UInt8
        public var value: Hash32
    }

    /// The `transactions` array (brackets included) inside the block JSON.
    public var transactionsRange: Range<Int>
    public var transactions: [(range: Range<Int>, hash: Hash32)]
    /// Each receipt object inside the receipts array.
    public var receipts: [Range<Int>]
    public var logs: [Log]

    public static func == (a: BlockLayout, b: BlockLayout) -> Bool {
        a.transactionsRange == b.transactionsRange && a.receipts == b.receipts && a.logs == b.logs
            && a.transactions.map(\.range) == b.transactions.map(\.range) && a.transactions.map(\.hash) == b.transactions.map(\.hash)
    }

    /// Finds the layout by scanning the JSON (only the fields above are parsed).
    public init(block raw: [UInt8], receipts: [UInt8]) throws {
        guard let txsRange = try JSONSpans.member(raw, 0..<raw.count, "transactions") else {
            throw FieldError(field: "transactions", problem: "is required")
        }
        transactionsRange = txsRange
        transactions = []
        for (i, r) in try JSONSpans.elements(raw, txsRange).enumerated() {
            guard let hr = try JSONSpans.member(raw, r, "hash"), let hs = try JSON.parse(Array(raw[hr])).stringValue,
                  let h = try? Hash32(hex: hs) else {
                throw FieldError(field: "transactions[\(i)].hash", problem: "must be a 32-byte hex string")
            }
            transactions.append((r, h))
        }
        self.receipts = try JSONSpans.elements(receipts, 0..<receipts.count)
        logs = []
        for (i, rr) in self.receipts.enumerated() {
            guard receipts[rr.lowerBound] == UInt8(ascii: "{"), let logsRange = try JSONSpans.member(receipts, rr, "logs") else { continue }
            for lr in try JSONSpans.elements(receipts, logsRange) {
                let fields = try JSONSpans.members(receipts, lr)
                func field(_ name: String) throws -> JSONValue {
                    guard let r = fields.first(where: { $0.key == name })?.value else { throw FieldError(field: "receipts[\(i)].logs.\(name)", problem: "is required") }
                    return try JSON.parse(Array(receipts[r]))
                }
                guard let indexed = Self.indexedFields(logIndex: try field("logIndex"), address: try field("address"), topics: try field("topics")) else {
                    throw FieldError(field: "receipts[\(i)].logs", problem: "logIndex and address must be hex")
                }
                logs.append(Log(range: lr, index: indexed.index, address: indexed.address, topics: indexed.topics))
            }
        }
        assert(transactionsRange.upperBound <= raw.count && self.receipts.allSatisfy { $0.upperBound <= receipts.count })
    }

    /// Serializes a parsed block and its receipts (as `JSON.write` would) and notes the
    /// layout while writing, which costs the leader nothing like a second scan. The layout
    /// is nil where `init(block:receipts:)` would fail on the result, so both agree on
    /// which blocks have one (tests compare them).
    public static func serializing(block: JSONValue, receipts: [JSONValue]) -> (block: [UInt8], receipts: [UInt8], layout: BlockLayout?) {
        var ok = true
        var b = [UInt8]()
        b.reserveCapacity(32 << 10)
        var txsRange: Range<Int>?
        var txs = [(range: Range<Int>, hash: Hash32)]()
        if case .object(let o) = block {
            b.append(UInt8(ascii: "{"))
            for (i, (k, v)) in o.pairs.enumerated() {
                if i > 0 { b.append(UInt8(ascii: ",")) }
                JSON.writeString(k, to: &b)
                b.append(UInt8(ascii: ":"))
                guard k == "transactions", txsRange == nil else { JSON.write(v, to: &b); continue }
                let start = b.count
                if case .array(let list) = v {
                    txs.reserveCapacity(list.count)
                    b.append(UInt8(ascii: "["))
                    for (j, t) in list.enumerated() {
                        if j > 0 { b.append(UInt8(ascii: ",")) }
                        let ts = b.count
                        JSON.write(t, to: &b)
                        if let h = t.objectValue?["hash"]?.stringValue, let hash = try? Hash32(hex: h) { txs.append((ts..<b.count, hash)) } else { ok = false }
                    }
                    b.append(UInt8(ascii: "]"))
                } else {
                    JSON.write(v, to: &b); ok = false
                }
                txsRange = start..<b.count
            }
            b.append(UInt8(ascii: "}"))
        } else {
            JSON.write(block, to: &b); ok = false
        }

        var r = [UInt8]()
        r.reserveCapacity(48 << 10)
        var receiptRanges = [Range<Int>]()
        receiptRanges.reserveCapacity(receipts.count)
        var logs = [Log]()
        r.append(UInt8(ascii: "["))
        for (i, receipt) in receipts.enumerated() {
            if i > 0 { r.append(UInt8(ascii: ",")) }
            let rs = r.count
            guard case .object(let ro) = receipt else { JSON.write(receipt, to: &r); receiptRanges.append(rs..<r.count); continue }
            r.append(UInt8(ascii: "{"))
            var sawLogs = false
            for (j, (k, v)) in ro.pairs.enumerated() {
                if j > 0 { r.append(UInt8(ascii: ",")) }
                JSON.writeString(k, to: &r)
                r.append(UInt8(ascii: ":"))
                guard k == "logs", !sawLogs else { JSON.write(v, to: &r); continue }
                sawLogs = true
                guard case .array(let list) = v else { JSON.write(v, to: &r); ok = false; continue }
                r.append(UInt8(ascii: "["))
                for (li, log) in list.enumerated() {
                    if li > 0 { r.append(UInt8(ascii: ",")) }
                    let ls = r.count
                    JSON.write(log, to: &r)
                    guard let lo = log.objectValue, let li = lo["logIndex"], let a = lo["address"], let t = lo["topics"],
                          let indexed = Self.indexedFields(logIndex: li, address: a, topics: t) else { ok = false; continue }
                    logs.append(Log(range: ls..<r.count, index: indexed.index, address: indexed.address, topics: indexed.topics))
                }
                r.append(UInt8(ascii: "]"))
            }
            r.append(UInt8(ascii: "}"))
            receiptRanges.append(rs..<r.count)
        }
        r.append(UInt8(ascii: "]"))
        guard ok, let txsRange else { return (b, r, nil) }
        assert(txs.allSatisfy { txsRange.contains($0.range.lowerBound) } && receiptRanges.count == receipts.count)
        return (b, r, BlockLayout(transactionsRange: txsRange, transactions: txs, receipts: receiptRanges, logs: logs))
    }

    /// A log's fields the indexes key on, read alike by both ways of finding a layout: nil
    /// unless logIndex is a hex quantity that fits 32 bits and address is a hex address;
    /// topics past the fourth, or not 32-byte hex, are not indexed (their positions count).
    static func indexedFields(logIndex: JSONValue, address: JSONValue, topics: JSONValue) -> (index: UInt32, address: Address, topics: [Topic])? {
        guard let liText = logIndex.stringValue, let index = (try? Hex.decodeQuantity(liText)).flatMap({ UInt32(exactly: $0) }),
              let addrText = address.stringValue, let a = try? Address(hex: addrText.lowercased()) else { return nil }
        var out = [Topic]()
        for (pos, t) in (topics.arrayValue ?? []).enumerated() where pos < 4 {
            guard let ts = t.stringValue, let topic = try? Hash32(hex: ts) else { continue }
            out.append(Topic(position: UInt8(pos), value: topic))
        }
        return (index, a, out)
    }

    func encode(into w: inout ByteWriter) {
        func range(_ r: Range<Int>) { w.u32(UInt32(r.lowerBound)); w.u32(UInt32(r.upperBound)) }
        range(transactionsRange)
        w.u32(UInt32(transactions.count))
        for t in transactions { range(t.range); w.raw(t.hash.bytes) }
        w.u32(UInt32(receipts.count))
        for r in receipts { range(r) }
        w.u32(UInt32(logs.count))
        for l in logs {
            range(l.range); w.u32(l.index); w.raw(l.address.bytes)
            w.u8(UInt8(l.topics.count))
            for t in l.topics { w.u8(t.position); w.raw(t.value.bytes) }
        }
    }

    /// Reads a layout and checks every range against the JSON it points into, so a damaged
    /// entry is refused at decode rather than storing bytes from the wrong place.
    static func decode(_ r: inout ByteReader, blockBytes: Int, receiptBytes: Int) throws(DecodeError) -> BlockLayout {
        func range(_ what: String, within size: Int) throws(DecodeError) -> Range<Int> {
            let lo = Int(try r.u32()), hi = Int(try r.u32())
            guard lo <= hi, hi <= size else { throw DecodeError("block layout: \(what) range \(lo)..<\(hi) outside \(size) bytes") }
            return lo..<hi
        }
        func count(_ what: String, atLeast bytesEach: Int) throws(DecodeError) -> Int {
            let n = Int(try r.u32())
            guard n <= r.remaining / bytesEach else { throw DecodeError("block layout: \(n) \(what) cannot fit in \(r.remaining) bytes") }
            return n
        }
        let txsRange = try range("transactions", within: blockBytes)
        var txs = [(range: Range<Int>, hash: Hash32)]()
        let nt = try count("transactions", atLeast: 40)
        txs.reserveCapacity(nt)
        for _ in 0..<nt {
            let tr = try range("transaction", within: blockBytes)
            guard txsRange.contains(tr.lowerBound), tr.upperBound <= txsRange.upperBound else {
                throw DecodeError("block layout: transaction range \(tr) outside the transactions array \(txsRange)")
            }
            txs.append((tr, Hash32(unchecked: try r.raw(32))))
        }
        var receipts = [Range<Int>]()
        let nr = try count("receipts", atLeast: 8)
        receipts.reserveCapacity(nr)
        for _ in 0..<nr { receipts.append(try range("receipt", within: receiptBytes)) }
        var logs = [Log]()
        let nl = try count("logs", atLeast: 33)
        logs.reserveCapacity(nl)
        for _ in 0..<nl {
            let lr = try range("log", within: receiptBytes)
            let index = try r.u32()
            let address = Address(unchecked: try r.raw(20))
            let ntopics = Int(try r.u8())
            guard ntopics <= 4 else { throw DecodeError("block layout: a log with \(ntopics) indexed topics (at most 4)") }
            var topics = [Topic]()
            for _ in 0..<ntopics {
                let pos = try r.u8()
                guard pos < 4 else { throw DecodeError("block layout: topic position \(pos)") }
                topics.append(Topic(position: pos, value: Hash32(unchecked: try r.raw(32))))
            }
            logs.append(Log(range: lr, index: index, address: address, topics: topics))
        }
        return BlockLayout(transactionsRange: txsRange, transactions: txs, receipts: receipts, logs: logs)
    }

    private init(transactionsRange: Range<Int>, transactions: [(range: Range<Int>, hash: Hash32)], receipts: [Range<Int>], logs: [Log]) {
        self.transactionsRange = transactionsRange; self.transactions = transactions; self.receipts = receipts; self.logs = logs
    }
}
