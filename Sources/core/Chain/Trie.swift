import Hashing
/// Merkle-Patricia trie (Yellow Paper, appendix D) over an in-memory key-value set.
///
/// The root is a function of the set alone, so the trie is built bottom-up from the
/// sorted keys each time a root or proof is asked for: simple, and fast enough for
/// block-sized tries (transactions, receipts, withdrawals) and test vectors.
public struct MerklePatriciaTrie: Sendable {
    private var entries: [[UInt8]: [UInt8]] = [:]

    /// keccak256(rlp("")): the root of an empty trie.
    public static let emptyRoot = Hash32.keccak([0x80])

    public init() {}

    /// The trie of an ordered list: key i is rlp(i), value the item's encoding.
    public init(orderedValues: [[UInt8]]) {
        for (i, v) in orderedValues.enumerated() { entries[RLP.encode(.uint(UInt64(i)))] = v }
    }

    public var count: Int { entries.count }

    /// Inserts or replaces; an empty value deletes, as in the reference tries.
    public mutating func put(_ key: [UInt8], _ value: [UInt8]) {
        if value.isEmpty { entries[key] = nil } else { entries[key] = value }
    }
    public mutating func delete(_ key: [UInt8]) { entries[key] = nil }
    public func get(_ key: [UInt8]) -> [UInt8]? { entries[key] }

    public var root: Hash32 {
        if entries.isEmpty { return Self.emptyRoot }
        var unused: [[UInt8]]? = nil
        let node = build(sortedPairs(), depth: 0, proofPath: nil, proof: &unused)
        return Hash32.keccak(node)
    }

    /// The nodes on the path from the root towards `key`, root first: a proof of
    /// inclusion when the key is present, of exclusion when it is not.
    public func proof(for key: [UInt8]) -> [[UInt8]] {
        if entries.isEmpty { return [] }
        var proof: [[UInt8]]? = []
        let root = build(sortedPairs(), depth: 0, proofPath: Self.nibbles(key), proof: &proof)
        // build() appends children before parents; the root node is encoded last.
        var nodes = proof ?? []
        nodes.append(root)
        return nodes.reversed()
    }

    // MARK: building

    private struct Pair { let path: [UInt8]; let value: [UInt8] }

