import COpenSSL
import Foundation

/// How one side of a TLS connection is set up. Verification is always on for clients
/// unless `insecureSkipVerify` is set explicitly (and then logged by whoever set it).
public struct TLSConfiguration: Sendable, Equatable {
    public enum Role: Sendable, Equatable { case client, server }
    public var role: Role
    /// PEM file of trusted CAs; nil = the system trust store (/etc/ssl/certs).
    public var caFile: String?
    /// This side's certificate chain and key (PEM): a server's, or a client's for mutual TLS.
    public var certificateFile: String?
    public var privateKeyFile: String?
    /// Servers: demand and verify a client certificate against `caFile` (peer links).
    public var requireClientCertificate = false
    /// Clients: accept any certificate. For test setups only; never a default.
    public var insecureSkipVerify = false
    /// TLS 1.3 only (peer links); otherwise TLS 1.2 is the floor and 1.3 preferred.
    public var requireTLS13 = false
    public var alpn: [String] = ["http/1.1"]

    public init(role: Role) { self.role = role }

    public static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"
    public static let systemCADirectory = "/etc/ssl/certs"
}

/// Why TLS failed, naming the host and what was wrong.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ d: String) { description = d }

    /// OpenSSL's error queue, drained into one line.
    static func drain(_ context: String) -> TLSError {
        var parts = [String]()
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(parts.isEmpty ? context : "\(context): \(parts.joined(separator: "; "))")
    }
}

