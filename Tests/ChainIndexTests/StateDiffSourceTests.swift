import ByteCodec
import Chain
import Foundation
import Storage
import Testing
@testable import ChainIndex

/// The state source travels in every replicated block entry as a string; as an enum it must
/// encode to the same bytes, and an unknown one must stop decode rather than be guessed at.
@Suite struct StateDiffSourceTests {
    static let who = Address(unchecked: [UInt8](repeating: 0x33, count: 20))

    static func command(_ source: StateDiffSource, withdrawals: [(address: Address, wei: U256)] = []) -> ChainCommand {
        let state = StateChanges(post: [.init(address: who, balance: U256(5))], source: source, withdrawals: withdrawals)
        let block = ChainCommand.BlockPayload(number: 2, hash: Hash32(unchecked: [UInt8](repeating: 0x11, count: 32)),
                                              parentHash: Hash32(unchecked: [UInt8](repeating: 0x22, count: 32)),
                                              block: Array("{}".utf8), receipts: Array("[]".utf8), state: state)
        return .blocks(chainId: 1, blocks: [block], safe: nil, finalized: 1)
    }

    /// The entry written out by hand: version 1 as nodes before the enum wrote it, version 2
    /// with the block-layout flag after the state (0 here: "{}" has no transactions array,
    /// so no layout can be found and every replica skips the block alike).
    static func golden(source: String, version: UInt8 = 2) -> [UInt8] {
        let sourceBytes = Array(source.utf8)
        let hex = "c1" + String(format: "%02x", version) + "01"   // tag, version, kind: blocks
            + "0000000000000001"                          // chain id
            + "ffffffffffffffff" + "0000000000000001"     // safe: none; finalized: 1
            + "00000001"                                  // one block
            + "0000000000000002"                          // its number
            + String(repeating: "11", count: 32) + String(repeating: "22", count: 32)
            + "00000002" + "7b7d" + "00000002" + "5b5d"   // block "{}", receipts "[]"
            + String(format: "%08x", sourceBytes.count) + sourceBytes.map { String(format: "%02x", $0) }.joined()
            + "00000000"                                  // no withdrawals
            + "00000000"                                  // no pre
            + "00000001" + String(repeating: "33", count: 20) + "01"   // one post account, balance only
            + String(repeating: "00", count: 31) + "05" + "00000000"   // balance 5, no slots
            + (version >= 2 ? "00" : "")                  // no layout
        return try! Hex.decodeData("0x" + hex)
    }

    @Test func everySourceEncodesAsItsWireStringAndRoundTrips() throws {
        #expect(StateDiffSource.allCases.map(\.rawValue) == ["prestateTracer", "probe", "none"], "the wire values never change")
        for source in StateDiffSource.allCases {
            let cmd = Self.command(source)
            #expect(cmd.encoded() == Self.golden(source: source.rawValue), "\(source) encodes to the bytes nodes have always written")
            #expect(try ChainCommand.decode(Self.golden(source: source.rawValue)) == cmd)
            #expect(try ChainCommand.decode(Self.golden(source: source.rawValue, version: 1)) == cmd, "entries logged before version 2 still decode")
        }
        #expect(StateChanges().source == .unrecorded)
    }

    @Test func anUnknownSourceIsRefusedByName() {
        for raw in ["trace", "prestateTracerV2", "", "PROBE"] {
            #expect(throws: ChainCommandError.unknownStateDiffSource(raw)) { try ChainCommand.decode(Self.golden(source: raw)) }
        }
        let e = ChainCommandError.unknownStateDiffSource("trace")
        #expect(e.description.contains("unknown state diff source \"trace\"") && e.description.contains("prestateTracer, probe, none"))
    }

    @Test func malformedBytesAreNotMistakenForAnUnknownSource() {
        let bytes = Self.golden(source: "probe")
        for cut in [1, 3, 40, bytes.count - 1] {
            #expect { _ = try ChainCommand.decode(Array(bytes[..<cut])) } throws: { e in
                guard case .malformed? = e as? ChainCommandError else { return false }
                return true
            }
        }
        var wrongVersion = bytes
        wrongVersion[1] = 9
        #expect(throws: ChainCommandError.malformed(DecodeError("chain command: unsupported version 9 (this node reads 1 to 2)"))) { try ChainCommand.decode(wrongVersion) }
    }

    /// Only a tracer's state leaves withdrawals to apply: probed state already includes them.
    @Test func withdrawalsAreCreditedOnlyForTracedState() throws {
        let credit = [(address: Self.who, wei: U256(1000))]
        for (source, expected) in [(StateDiffSource.prestateTracer, U256(1005)), (.probe, U256(5))] {
            let e = try Environment(path: NSTemporaryDirectory() + "source-\(UUID().uuidString.prefix(8))")
            let ix = try ChainIndex(env: e)
            let payload = ChainCommand.BlockPayload(number: 0, hash: Hash32.keccak([1]), parentHash: Hash32.keccak([0]),
                                                    block: Array(#"{"number":"0x0","transactions":[]}"#.utf8), receipts: Array("[]".utf8),
                                                    state: StateChanges(post: [.init(address: Self.who, balance: U256(5))], source: source, withdrawals: credit))
            let out = try e.write { txn in try ix.apply(.blocks(chainId: 9, blocks: [payload], safe: nil, finalized: nil), in: txn) }
            #expect(out.applied == [0])
            #expect(try ix.view { try $0.account(9, Self.who, at: 0)?.balance } == expected, "\(source)")
        }
    }
}
