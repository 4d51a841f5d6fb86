import Foundation
import Testing
import TestSupport
@testable import Net

/// The server against an independent client: Python's `websockets` package.
@Suite(.serialized) struct WebSocketInteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../python/ws_interop_client.py").standardized.path

    @Test func pythonWebsocketsClient() throws {
        guard let python = try ReferencePython.orSkip("WebSocketInteropTests.pythonWebsocketsClient") else { return }
        let probe = try? ReferencePython.run(python, ["-c", "import websockets; print(websockets.__version__)"])
        guard let version = probe, !version.isEmpty else {
            if References.required { throw TestFailure("the websockets package is not installed for \(python)") }
            print("SKIP: WebSocketInteropTests: the websockets package is not installed for \(python)")
            return
        }
        let recorder = WebSocketRecorder()
        var limits = WebSocketLimits()
        limits.pingIntervalMillis = 100
        limits.idleTimeoutMillis = 2000
        let hook: HTTPServer.WebSocketUpgrade = { req in
            guard req.path == "/interop" else { return nil }
            return WebSocketHandler(
                onOpen: { ws in recorder.opened(ws); ws.send(text: "welcome \(ws.id)") },
                onText: { ws, text in
                    guard text == "push please" else { ws.send(text: text); return }
                    // Pushed from a thread of the application's own, as subscriptions will be.
                    Thread { for i in 0..<5 { ws.send(text: "push \(i)") } }.start()
                },
                onBinary: { ws, bytes in ws.send(binary: bytes) },
                onClose: { ws, code in recorder.closed(ws, code) })
        }
        try withWebSocketServer(limits: limits, recorder: recorder, hook: hook) { server in
            let url = "ws://\(server.address.host):\(server.address.port)/interop"
            let out = try ReferencePython.run(python, [Self.script, url, "3"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "python printed: \(out)")
            #expect((json["welcome"] as? String)?.hasPrefix("welcome ") == true)
            #expect(json["echo"] as? String == "hello from python")
            #expect(json["big_echoed"] as? Bool == true)
            #expect(json["binary"] as? [Int] == [0, 1, 254, 255])
            #expect(json["fragmented"] as? String == "fragmented message")
            #expect(json["pong"] as? Bool == true)
            #expect(json["pushes"] as? [String] == (0..<5).map { "push \($0)" })
            #expect(json["close_code"] as? Int == 1000)
            try eventually("onClose") { recorder.closes.count == 1 }
            #expect(recorder.closeCodes == [.normal])
        }
    }
}
