import Chain
import ChainIndex

/// Positional JSON-RPC parameters with decoders that name the failing argument, so a
/// client sees "invalid argument 1 (block): …" instead of a generic failure.
public struct RPCParams: Sendable {
    public let values: [JSONValue]
    /// Who is calling (an API key's fingerprint, or the client address on an open node),
    /// so per-caller limits — filters, subscriptions — keep one client from exhausting them for all.
    public var caller = ""

    public init(_ raw: JSONValue?) throws(RPCError) {
        switch raw {
        case nil, .null?: values = []
        case .array(let a)?: values = a
        default: throw RPCError.invalidRequest("params must be an array (positional parameters)")
        }
    }

    public init(values: [JSONValue]) { self.values = values }

    /// Rejects extra arguments the way geth does.
    public func allow(atMost n: Int) throws(RPCError) {
        if values.count > n { throw RPCError.invalidParams("too many arguments, want at most \(n)") }
    }

    /// The argument, or nil when it is absent or JSON null (optional arguments).
    public func optional(_ i: Int) -> JSONValue? {
        guard i < values.count, !values[i].isNull else { return nil }
        return values[i]
    }

    public func required(_ i: Int, _ name: String) throws(RPCError) -> JSONValue {
        guard let v = optional(i) else { throw RPCError.invalidParams("missing value for required argument \(i) (\(name))") }
        return v
    }

    func string(_ i: Int, _ name: String) throws(RPCError) -> String {
        guard let s = try required(i, name).stringValue else { throw RPCError.invalidArgument(i, "\(name) must be a hex string") }
        return s
    }

    public func hash(_ i: Int, _ name: String) throws(RPCError) -> Hash32 {
        let s = try string(i, name)
        do { return try Hash32(hex: s) } catch { throw RPCError.invalidArgument(i, "\(name): \(error)") }
    }

    public func address(_ i: Int, _ name: String = "address") throws(RPCError) -> Address {
        try Self.address(try string(i, name), argument: i, name: name)
    }

    static func address(_ s: String, argument i: Int, name: String) throws(RPCError) -> Address {
        // Clients send any case; EIP-55 checksums are advisory on input, as in geth.
        do { return try Address(hex: s.lowercased()) } catch { throw RPCError.invalidArgument(i, "\(name): \(error)") }
    }

    public func bool(_ i: Int, _ name: String, default d: Bool? = nil) throws(RPCError) -> Bool {
        guard let v = optional(i) else {
            if let d { return d }
            throw RPCError.invalidParams("missing value for required argument \(i) (\(name))")
        }
        guard let b = v.boolValue else { throw RPCError.invalidArgument(i, "\(name) must be true or false") }
        return b
    }

    public func quantity(_ i: Int, _ name: String) throws(RPCError) -> UInt64 {
        let s = try string(i, name)
        do { return try Hex.decodeQuantity(s) } catch { throw RPCError.invalidArgument(i, "\(name): \(error)") }
    }

    public func block(_ i: Int, _ name: String = "block", default d: BlockSelector? = nil) throws(RPCError) -> BlockSelector {
        guard let v = optional(i) else {
            if let d { return d }
            throw RPCError.invalidParams("missing value for required argument \(i) (\(name))")
        }
        return try BlockSelector(v, argument: i, name: name)
    }
}

/// JSON-RPC's block argument syntax: a tag, a hex number, a hash, or an EIP-1898 object.
extension BlockSelector {
    public init(_ v: JSONValue, argument i: Int, name: String, allowHash: Bool = true) throws(RPCError) {
        if let o = v.objectValue {
            // EIP-1898: {"blockHash": h, "requireCanonical": b} or {"blockNumber": n}.
            if let h = o["blockHash"] {
                guard allowHash, o["blockNumber"] == nil, let s = h.stringValue, let hash = try? Hash32(hex: s) else {
                    throw RPCError.invalidArgument(i, "\(name): blockHash must be a 32-byte hex hash (and not combined with blockNumber)")
                }
                self = .hash(hash, requireCanonical: o["requireCanonical"]?.boolValue ?? false)
                return
            }
            if let n = o["blockNumber"] { self = try BlockSelector(n, argument: i, name: name, allowHash: false); return }
            throw RPCError.invalidArgument(i, "\(name): object must hold blockHash or blockNumber")
        }
        guard let s = v.stringValue else { throw RPCError.invalidArgument(i, "\(name) must be a block number, tag or hash string") }
        switch s {
        case "latest": self = .latest
        case "pending": self = .pending
        case "safe": self = .safe
        case "finalized": self = .finalized
        case "earliest": self = .earliest
        default:
            if s.utf8.count == 66, allowHash {
                do { self = .hash(try Hash32(hex: s), requireCanonical: false) } catch { throw RPCError.invalidArgument(i, "\(name): \(error)") }
                return
            }
            do { self = .number(try Hex.decodeQuantity(s)) } catch {
                throw RPCError.invalidArgument(i, "\(name): \(error) (expected a hex block number, a 32-byte hash or one of latest, pending, safe, finalized, earliest)")
            }
        }
    }
}
