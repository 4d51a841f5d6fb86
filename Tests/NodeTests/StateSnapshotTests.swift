@testable import StateMachine
import Consensus
import Storage
import Testing

/// The state machine's snapshot bytes: what a far-behind follower installs in one write.
@Suite struct StateSnapshotTests {
    func root(_ name: String) throws -> (Environment, StateMachineRoot) {
        let env = try Environment(path: temporaryDirectory(name))
        return (env, try StateMachineRoot(env: env))
    }

    func put(_ root: StateMachineRoot, from first: UInt64, count: Int) throws {
        let entries = (0..<count).map { i in
            Entry(term: 1, index: first + UInt64(i), data: NodeCommand.put(key: "key-\(first + UInt64(i))", value: Array("value \(i)".utf8)).encoded())
        }
        _ = try root.apply(committed: entries)
    }

    @Test func installReproducesTheStateAndItsDigest() throws {
        let (envA, a) = try root("snap-a")
        let (envB, b) = try root("snap-b")
        defer { envA.close(); envB.close() }
        try put(a, from: 1, count: 500)
        try put(b, from: 1, count: 3)   // whatever b held is replaced
        let (index, data) = try a.snapshotData()
        #expect(index == 500)
        try b.install(snapshotData: data)
        #expect(try b.applied() == a.applied())
        #expect(try b.get("key-250") == Array("value 249".utf8))
        #expect(try b.snapshotData().data == data, "the installed state serializes to the same bytes")
    }

    /// A snapshot larger than the receiver's map: the install's write transaction fills the
    /// map, which grows, and the whole attempt runs again. It must read the bytes from their
    /// start again (it once resumed mid-stream and refused a good 2.6 GB snapshot).
    @Test func installGrowsTheMapAndStillReadsTheSnapshotFromItsStart() throws {
        let (envA, a) = try root("snap-big-a")
        var small = Environment.Options()
        small.mapSize = 1 << 20
        let envB = try Environment(path: temporaryDirectory("snap-big-b"), options: small)
        let b = try StateMachineRoot(env: envB)
        defer { envA.close(); envB.close() }
        let value = [UInt8](repeating: 7, count: 2000)
        let entries = (0..<2000).map { i in
            Entry(term: 1, index: UInt64(i + 1), data: NodeCommand.put(key: "big-\(i)", value: value).encoded())
        }
        _ = try a.apply(committed: entries)
        let (_, data) = try a.snapshotData()
        #expect(data.count > 3 << 20, "the snapshot is several times the receiver's 1 MiB map")
        try b.install(snapshotData: data)
        #expect(try b.applied() == a.applied())
        #expect(try b.snapshotData().data == data)
    }

    @Test func aMalformedSnapshotThrowsAndChangesNothing() throws {
        let (envA, a) = try root("snap-bad-a")
        let (envB, b) = try root("snap-bad-b")
        defer { envA.close(); envB.close() }
        try put(a, from: 1, count: 50)
        try put(b, from: 1, count: 7)
        let before = try b.applied()
        let (_, data) = try a.snapshotData()
        // Truncated, and with trailing garbage.
        #expect(throws: (any Error).self) { try b.install(snapshotData: Array(data.dropLast(5))) }
        #expect(throws: (any Error).self) { try b.install(snapshotData: data + [1, 2, 3]) }
        // Two adjacent keys of the same length swapped: the pairs are out of key order.
        let k10 = Array("key-10".utf8), k11 = Array("key-11".utf8)
        var swapped = data
        let i10 = try #require(find(k10, in: swapped)), i11 = try #require(find(k11, in: swapped))
        swapped.replaceSubrange(i10..<(i10 + k10.count), with: k11)
        swapped.replaceSubrange(i11..<(i11 + k11.count), with: k10)
        #expect(throws: (any Error).self) { try b.install(snapshotData: swapped) }
        #expect(try b.applied() == before, "a refused snapshot leaves the state as it was")
        #expect(try b.get("key-3") == Array("value 2".utf8))
        #expect(try b.get("key-40") == nil)
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