    private func sortedPairs() -> [Pair] {
        entries.map { Pair(path: Self.nibbles($0.key), value: $0.value) }
            .sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    static func nibbles(_ key: [UInt8]) -> [UInt8] {
        var n = [UInt8]()
        n.reserveCapacity(key.count * 2)
        for b in key { n.append(b >> 4); n.append(b & 0xf) }
        return n
    }

    /// Hex-prefix encoding of a nibble path with the leaf flag.
    static func hexPrefix<C: Collection>(_ path: C, leaf: Bool) -> [UInt8] where C.Element == UInt8, C.Index == Int {
        var out = [UInt8]()
        let flag: UInt8 = leaf ? 2 : 0
        var i = path.startIndex
        if path.count % 2 == 1 {
            out.append((flag + 1) << 4 | path[i]); i += 1
        } else {
            out.append(flag << 4)
        }
        while i < path.endIndex { out.append(path[i] << 4 | path[i + 1]); i += 2 }
        return out
    }

    /// A child reference: the node inline when its encoding is under 32 bytes, else its hash.
    private static func reference(_ encoded: [UInt8]) -> [UInt8] {
        encoded.count < 32 ? encoded : RLP.encode(bytes: keccak256(encoded))
    }

    /// Encodes the subtrie holding `pairs` (all sharing the first `depth` nibbles).
    /// When `proofPath` is given, every node on that path below this one is appended to `proof`.
    private func build(_ pairs: [Pair], depth: Int, proofPath: [UInt8]?, proof: inout [[UInt8]]?) -> [UInt8] {
        precondition(!pairs.isEmpty)
        if pairs.count == 1 {
            let p = pairs[0]
            return RLP.encodeList(encodedItems: [
                RLP.encode(bytes: Self.hexPrefix(p.path[depth...], leaf: true)),
                RLP.encode(bytes: p.value),
            ])
        }
        // Longest common prefix beyond depth; the sorted order means first and last bound it.
        let first = pairs.first!.path, last = pairs.last!.path
        var common = 0
        while depth + common < first.count, depth + common < last.count, first[depth + common] == last[depth + common] { common += 1 }
        if common > 0 {
            let onPath = proofPath.map { $0.count >= depth + common && Array($0[depth..<(depth + common)]) == Array(first[depth..<(depth + common)]) } ?? false
            let child = build(pairs, depth: depth + common, proofPath: onPath ? proofPath : nil, proof: &proof)
            if onPath { appendIfHashed(child, to: &proof) }
            return RLP.encodeList(encodedItems: [
                RLP.encode(bytes: Self.hexPrefix(first[depth..<(depth + common)], leaf: false)),
                Self.reference(child),
            ])
        }
        // Branch: at most one key ends here (its value), the rest split by their next nibble.
        var items = [[UInt8]](repeating: [0x80], count: 17)
        var start = 0
        if pairs[0].path.count == depth { items[16] = RLP.encode(bytes: pairs[0].value); start = 1 }
        var i = start
        while i < pairs.count {
            let nib = pairs[i].path[depth]
            var j = i + 1
            while j < pairs.count, pairs[j].path[depth] == nib { j += 1 }
            let onPath = proofPath.map { $0.count > depth && $0[depth] == nib } ?? false
            let child = build(Array(pairs[i..<j]), depth: depth + 1, proofPath: onPath ? proofPath : nil, proof: &proof)
            if onPath { appendIfHashed(child, to: &proof) }
            items[Int(nib)] = Self.reference(child)
            i = j
        }
        return RLP.encodeList(encodedItems: items)
    }

    /// Inline (short) nodes travel inside their parent, so only hashed nodes are proof entries.
    private func appendIfHashed(_ node: [UInt8], to proof: inout [[UInt8]]?) {
        if node.count >= 32 { proof?.append(node) }
    }

    // MARK: verification

    public enum ProofError: Error, Equatable, CustomStringConvertible {
        case missingNode(Hash32)
        case malformedNode(String)
        public var description: String {
            switch self {
            case .missingNode(let h): return "proof lacks the node with hash \(h)"
            case .malformedNode(let m): return "proof node is malformed: \(m)"
            }
        }
    }

    /// Walks `proof` from `root` along `key`. Returns the value when the key is present,
    /// nil when the proof shows it absent; throws when the proof does not hang together.
    public static func verifyProof(root: Hash32, key: [UInt8], proof: [[UInt8]]) throws(ProofError) -> [UInt8]? {
        var byHash = [Hash32: [UInt8]]()
        for node in proof { byHash[Hash32.keccak(node)] = node }
        let path = nibbles(key)
        var pos = 0
        if root == emptyRoot && proof.isEmpty { return nil }
        guard let rootNode = byHash[root] else { throw .missingNode(root) }
        var current: RLPItem
        do { current = try RLP.decode(rootNode) } catch { throw .malformedNode(error.description) }
        while true {
            guard case .list(let items) = current else { throw .malformedNode("node is not a list") }
            let next: RLPItem
            if items.count == 17 {
                if pos == path.count {
                    guard case .bytes(let v) = items[16] else { throw .malformedNode("branch value is a list") }
                    return v.isEmpty ? nil : v
                }
                next = items[Int(path[pos])]
                pos += 1
            } else if items.count == 2 {
                guard case .bytes(let hp) = items[0], let firstByte = hp.first else { throw .malformedNode("bad hex-prefix path") }
                let flag = firstByte >> 4
                guard flag <= 3 else { throw .malformedNode("bad hex-prefix flag \(flag)") }
                var seg = [UInt8]()
                if flag & 1 == 1 { seg.append(firstByte & 0xf) }
                for b in hp.dropFirst() { seg.append(b >> 4); seg.append(b & 0xf) }
                let isLeaf = flag >= 2
                if isLeaf {
                    guard Array(path[pos...]) == seg else { return nil }
                    guard case .bytes(let v) = items[1] else { throw .malformedNode("leaf value is a list") }
                    return v
                }
                guard path.count - pos >= seg.count, Array(path[pos..<(pos + seg.count)]) == seg else { return nil }
                pos += seg.count
                next = items[1]
            } else {
                throw .malformedNode("node has \(items.count) items")
            }
            switch next {
            case .list: current = next   // inline child
            case .bytes(let ref):
                if ref.isEmpty { return nil }
                guard ref.count == 32 else { throw .malformedNode("child reference of \(ref.count) bytes") }
                let h = Hash32(unchecked: ref)
                guard let node = byHash[h] else { throw .missingNode(h) }
                do { current = try RLP.decode(node) } catch { throw .malformedNode(error.description) }
            }
        }
    }
}

extension MerklePatriciaTrie {
    /// The secure-trie form: keys are replaced by their keccak256 (state and storage tries).
    public static func secure(_ pairs: [([UInt8], [UInt8])]) -> MerklePatriciaTrie {
        var t = MerklePatriciaTrie()
        for (k, v) in pairs { t.put(keccak256(k), v) }
        return t
    }
}

extension MerklePatriciaTrie {
    /// The smallest key strictly greater than `key`, in trie (byte) order.
    public func nextKey(after key: [UInt8]) -> [UInt8]? {
        entries.keys.filter { key.lexicographicallyPrecedes($0) }.min { $0.lexicographicallyPrecedes($1) }
    }
    /// The greatest key strictly smaller than `key`.
    public func previousKey(before key: [UInt8]) -> [UInt8]? {
        entries.keys.filter { $0.lexicographicallyPrecedes(key) }.max { $0.lexicographicallyPrecedes($1) }
    }
}
