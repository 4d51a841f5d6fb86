import Testing
import TestSupport
@testable import Net

/// The frame codec and message assembler on their own, without sockets.
@Suite struct WebSocketCodecTests {
    func parseAll(_ bytes: [UInt8], role: WebSocketFrameParser.Role = .server, max: Int = 1 << 20) throws(WebSocketProtocolError) -> [WebSocketFrame] {
        var p = WebSocketFrameParser(role: role, maxPayloadBytes: max)
        p.feed(bytes)
        var out = [WebSocketFrame]()
        while let f = try p.next() { out.append(f) }
        return out
    }

    func parseError(_ bytes: [UInt8], max: Int = 1 << 20) -> WebSocketProtocolError? {
        do { _ = try parseAll(bytes, max: max); return nil } catch { return error }
    }

    /// RFC 6455 §5.7's example frames.
    @Test func rfcExamples() throws {
        let hello = Array("Hello".utf8)
        #expect(try parseAll([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], role: .client) == [WebSocketFrame(opcode: .text, payload: hello)])
        #expect(try parseAll([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]) == [WebSocketFrame(opcode: .text, payload: hello)])
        #expect(try parseAll([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f], role: .client)
                == [WebSocketFrame(fin: false, opcode: .text, payload: Array("Hel".utf8)), WebSocketFrame(opcode: .continuation, payload: Array("lo".utf8))])
        #expect(WebSocketFrame(opcode: .text, payload: hello).encoded() == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        #expect(WebSocketFrame(opcode: .text, payload: hello).encoded(maskingKey: [0x37, 0xfa, 0x21, 0x3d])
                == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        #expect(Array(WebSocketFrame(opcode: .binary, payload: [UInt8](repeating: 7, count: 256)).encoded().prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        #expect(Array(WebSocketFrame(opcode: .binary, payload: [UInt8](repeating: 7, count: 65536)).encoded().prefix(10))
                == [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
    }

    /// Encode then decode, for every opcode, the length forms and their boundaries, both
    /// directions, fed in random pieces.
    @Test func roundTrips() throws {
        let seed = SeededRandom.seed("WebSocketCodecTests.roundTrips")
        var rng = SeededRandom(seed: seed)
        let sizes = [0, 1, 125, 126, 127, 65535, 65536, 70_000]
        var frames = [WebSocketFrame]()
        for size in sizes {
            for opcode in [WebSocketOpcode.text, .binary, .continuation] {
                frames.append(WebSocketFrame(fin: Bool.random(using: &rng), opcode: opcode, payload: rng.bytes(size)))
            }
        }
        for opcode in [WebSocketOpcode.ping, .pong, .close] {
            for size in [0, 2, 125] { frames.append(WebSocketFrame(opcode: opcode, payload: rng.bytes(size))) }
        }
        for role in [WebSocketFrameParser.Role.server, .client] {
            var stream = [UInt8]()
            for f in frames { stream += f.encoded(maskingKey: role == .server ? rng.bytes(4) : nil) }
            var parser = WebSocketFrameParser(role: role, maxPayloadBytes: 1 << 20)
            var decoded = [WebSocketFrame]()
            var rest = stream[...]
            while !rest.isEmpty {
                let n = Int.random(in: 1...4096, using: &rng)
                parser.feed(Array(rest.prefix(n)))
                rest = rest.dropFirst(n)
                while let f = try parser.next() { decoded.append(f) }
            }
            #expect(decoded == frames, "role \(role), seed \(seed)")
            #expect(parser.bufferedBytes == 0)
        }
    }

    @Test func frameLevelProtocolErrors() {
        let cases: [([UInt8], WebSocketCloseCode, String)] = [
            (clientFrame(opcode: 0x1, Array("hi".utf8), masked: false), .protocolError, "unmasked client frame"),
            (clientFrame(opcode: 0x1, Array("hi".utf8), rsv: 0b100), .protocolError, "RSV1"),
            (clientFrame(opcode: 0x1, Array("hi".utf8), rsv: 0b010), .protocolError, "RSV2"),
            (clientFrame(opcode: 0x1, Array("hi".utf8), rsv: 0b001), .protocolError, "RSV3"),
            (clientFrame(opcode: 0x3, []), .protocolError, "reserved data opcode"),
            (clientFrame(opcode: 0xB, []), .protocolError, "reserved control opcode"),
            (clientFrame(opcode: 0x9, [UInt8](repeating: 1, count: 126)), .protocolError, "ping over 125 bytes"),
            (clientFrame(opcode: 0x9, [], fin: false), .protocolError, "fragmented ping"),
            (clientFrame(opcode: 0x2, [UInt8](repeating: 1, count: 101)), .messageTooBig, "frame over the limit"),
            ([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], .protocolError, "64-bit length with the high bit set"),
            ([0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], .messageTooBig, "2^63-1 bytes announced"),
        ]
        for (bytes, code, what) in cases {
            #expect(parseError(bytes, max: 100)?.code == code, "\(what)")
        }
        // A frame announcing a huge payload is refused from its header alone, before any payload arrives.
        var p = WebSocketFrameParser(role: .server, maxPayloadBytes: 100)
        p.feed([0x82, 0xFE, 0x10, 0x00])
        #expect(throws: WebSocketProtocolError.self) { try p.next() }
    }

