import Foundation
import Testing
import TestSupport
@testable import Chain

extension References {
    static func fixtureJSON(_ relative: String) throws -> JSONValue { try JSON.parse(Array(try fixture(relative))) }

    /// Runs Tests/python/reference.py with one JSON request on stdin and returns its JSON answer.
    static func python(_ request: JSONValue) throws -> JSONValue {
        try JSON.parse(Array(try runPython("reference.py", input: Data(JSON.serialize(request).utf8))))
    }
}

extension JSONValue {
    var requireObject: JSONObject { get throws { guard let o = objectValue else { throw TestFailure("expected object") }; return o } }
}