/// An OpenSSL context (SSL_CTX): trust store, own certificate, protocol floor, ALPN.
/// Built once and shared by every session of one configuration.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let configuration: TLSConfiguration
    /// ALPN protocols in wire format (length-prefixed), kept alive for the select callback.
    let alpnWire: [UInt8]

    public init(_ c: TLSConfiguration) throws(TLSError) {
        configuration = c
        guard let ctx = SSL_CTX_new(c.role == .client ? TLS_client_method() : TLS_server_method()) else { throw TLSError.drain("cannot create a TLS context") }
        self.ctx = ctx
        alpnWire = c.alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        precondition(c.alpn.allSatisfy { !$0.isEmpty && $0.utf8.count < 256 }, "ALPN protocol names are 1 to 255 bytes")
        let floor = c.requireTLS13 ? infra_tls1_3_version() : infra_tls1_2_version()
        guard infra_ssl_ctx_set_min_proto(ctx, floor) == 1 else { throw TLSError.drain("cannot set the TLS version floor") }
        _ = infra_ssl_ctx_set_mode(ctx, infra_mode_partial_writes())
        if let cert = c.certificateFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 else { throw TLSError.drain("cannot load the certificate chain \(cert)") }
            guard let key = c.privateKeyFile else { throw TLSError("a certificate (\(cert)) needs its private key file") }
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else { throw TLSError.drain("cannot load the private key \(key)") }
            guard SSL_CTX_check_private_key(ctx) == 1 else { throw TLSError.drain("the private key \(key) does not match the certificate \(cert)") }
        }
        let verifies = c.role == .client ? !c.insecureSkipVerify : c.requireClientCertificate
        if verifies {
            let loaded = c.caFile.map { SSL_CTX_load_verify_locations(ctx, $0, nil) }
                ?? SSL_CTX_load_verify_locations(ctx, TLSConfiguration.systemCAFile, TLSConfiguration.systemCADirectory)
            guard loaded == 1 else { throw TLSError.drain("cannot load trusted CAs from \(c.caFile ?? TLSConfiguration.systemCAFile)") }
            let mode = c.role == .client ? SSL_VERIFY_PEER : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
            SSL_CTX_set_verify(ctx, mode, nil)
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        if c.role == .client, !alpnWire.isEmpty {
            guard SSL_CTX_set_alpn_protos(ctx, alpnWire, UInt32(alpnWire.count)) == 0 else { throw TLSError.drain("cannot set ALPN") }
        }
        if c.role == .server, !alpnWire.isEmpty {
            SSL_CTX_set_alpn_select_cb(ctx, { _, out, outlen, offered, offeredLen, arg in
                guard let arg else { return SSL_TLSEXT_ERR_NOACK }
                let me = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
                return me.alpnWire.withUnsafeBufferPointer { ours -> Int32 in
                    var selected: UnsafeMutablePointer<UInt8>? = nil
                    var selectedLen: UInt8 = 0
                    let r = SSL_select_next_proto(&selected, &selectedLen, ours.baseAddress, UInt32(ours.count), offered, offeredLen)
                    guard r == OPENSSL_NPN_NEGOTIATED, let selected else { return SSL_TLSEXT_ERR_NOACK }
                    // `selected` points into `ours`, which lives as long as this context.
                    out?.pointee = UnsafePointer(selected)
                    outlen?.pointee = selectedLen
                    return SSL_TLSEXT_ERR_OK
                }
            }, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    deinit { SSL_CTX_free(ctx) }
}

/// One TLS connection as a state machine over memory buffers: ciphertext in (`feed`),
/// ciphertext out (`takeOutput`), plaintext through `write` and `read`. It does no I/O,
/// so the blocking client and the event loop drive it the same way.
public final class TLSSession {
    public let context: TLSContext
    /// The name checked against the server's certificate (and sent as SNI); nil on servers.
    public let serverName: String?
    private let ssl: OpaquePointer
    private let input: OpaquePointer    // BIO we write received ciphertext into
    private let output: OpaquePointer   // BIO we take ciphertext to send from
    public private(set) var handshakeDone = false
    /// The peer closed the TLS session cleanly (close_notify).
    public private(set) var peerClosed = false

    public init(context: TLSContext, serverName: String? = nil) throws(TLSError) {
        self.context = context
        self.serverName = serverName
        guard let ssl = SSL_new(context.ctx) else { throw TLSError.drain("cannot create a TLS session") }
        self.ssl = ssl
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else { SSL_free(ssl); throw TLSError.drain("cannot create TLS buffers") }
        self.input = input
        self.output = output
        SSL_set_bio(ssl, input, output)   // the session owns both BIOs from here on
        if context.configuration.role == .client {
            if let name = serverName {
                // SNI only for names, never for IP literals (RFC 6066 §3).
                if !Self.isIPLiteral(name) { _ = infra_ssl_set_sni(ssl, name) }
                if !context.configuration.insecureSkipVerify {
                    let ok = Self.isIPLiteral(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) : SSL_set1_host(ssl, name)
                    guard ok == 1 else { throw TLSError.drain("cannot check certificates against \(name)") }
                }
            }
            SSL_set_connect_state(ssl)
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit { SSL_free(ssl) }

    static func isIPLiteral(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    /// Ciphertext received from the peer.
    public func feed(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let n = bytes.withUnsafeBytes { BIO_write(input, $0.baseAddress, Int32($0.count)) }
        precondition(n == Int32(bytes.count), "a memory BIO takes every byte")
    }

    /// Ciphertext to send to the peer (empty when there is none).
    public func takeOutput() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let n = out.withUnsafeMutableBytes { BIO_read(output, $0.baseAddress, Int32(pending)) }
        precondition(n == Int32(pending), "a memory BIO hands over what it holds")
        return out
    }

    /// Advances the handshake with what was fed; true once it is complete.
    public func handshake() throws(TLSError) -> Bool {
        if handshakeDone { return true }
        ERR_clear_error()
        let r = SSL_do_handshake(ssl)
        if r == 1 { handshakeDone = true; return true }
        let e = SSL_get_error(ssl, r)
        if e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE { return false }
        throw handshakeFailure()
    }

    /// A handshake failure in words: the certificate problem when verification failed.
    private func handshakeFailure() -> TLSError {
        let who = serverName.map { "TLS handshake with \($0)" } ?? "TLS handshake"
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verify))
            ERR_clear_error()
            return TLSError("\(who) failed: certificate verification: \(reason)")
        }
        return TLSError.drain("\(who) failed")
    }

    /// Encrypts plaintext; the ciphertext is then in `takeOutput`.
    public func write(_ plaintext: [UInt8]) throws(TLSError) {
        precondition(handshakeDone, "write after the handshake")
        var off = 0
        while off < plaintext.count {
            ERR_clear_error()
            let n = plaintext.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + off, Int32(min($0.count - off, 1 << 30))) }
            guard n > 0 else { throw TLSError.drain("TLS write to \(serverName ?? "the peer") failed") }
            off += Int(n)
        }
    }

    /// Decrypts what has been fed; empty when a whole record has not arrived yet.
    public func read() throws(TLSError) -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            ERR_clear_error()
            let n = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 { out.append(contentsOf: chunk[0..<Int(n)]); continue }
            let e = SSL_get_error(ssl, n)
            if e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE { return out }
            if e == SSL_ERROR_ZERO_RETURN { peerClosed = true; return out }
            throw TLSError.drain("TLS read from \(serverName ?? "the peer") failed")
        }
    }

    /// Queues close_notify (then send `takeOutput`).
    public func close() { ERR_clear_error(); _ = SSL_shutdown(ssl) }

    /// The protocol ALPN settled on, if any.
    public var negotiatedALPN: String? {
        var p: UnsafePointer<UInt8>? = nil
        var len: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &p, &len)
        guard let p, len > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(len)), as: UTF8.self)
    }

    /// "TLSv1.3" and the like.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
}
