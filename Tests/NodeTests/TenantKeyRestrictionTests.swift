import Chain
import Hashing
import Net
import Tenancy
import Testing
@testable import Edge

/// An organisation's key is refused from outside its networks and origins, and a read-only
/// one cannot send a transaction, over JSON-RPC (single and batch) as over WebSocket.
@Suite struct TenantKeyRestrictionTests {
    static let secret = "isk_" + String(repeating: "ab", count: 32)

    static func authenticator(_ key: APIKeyRecord) -> Authenticator {
        let hash = SHA256.hash(Array(secret.utf8))
        return Authenticator(apiKeys: ["cluster-dev-key"], adminToken: nil, tenantKey: { $0 == hash ? key : nil })
    }

    static func record(cidrs: [String] = [], origins: [String] = [], permissions: KeyPermissions = .read) -> APIKeyRecord {
        APIKeyRecord(id: 7, org: 9, name: "k", secretHash: SHA256.hash(Array(secret.utf8)), permissions: permissions,
                     origins: origins, cidrs: cidrs, createdBy: 1, createdMillis: 1)
    }

    static func request(from remote: String, origin: String? = nil) -> HTTPRequest {
        var headers: [(name: String, value: String)] = [("Host", "x"), ("X-API-Key", secret)]
        if let origin { headers.append(("Origin", origin)) }
        var r = HTTPRequest(method: "POST", target: "/", headers: headers)
        r.remote = remote
        return r
    }

    func principal(_ a: Authenticator, _ r: HTTPRequest) -> Principal? { try? a.reader(r).get().principal }
    func refusal(_ a: Authenticator, _ r: HTTPRequest) -> String? {
        if case .failure(let f) = a.reader(r) { return f.message }
        return nil
    }

    @Test func networksAndOrigins() {
        let nets = Self.authenticator(Self.record(cidrs: ["10.0.0.0/8", "2001:db8::/32"]))
        #expect(principal(nets, Self.request(from: "10.1.2.3:4000"))?.organisation == 9)
        #expect(principal(nets, Self.request(from: "[2001:db8::5]:4000"))?.organisation == 9)
        #expect(principal(nets, Self.request(from: "[::ffff:10.9.9.9]:4000")) != nil, "an IPv4-mapped address is its IPv4 address")
        #expect(refusal(nets, Self.request(from: "192.168.1.1:4000"))?.contains("not allowed from 192.168.1.1") == true)
        #expect(refusal(nets, Self.request(from: "[2001:db9::1]:4000")) != nil)

        let web = Self.authenticator(Self.record(origins: ["https://app.example"]))
        #expect(principal(web, Self.request(from: "1.2.3.4:1", origin: "https://APP.example")) != nil, "origins compare without case")
        #expect(refusal(web, Self.request(from: "1.2.3.4:1", origin: "https://evil.example"))?.contains("allowed only from the origins") == true)
        #expect(refusal(web, Self.request(from: "1.2.3.4:1")) != nil, "a key meant for a web page needs its Origin")

        let open = Self.authenticator(Self.record())
        #expect(principal(open, Self.request(from: "8.8.8.8:1")) != nil, "no restriction set: any network, any origin")
        #expect(principal(open, Self.request(from: "8.8.8.8:1"))?.mayWrite == false)
        #expect(principal(Self.authenticator(Self.record(permissions: .readWrite)), Self.request(from: "8.8.8.8:1"))?.mayWrite == true)
    }

    @Test func readOnlyKeysCannotSendTransactions() throws {
        let server = JSONRPCServerForTest.server
        let single = try JSON.parse(server.respond(to: Array(#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}"#.utf8),
                                                   refuse: ReadGateway.readOnly)!)
        #expect(single["error"]?["code"] == .number("-32003"), "\(single)")
        #expect(single["error"]?["message"]?.stringValue?.contains("read+write") == true)
        let batch = try JSON.parse(server.respond(to: Array(#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x00"]}]"#.utf8),
                                                  refuse: ReadGateway.readOnly)!)
        #expect(batch.arrayValue?.first?["result"] == .string("ran eth_chainId"))
        #expect(batch.arrayValue?.last?["error"]?["code"] == .number("-32003"), "each call of a batch is checked")
        let allowed = try JSON.parse(server.respond(to: Array(#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]}"#.utf8))!)
        #expect(allowed["result"] == .string("ran eth_sendRawTransaction"), "without the hook the method runs")
    }
}

import RPC

enum JSONRPCServerForTest {
    static let server = JSONRPCServer(maxBatch: 10) { method, _ in .string("ran \(method)") }
}