    func assemble(_ frames: [WebSocketFrame], max: Int = 100) throws(WebSocketProtocolError) -> [WebSocketEvent] {
        var a = WebSocketMessageAssembler(maxMessageBytes: max)
        var out = [WebSocketEvent]()
        for f in frames { if let e = try a.take(f) { out.append(e) } }
        return out
    }

    @Test func reassemblyWithInterleavedControlFrames() throws {
        let events = try assemble([
            WebSocketFrame(fin: false, opcode: .text, payload: Array("héllo ".utf8.prefix(2))),
            WebSocketFrame(opcode: .ping, payload: [1]),
            // The split falls inside "é": validity is judged on the whole message.
            WebSocketFrame(fin: false, opcode: .continuation, payload: Array(Array("héllo ".utf8)[2...])),
            WebSocketFrame(opcode: .continuation, payload: Array("world".utf8)),
            WebSocketFrame(opcode: .binary, payload: [1, 2, 3]),
            WebSocketFrame(opcode: .close, payload: closePayload(1000, "bye")),
            WebSocketFrame(opcode: .close, payload: []),
        ])
        #expect(events == [.ping([1]), .text("héllo world"), .binary([1, 2, 3]), .close(code: .normal, reason: "bye"), .close(code: nil, reason: "")])
    }

    @Test func messageLevelProtocolErrors() {
        func code(_ frames: [WebSocketFrame]) -> WebSocketCloseCode? {
            do { _ = try assemble(frames); return nil } catch { return error.code }
        }
        let start = WebSocketFrame(fin: false, opcode: .text, payload: [0x61])
        #expect(code([WebSocketFrame(opcode: .continuation, payload: [0x61])]) == .protocolError, "continuation with nothing to continue")
        #expect(code([start, WebSocketFrame(opcode: .text, payload: [0x61])]) == .protocolError, "new message inside a fragmented one")
        #expect(code([start, WebSocketFrame(opcode: .binary, payload: [0x61])]) == .protocolError, "new message inside a fragmented one")
        #expect(code([start] + Array(repeating: WebSocketFrame(fin: false, opcode: .continuation, payload: [UInt8](repeating: 0x61, count: 40)), count: 3))
                == .messageTooBig, "fragments adding up past the limit")
        #expect(code([WebSocketFrame(opcode: .text, payload: [0xC3, 0x28])]) == .invalidPayloadData, "invalid UTF-8")
        #expect(code([WebSocketFrame(opcode: .text, payload: [0xED, 0xA0, 0x80])]) == .invalidPayloadData, "UTF-8-encoded surrogate")
        #expect(code([WebSocketFrame(opcode: .text, payload: [0xC0, 0xAF])]) == .invalidPayloadData, "overlong UTF-8")
        #expect(code([WebSocketFrame(opcode: .close, payload: [0x03])]) == .protocolError, "1-byte close payload")
        #expect(code([WebSocketFrame(opcode: .close, payload: closePayload(1005))]) == .protocolError, "close code reserved for local use")
        #expect(code([WebSocketFrame(opcode: .close, payload: closePayload(999))]) == .protocolError, "close code below 1000")
        #expect(code([WebSocketFrame(opcode: .close, payload: closePayload(2000))]) == .protocolError, "unassigned close code")
        #expect(code([WebSocketFrame(opcode: .close, payload: closePayload(1000) + [0xFF])]) == .invalidPayloadData, "close reason not UTF-8")
        #expect(code([WebSocketFrame(opcode: .close, payload: closePayload(4001, "app"))]) == nil, "private-use code is fine")
    }

    @Test func closeReasonIsCutAtACharacterBoundary() throws {
        let payload = WebSocketFrame.closePayload(code: .goingAway, reason: String(repeating: "é", count: 100))
        #expect(payload.count <= WebSocketFrame.maxControlPayload)
        #expect(String(validating: payload[2...], as: UTF8.self) != nil)
    }
}
