import Chain

/// EIP-1767's custom scalars as geth implements them. Input becomes one canonical form
/// (lower-case hex for byte strings, 0x-quantity for BigInt, a decimal number for Long)
/// so resolvers never re-validate; output accepts what the stored JSON-RPC objects hold.
enum EthereumScalars {
    static let all: [String: ScalarCoercion] = [
        "Bytes32": fixedBytes(32, "Bytes32"),
        "Address": fixedBytes(20, "Address"),
        "Bytes": ScalarCoercion(input: { v throws(CoercionError) in
            guard case .string(let s) = v else { throw CoercionError("expected a 0x-prefixed hex string") }
            do throws(HexError) { return .string(Hex.encode(try Hex.decodeData(s))) } catch { throw CoercionError(error.description) }
        }, output: { v throws(CoercionError) in
            guard case .string(let s) = v, (try? Hex.decodeData(s)) != nil else { throw CoercionError("not hex data: \(echo(ScalarCoercion.describe(v)))") }
            return .string(s.lowercased())
        }),
        "BigInt": ScalarCoercion(input: { v throws(CoercionError) in
            .string(try bigInt(v).quantity)
        }, output: { v throws(CoercionError) in
            switch v {
            case .string(let s): return .string(try bigInt(.string(s)).quantity)
            case .number(let n): return .string(try bigInt(.int(n)).quantity)
            default: throw CoercionError("not an integer: \(echo(ScalarCoercion.describe(v)))")
            }
        }),
        "Long": ScalarCoercion(input: { v throws(CoercionError) in
            .number(String(try long(v)))
        }, output: { v throws(CoercionError) in
            switch v {
            case .number(let n):
                guard let x = UInt64(n) else { throw CoercionError("not a 64-bit unsigned integer: \(echo(n))") }
                return .number(String(x))
            case .string(let s): return .number(String(try long(.string(s))))
            default: throw CoercionError("not an integer: \(echo(ScalarCoercion.describe(v)))")
            }
        }),
    ]

    private static func fixedBytes(_ n: Int, _ name: String) -> ScalarCoercion {
        ScalarCoercion(input: { v throws(CoercionError) in
            guard case .string(let s) = v else { throw CoercionError("expected a 0x-prefixed hex string of \(n) bytes") }
            do throws(HexError) { return .string(Hex.encode(try Hex.decodeData(s, length: n))) } catch { throw CoercionError(error.description) }
        }, output: { v throws(CoercionError) in
            guard case .string(let s) = v, (try? Hex.decodeData(s, length: n)) != nil else {
                throw CoercionError("not \(n) bytes of hex: \(echo(ScalarCoercion.describe(v)))")
            }
            return .string(s.lowercased())
        })
    }

    /// Decimal or 0x-hex text, or an integer literal; up to 256 bits.
    static func bigInt(_ v: InputScalar) throws(CoercionError) -> U256 {
        switch v {
        case .int(let s):
            guard !s.hasPrefix("-") else { throw CoercionError("negative values are not allowed") }
            do { return try U256(decimal: s) } catch { throw CoercionError(error.description) }
        case .string(let s):
            if s.hasPrefix("0x") || s.hasPrefix("0X") {
                // Accept leading zeros on input (geth does); the output is always minimal.
                let digits = s.dropFirst(2).drop { $0 == "0" }
                do { return try U256(quantity: "0x" + (digits.isEmpty ? "0" : String(digits))) } catch { throw CoercionError(error.description) }
            }
            do { return try U256(decimal: s) } catch { throw CoercionError(error.description) }
        default:
            throw CoercionError("expected an integer or a decimal or 0x-hex string")
        }
    }

    static func long(_ v: InputScalar) throws(CoercionError) -> UInt64 {
        switch v {
        case .int(let s):
            guard let x = UInt64(s) else { throw CoercionError("not a 64-bit unsigned integer: \(echo(s))") }
            return x
        case .string(let s):
            if s.hasPrefix("0x") || s.hasPrefix("0X") {
                guard let x = UInt64(s.dropFirst(2), radix: 16), s.count > 2 else { throw CoercionError("not a 64-bit hex quantity: \(echo(GraphQLText.quoted(s)))") }
                return x
            }
            guard let x = UInt64(s) else { throw CoercionError("not a 64-bit unsigned integer: \(echo(GraphQLText.quoted(s)))") }
            return x
        default:
            throw CoercionError("expected an integer or a decimal or 0x-hex string")
        }
    }
}
