import ByteCodec
import COpenSSL
import Foundation

/// A cluster CA and the node certificates it signs, for TLS between peers (and, if
/// wanted, for the nodes' HTTPS listeners): P-256 keys, SHA-256 signatures, files in
/// PEM with keys readable by their owner only. Node certificates carry both serverAuth
/// and clientAuth, since every node dials and accepts.
public enum Certificates {
    /// Writes `ca.pem` and `ca.key` into `directory`; refuses to overwrite an existing CA.
    public static func createAuthority(in directory: String, name: String, days: Int) throws(TLSError) {
        precondition(days > 0, "a CA lives at least a day")
        let certPath = directory + "/ca.pem", keyPath = directory + "/ca.key"
        guard !FileManager.default.fileExists(atPath: certPath), !FileManager.default.fileExists(atPath: keyPath) else {
            throw TLSError("\(directory) already holds a CA (ca.pem / ca.key); remove them first to make a new one")
        }
        let key = try generateKey()
        defer { EVP_PKEY_free(key) }
        let cert = try newCertificate(key: key, commonName: name, days: days)
        defer { X509_free(cert) }
        guard let subject = X509_get_subject_name(cert), X509_set_issuer_name(cert, subject) == 1 else { throw TLSError.drain("cannot set the CA's issuer") }
        try addExtensions(cert, issuer: cert, ["basicConstraints": "critical,CA:TRUE", "keyUsage": "critical,keyCertSign,cRLSign",
                                               "subjectKeyIdentifier": "hash"])
        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw TLSError.drain("cannot sign the CA certificate") }
        try write(key: key, to: keyPath)
        try write(cert: cert, to: certPath)
    }

    /// Issues a certificate for `hosts` (IP addresses and DNS names the node is reached at)
    /// signed by the CA in `caDirectory`; writes `<out>.pem` and `<out>.key`.
    public static func issue(caDirectory: String, commonName: String, hosts: [String], days: Int, out: String) throws(TLSError) {
        precondition(days > 0, "a certificate lives at least a day")
        guard !hosts.isEmpty else { throw TLSError("a node certificate needs at least one host (IP address or DNS name)") }
        for h in hosts where h.isEmpty || h.contains(",") || h.contains(where: \.isWhitespace) {
            throw TLSError("host \(boundedQuote(h)) is not an IP address or DNS name")
        }
        let caCert = try readCertificate(caDirectory + "/ca.pem")
        defer { X509_free(caCert) }
        let caKey = try readKey(caDirectory + "/ca.key")
        defer { EVP_PKEY_free(caKey) }
        guard X509_check_private_key(caCert, caKey) == 1 else { throw TLSError("\(caDirectory)/ca.key does not belong to \(caDirectory)/ca.pem") }
        let key = try generateKey()
        defer { EVP_PKEY_free(key) }
        let cert = try newCertificate(key: key, commonName: commonName, days: days)
        defer { X509_free(cert) }
        guard X509_set_issuer_name(cert, X509_get_subject_name(caCert)) == 1 else { throw TLSError.drain("cannot set the issuer") }
        let san = hosts.map { TLSSession.isIPLiteral($0) ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        try addExtensions(cert, issuer: caCert, ["basicConstraints": "critical,CA:FALSE", "keyUsage": "critical,digitalSignature,keyEncipherment",
                                                 "extendedKeyUsage": "serverAuth,clientAuth", "subjectAltName": san,
                                                 "authorityKeyIdentifier": "keyid"])
        guard X509_sign(cert, caKey, EVP_sha256()) > 0 else { throw TLSError.drain("cannot sign the certificate") }
        try write(key: key, to: out + ".key")
        try write(cert: cert, to: out + ".pem")
    }

    private static func generateKey() throws(TLSError) -> OpaquePointer {
        guard let ctx = EVP_PKEY_CTX_new_id(infra_evp_pkey_ec(), nil) else { throw TLSError.drain("cannot create a key context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, infra_nid_p256()) == 1,
              EVP_PKEY_keygen(ctx, &key) == 1, let key else { throw TLSError.drain("cannot generate a P-256 key") }
        return key
    }

    private static func newCertificate(key: OpaquePointer, commonName: String, days: Int) throws(TLSError) -> OpaquePointer {
        guard let cert = X509_new() else { throw TLSError.drain("cannot create a certificate") }
        var serial: UInt64 = 0
        while serial == 0 { serial = UInt64.random(in: 1...UInt64(Int64.max)) }
        guard X509_set_version(cert, 2) == 1,   // X.509 v3
              ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial) == 1,
              X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nil,   // an hour of slack for clocks
              X509_time_adj_ex(X509_getm_notAfter(cert), Int32(days), 0, nil) != nil,
              X509_set_pubkey(cert, key) == 1,
              X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
        else { X509_free(cert); throw TLSError.drain("cannot fill in the certificate for \(commonName)") }
        return cert
    }

    private static func addExtensions(_ cert: OpaquePointer, issuer: OpaquePointer, _ extensions: KeyValuePairs<String, String>) throws(TLSError) {
        var ctx = X509V3_CTX()
        X509V3_set_ctx(&ctx, issuer, cert, nil, nil, 0)
        for (name, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &ctx, OBJ_txt2nid(name), value) else { throw TLSError.drain("cannot make the \(name) extension (\(value))") }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(cert, ext, -1) == 1 else { throw TLSError.drain("cannot add the \(name) extension") }
        }
    }

    private static func open(_ path: String, _ mode: String) throws(TLSError) -> UnsafeMutablePointer<FILE> {
        guard let f = fopen(path, mode) else { throw TLSError("cannot open \(path): \(String(cString: strerror(errno)))") }
        return f
    }

    private static func write(key: OpaquePointer, to path: String) throws(TLSError) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)   // owner only, from the first byte
        guard fd >= 0, let f = fdopen(fd, "w") else { throw TLSError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        guard PEM_write_PrivateKey(f, key, nil, nil, 0, nil, nil) == 1 else { throw TLSError.drain("cannot write \(path)") }
    }

    private static func write(cert: OpaquePointer, to path: String) throws(TLSError) {
        let f = try open(path, "w")
        defer { fclose(f) }
        guard PEM_write_X509(f, cert) == 1 else { throw TLSError.drain("cannot write \(path)") }
    }

    private static func readCertificate(_ path: String) throws(TLSError) -> OpaquePointer {
        let f = try open(path, "r")
        defer { fclose(f) }
        guard let c = PEM_read_X509(f, nil, nil, nil) else { throw TLSError.drain("\(path) is not a PEM certificate") }
        return c
    }

    private static func readKey(_ path: String) throws(TLSError) -> OpaquePointer {
        let f = try open(path, "r")
        defer { fclose(f) }
        guard let k = PEM_read_PrivateKey(f, nil, nil, nil) else { throw TLSError.drain("\(path) is not a PEM private key") }
        return k
    }
}
