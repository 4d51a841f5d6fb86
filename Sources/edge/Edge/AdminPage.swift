import Chain
import Net

/// One page of an admin list in id order: `?limit=N` (1 to `maxPage`, default 100) and
/// `?cursor=C`, the `nextCursor` of the page before (null on the last page). Every list of
/// the admin plane pages the same way.
struct AdminPage {
    static let maxPage = 500
    let limit: Int
    let after: UInt64

    /// The page the query asks for, or the 400 that says what is wrong with it.
    static func parse(_ query: [String: String]) -> Result<AdminPage, HTTPResponseError> {
        var limit = 100
        if let l = query["limit"] {
            guard let n = Int(l), (1...maxPage).contains(n) else { return .failure(HTTPResponseError(jsonError(400, "limit must be 1 to \(maxPage)"))) }
            limit = n
        }
        var after: UInt64 = 0
        if let c = query["cursor"] {
            guard let id = OrgAdmin.parseId(c) else { return .failure(HTTPResponseError(jsonError(400, "cursor must be the nextCursor of a previous page"))) }
            after = id
        }
        return .success(AdminPage(limit: limit, after: after))
    }

    /// `{field: [...], nextCursor}` for `all` (in id order).
    func answer<T>(_ all: [T], id: (T) -> UInt64, field: String, _ render: (T) -> JSONValue) -> HTTPResponse {
        precondition(zip(all, all.dropFirst()).allSatisfy { id($0) < id($1) }, "admin lists are in id order")
        let page = Array(all.filter { id($0) > after }.prefix(limit))
        let more = page.count == limit && all.contains { id($0) > id(page.last!) }
        var o: JSONObject = [field: .array(page.map(render))]
        o["nextCursor"] = more ? .string(OrgAdmin.idText(id(page.last!))) : .null
        return .json(JSON.serialize(.object(o)) + "\n")
    }
}

/// A refusal carried through a `Result`.
struct HTTPResponseError: Error {
    let response: HTTPResponse
    init(_ r: HTTPResponse) { response = r }
}
