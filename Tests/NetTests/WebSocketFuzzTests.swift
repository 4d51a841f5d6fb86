import Foundation
import Testing
import TestSupport
@testable import Net

/// Seeded random and mutated byte streams after a valid handshake. The server must never crash
/// or hang: every connection ends, any close frame it sends is well formed, the application
/// hears about every connection, and the server keeps serving.
@Suite(.serialized) struct WebSocketFuzzTests {
    /// A plausible client stream: data messages (some fragmented), pings, pongs, maybe a close.
    static func validStream(_ rng: inout SeededRandom) -> [UInt8] {
        var out = [UInt8]()
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: out += clientFrame(opcode: 0x1, Array("fuzz \(rng.next())".utf8), key: rng.bytes(4))
            case 1: out += clientFrame(opcode: 0x2, rng.bytes(Int.random(in: 0...300, using: &rng)), key: rng.bytes(4))
            case 2:
                out += clientFrame(opcode: 0x1, Array("frag".utf8), fin: false, key: rng.bytes(4))
                out += clientFrame(opcode: 0x9, rng.bytes(Int.random(in: 0...125, using: &rng)), key: rng.bytes(4))
                out += clientFrame(opcode: 0x0, Array("ment".utf8), key: rng.bytes(4))
            case 3: out += clientFrame(opcode: 0xA, rng.bytes(Int.random(in: 0...10, using: &rng)), key: rng.bytes(4))
            default: out += clientFrame(opcode: 0x9, rng.bytes(Int.random(in: 0...125, using: &rng)), key: rng.bytes(4))
            }
        }
        if Bool.random(using: &rng) { out += clientFrame(opcode: 0x8, closePayload(1000), key: rng.bytes(4)) }
        return out
    }

    static func mutated(_ rng: inout SeededRandom) -> [UInt8] {
        var s = validStream(&rng)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0:  // flip bits
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let i = Int.random(in: 0..<s.count, using: &rng)
                s[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            }
        case 1:  // overwrite header-ish bytes with extremes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                s[Int.random(in: 0..<min(s.count, 16), using: &rng)] = [0x00, 0x7F, 0x80, 0xFF, 0x7E].randomElement(using: &rng)!
            }
        case 2:  // delete a range
            let i = Int.random(in: 0..<s.count, using: &rng)
            s.removeSubrange(i..<min(s.count, i + Int.random(in: 1...20, using: &rng)))
        case 3:  // insert random bytes
            s.insert(contentsOf: rng.bytes(Int.random(in: 1...40, using: &rng)), at: Int.random(in: 0...s.count, using: &rng))
        default:  // truncate
            s = Array(s.prefix(Int.random(in: 0...s.count, using: &rng)))
        }
        return s
    }

    @Test func randomAndMutatedStreamsNeverHurtTheServer() throws {
        let seed = SeededRandom.seed("WebSocketFuzzTests.randomAndMutatedStreamsNeverHurtTheServer")
        var rng = SeededRandom(seed: seed)
        var limits = WebSocketLimits()
        limits.maxMessageBytes = 4096
        limits.closeTimeoutMillis = 2000
        let recorder = WebSocketRecorder()
        let iterations = 1000
        var errorCloses = 0
        try withWebSocketServer(limits: limits, recorder: recorder) { server in
            for iteration in 0..<iterations {
                let stream: [UInt8]
                switch iteration % 3 {
                case 0: stream = rng.bytes(Int.random(in: 1...200, using: &rng))
                case 1: stream = Self.mutated(&rng)
                default: stream = Self.validStream(&rng) + rng.bytes(Int.random(in: 1...64, using: &rng))
                }
                let c = try RawWebSocketClient(server.address)
                // Sometimes in pieces, to exercise partial-frame buffering.
                if Bool.random(using: &rng) {
                    var rest = stream[...]
                    while !rest.isEmpty { let n = Int.random(in: 1...9, using: &rng); c.send(Array(rest.prefix(n))); rest = rest.dropFirst(n) }
                } else {
                    c.send(stream)
                }
                // EOF from us ends any frame the server is still waiting for.
                c.shutdownWrite()
                let close: ReceivedFrame?
                do { close = try c.readUntilClosed() } catch {
                    throw TestFailure("iteration \(iteration), seed \(seed): \(error); stream \(stream)")
                }
                if let close {
                    let code = close.closeCode.map { WebSocketCloseCode(rawValue: $0) }
                    #expect(close.payload.isEmpty || code?.isValidOnTheWire == true, "iteration \(iteration), seed \(seed): close \(close.payload)")
                    if let code, [WebSocketCloseCode.protocolError, .invalidPayloadData, .messageTooBig, .unsupportedData].contains(code) { errorCloses += 1 }
                }
            }
            try eventually("every connection reported closed") { recorder.closes.count == iterations }
            try eventually("no connection left open") { server.openConnections == 0 }
            // Still serving.
            let c = try RawWebSocketClient(server.address)
            c.sendText("after the storm")
            #expect(try c.readMessage()?.text == "after the storm")
        }
        // Most streams are broken; if almost none were refused as such, the test is not testing.
        #expect(errorCloses > iterations / 4, "only \(errorCloses) of \(iterations) streams ended in a protocol error, seed \(seed)")
        print("WebSocketFuzzTests: \(errorCloses) of \(iterations) streams ended in a protocol error")
    }
}
