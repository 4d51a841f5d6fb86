import Chain

/// GraphQL over HTTP: POST with a JSON body {query, operationName, variables} or an
/// application/graphql body; GET with query parameters, which may not run mutations
/// (405: a GET must be safe to repeat and cache). Requests that cannot run (unparseable,
/// invalid, over a limit, bad variables) answer 400; anything that executed answers 200,
/// field errors included.
extension GraphQLService {
    /// `mutationsAllowed` false refuses mutations (403) for a caller that may only read.
    public func handleHTTP(method: String, queryItems: [String: String], body: [UInt8], contentType: String?,
                           mutationsAllowed: Bool = true) -> (status: Int, body: String) {
        func fail(_ status: Int, _ message: String) -> (status: Int, body: String) {
            (status, JSON.serialize(Self.response(data: nil, errors: [GraphQLError(message)])))
        }
        var query: String?
        var operationName = queryItems["operationName"].flatMap { $0.isEmpty ? nil : $0 }
        var variables: JSONObject?
        let isGet: Bool
        switch method.uppercased() {
        case "GET":
            isGet = true
            query = queryItems["query"]
            if let text = queryItems["variables"], !text.isEmpty {
                guard let v = try? JSON.parse(text), v.objectValue != nil || v.isNull else { return fail(400, "Variables are invalid JSON.") }
                variables = v.objectValue
            }
        case "POST":
            isGet = false
            let type = (contentType ?? "application/json").split(separator: ";").first.map { $0.trimmingCharacters() } ?? ""
            switch type.lowercased() {
            case "application/json", "application/graphql-response+json":
                guard let v = try? JSON.parse(body), let o = v.objectValue else { return fail(400, "POST body must be a JSON object.") }
                guard o["query"].map({ $0.stringValue != nil || $0.isNull }) ?? true else { return fail(400, "\"query\" must be a string.") }
                query = o["query"]?.stringValue
                if let n = o["operationName"], !n.isNull {
                    guard let s = n.stringValue else { return fail(400, "\"operationName\" must be a string.") }
                    operationName = s
                }
                if let v = o["variables"], !v.isNull {
                    guard let vo = v.objectValue else { return fail(400, "\"variables\" must be an object.") }
                    variables = vo
                }
            case "application/graphql":
                query = String(decoding: body, as: UTF8.self)
                if let text = queryItems["variables"], !text.isEmpty {
                    guard let v = try? JSON.parse(text), v.objectValue != nil || v.isNull else { return fail(400, "Variables are invalid JSON.") }
                    variables = v.objectValue
                }
            default:
                return fail(415, "Unsupported content type \(type); use application/json or application/graphql.")
            }
        default:
            return fail(405, "GraphQL only supports GET and POST requests.")
        }
        guard let query, !query.isEmpty else { return fail(400, "Must provide query string.") }

        let answer = withRequest { r -> (status: Int, body: String) in
            switch prepare(query: query, operationName: operationName, variables: variables, r) {
            case .failure(let e):
                return (400, JSON.serialize(Self.response(data: nil, errors: e.errors)))
            case .success(let p):
                if isGet && p.operation.operation != .query {
                    return fail(405, "Can only perform a \(p.operation.operation.rawValue) operation from a POST request.")
                }
                if !mutationsAllowed && p.operation.operation == .mutation {
                    return fail(403, "This API key may only read (permissions: read); sending transactions needs a read+write key.")
                }
                return (200, JSON.serialize(run(p, r)))
            }
        }
        switch answer {
        case .success(let a): return a
        case .failure(let e): return (500, JSON.serialize(Self.response(data: nil, errors: e.errors)))
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
