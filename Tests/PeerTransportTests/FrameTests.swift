import Hashing
import TestSupport
import Testing
@testable import PeerTransport

@Suite struct FrameTests {
    @Test func layoutIsLengthTypeChecksumPayload() {
        let bytes = Frame(type: 7, payload: [1, 2, 3]).encoded()
        #expect(Array(bytes[0..<4]) == [0, 0, 0, 3])
        #expect(bytes[4] == 7)
        let crc = CRC32C.checksum([7, 1, 2, 3])
        #expect(Array(bytes[5..<9]) == [UInt8(crc >> 24), UInt8(crc >> 16 & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc & 0xff)])
        #expect(Array(bytes[9...]) == [1, 2, 3])
    }

    @Test func decodesAnyChunkingOfAStream() throws {
        let seed = SeededRandom.seed("frame chunking")
        var rng = SeededRandom(seed: seed)
        let frames = (0..<200).map { _ in Frame(type: UInt8.random(in: 0...255, using: &rng), payload: rng.bytes(Int.random(in: 0...2000, using: &rng))) }
        var stream = [UInt8]()
        for f in frames { Frame.encode(type: f.type, payload: f.payload, into: &stream) }
        var decoder = FrameDecoder()
        var decoded = [Frame]()
        var i = 0
        while i < stream.count {
            let n = min(stream.count - i, Int.random(in: 1...3000, using: &rng))
            try decoder.feed(Array(stream[i..<(i + n)]))
            while let f = try decoder.next() { decoded.append(f) }
            i += n
        }
        #expect(decoded == frames, "seed \(seed)")
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func rejectsOversizedLengthBeforeBufferingThePayload() throws {
        var decoder = FrameDecoder(maxPayloadBytes: 1024)
        // Only the header of a frame claiming 1 GiB: refused at once, nothing kept.
        let header: [UInt8] = [0x40, 0, 0, 0, 1, 0, 0, 0, 0]
        #expect(throws: FrameError.oversized(declaredBytes: 1 << 30, limitBytes: 1024)) { try decoder.feed(header) }
        #expect(decoder.bufferedByteCount == 0)
        // And the decoder stays failed.
        #expect(throws: FrameError.self) { try decoder.feed([0]) }
        #expect(FrameError.oversized(declaredBytes: 1 << 30, limitBytes: 1024).description.contains("over the limit of 1024 bytes"))
    }

    @Test func acceptsExactlyTheLimit() throws {
        var decoder = FrameDecoder(maxPayloadBytes: 16)
        try decoder.feed(Frame(type: 1, payload: [UInt8](repeating: 9, count: 16)).encoded())
        #expect(try decoder.next()?.payload.count == 16)
        #expect(throws: FrameError.self) { try decoder.feed(Frame(type: 1, payload: [UInt8](repeating: 9, count: 17)).encoded()) }
    }

    @Test func rejectsBadChecksum() throws {
        var bytes = Frame(type: 3, payload: Array("hello".utf8)).encoded()
        bytes[10] ^= 0x01
        var decoder = FrameDecoder()
        try decoder.feed(bytes)
        do {
            _ = try decoder.next()
            Issue.record("a corrupted payload was accepted")
        } catch {
            guard case let .checksumMismatch(type, payloadBytes, _, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(type == 3 && payloadBytes == 5)
            #expect(error.description.contains("failed its checksum"))
        }
    }

    @Test func corruptedTypeByteIsCaughtToo() throws {
        var bytes = Frame(type: 3, payload: [1, 2]).encoded()
        bytes[4] = 4
        var decoder = FrameDecoder()
        try decoder.feed(bytes)
        #expect(throws: FrameError.self) { try decoder.next() }
    }
}
