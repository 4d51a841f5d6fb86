import ByteCodec
import Hashing
import Foundation
import Telemetry

/// The server side of the RFC 6455 §4.2 opening handshake: recognizing an upgrade request,
/// checking it, and the 101 answer.
public enum WebSocketHandshake {
    /// §1.3: the fixed GUID the accept hash is salted with.
    static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    public static let supportedVersion = "13"

    /// Whether the request asks to become a WebSocket (its Upgrade header names websocket).
    /// Such a request is either accepted or refused; it is never served as plain HTTP.
    public static func isUpgradeRequest(_ req: HTTPRequest) -> Bool {
        tokens(req, "Upgrade").contains("websocket")
    }

    /// The Sec-WebSocket-Accept value for a client key (§4.2.2): base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        Data(SHA1.hash(Array((key + acceptGUID).utf8))).base64EncodedString()
    }

    /// Checks an upgrade request; returns the accept value, or the response refusing it (400, or
    /// 426 naming the supported version).
    public static func validate(_ req: HTTPRequest) -> Result<String, WebSocketHandshakeRefusal> {
        func refuse(_ status: Int, _ message: String, _ headers: [(name: String, value: String)] = []) -> Result<String, WebSocketHandshakeRefusal> {
            var response = HTTPResponse.text("WebSocket handshake refused: \(message)\n", status: status)
            response.headers.append(contentsOf: headers)
            return .failure(WebSocketHandshakeRefusal(response: response, message: message))
        }
        guard req.method == "GET" else { return refuse(400, "the upgrade request must use GET, not \(boundedQuote(req.method))") }
        guard req.minorVersion >= 1 else { return refuse(400, "the upgrade request must be HTTP/1.1") }
        guard isUpgradeRequest(req) else { return refuse(400, "the Upgrade header must name websocket") }
        guard tokens(req, "Connection").contains("upgrade") else { return refuse(400, "the Connection header must contain upgrade") }
        let versions = values(req, "Sec-WebSocket-Version")
        guard versions == [supportedVersion] else {
            let got = versions.isEmpty ? "none" : boundedQuote(versions.joined(separator: ", "))
            return refuse(426, "Sec-WebSocket-Version must be \(supportedVersion) (got \(got))", [("Sec-WebSocket-Version", supportedVersion)])
        }
        let keys = values(req, "Sec-WebSocket-Key")
        guard keys.count == 1, let decoded = Data(base64Encoded: keys[0]), decoded.count == 16 else {
            return refuse(400, "Sec-WebSocket-Key must be one base64-encoded 16-byte value")
        }
        return .success(acceptValue(forKey: keys[0]))
    }

    /// The 101 answer. Written by hand: a 1xx response must not carry Content-Length (RFC 9110 §8.6),
    /// which `HTTPResponse.serialize` always adds. No subprotocol or extension is selected.
    static func switchingProtocols(accept: String) -> [UInt8] {
        Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n".utf8)
    }

    /// Every value of a header (it may be repeated), trimmed.
    private static func values(_ req: HTTPRequest, _ name: String) -> [String] {
        let lower = name.lowercased()
        return req.headers.filter { $0.name.lowercased() == lower }.map { $0.value.trimmingCharacters(in: .whitespaces) }
    }

    /// The comma-separated tokens of a header across all its lines, lowercased.
    private static func tokens(_ req: HTTPRequest, _ name: String) -> [String] {
        values(req, name).flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }
}

/// A refused upgrade: the response to send and why.
public struct WebSocketHandshakeRefusal: Error, Sendable {
    public let response: HTTPResponse
    public let message: String
}
