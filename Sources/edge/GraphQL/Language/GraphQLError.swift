import ByteCodec
import Telemetry
import Chain

/// A line and column in the query text, both 1-based, as GraphQL responses report them.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
    var json: JSONValue { .object(["line": .number(String(line)), "column": .number(String(column))]) }
}

/// One step of a response path: a field's response key or a list index.
public enum PathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)
    var json: JSONValue {
        switch self {
        case .key(let k): return .string(k)
        case .index(let i): return .number(String(i))
        }
    }
}

/// An error as the GraphQL response carries it: a message, where in the document it
/// arose, and (for execution errors) the response path of the field that failed.
public struct GraphQLError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var locations: [SourceLocation]
    public var path: [PathComponent]?

    public init(_ message: String, locations: [SourceLocation] = [], path: [PathComponent]? = nil) {
        self.message = message; self.locations = locations; self.path = path
    }

    public var description: String {
        locations.isEmpty ? message : "\(message) (at \(locations.map(\.description).joined(separator: ", ")))"
    }

    /// The `{"message", "locations", "path"}` object of the response's `errors` list.
    public var json: JSONValue {
        var o: JSONObject = ["message": .string(message)]
        if !locations.isEmpty { o["locations"] = .array(locations.map(\.json)) }
        if let path { o["path"] = .array(path.map(\.json)) }
        return .object(o)
    }
}

// Echoing the request in error messages. Short text is printed exactly as graphql-js prints it
// (the reference tests compare messages); long text — a 200 KB name, a 7 MB variable — is cut
// to a bounded, escaped prefix by Telemetry's `boundedQuote`, so an error is never an amplifier.

/// A name or other token from the request in double quotes, bounded.
func quoted(_ v: some CustomStringConvertible) -> String {
    let s = v.description
    return s.utf8.count <= echoLimit ? "\"\(s)\"" : boundedQuote(s, limit: echoLimit)
}

/// An already printed value (a literal, a variable's JSON) unchanged when short, bounded when long.
func echo(_ printed: String) -> String {
    printed.utf8.count <= echoLimit ? printed : boundedQuote(printed, limit: echoLimit)
}

/// Values in reference messages reach a few dozen characters; beyond this they are cut.
let echoLimit = 128
