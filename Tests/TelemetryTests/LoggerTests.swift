import Foundation
import Testing
@testable import Telemetry

/// Log lines are what operators grep and ship: each one JSON object, fields escaped, the
/// timestamp ISO 8601 UTC with milliseconds, levels below the sink's minimum dropped.
@Suite struct LoggerTests {
    @Test func aLineIsOneJSONObjectWithEveryField() throws {
        let sink = Logger.Sink(minimum: .info, capture: true)
        let log = Logger(component: "node", sink: sink).with("node", 3)
        let before = Date()
        log.warn("peer \"slow\"", [("count", 42), ("ok", true), ("ratio", 0.25), ("why", "line\nbreak\t\"quoted\" \\ é"), ("neg", -7)])
        log.debug("dropped", [])
        let after = Date()
        #expect(sink.lines.count == 1, "debug is below the sink's minimum")
        let line = try #require(sink.lines.first)
        #expect(!line.contains("\n"), "one event, one line")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["level"] as? String == "warn" && o["component"] as? String == "node" && o["event"] as? String == "peer \"slow\"")
        #expect(o["node"] as? String == "3" && o["count"] as? Int == 42 && o["ok"] as? Bool == true && o["neg"] as? Int == -7)
        #expect(o["ratio"] as? Double == 0.25)
        #expect(o["why"] as? String == "line\nbreak\t\"quoted\" \\ é")
        let ts = try #require(o["ts"] as? String)
        #expect(ts.count == 24 && ts.hasSuffix("Z"), "\(ts)")
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let when = try #require(f.date(from: ts), "\(ts) parses as ISO 8601")
        #expect(when >= before.addingTimeInterval(-0.002) && when <= after.addingTimeInterval(0.002), "\(ts) is the time of the call")
        // Keys keep their order: ts, level, component, event, context, fields.
        #expect(line.hasPrefix("{\"ts\":\"") && line.contains("\"level\":\"warn\",\"component\":\"node\",\"event\":\"peer \\\"slow\\\"\",\"node\":\"3\",\"count\":42"))
    }

    @Test func timestampsPadEveryField() {
        var out = [UInt8]()
        Logger.appendTimestamp(to: &out)
        let s = String(decoding: out, as: UTF8.self)
        let shape = s.unicodeScalars.enumerated().allSatisfy { i, c in
            switch i {
            case 4, 7: c == "-"
            case 10: c == "T"
            case 13, 16: c == ":"
            case 19: c == "."
            case 23: c == "Z"
            default: ("0"..."9").contains(c)
            }
        }
        #expect(s.count == 24 && shape, "\(s)")
    }
}
