import Hashing

/// Credentials as the AWS CLI takes them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, or a credentials file). The secret never appears in a description.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId; self.secretAccessKey = secretAccessKey; self.sessionToken = sessionToken
    }

    public var description: String { "AWSCredentials(\(accessKeyId), secret hidden\(sessionToken == nil ? "" : ", session token hidden"))" }
}

/// AWS Signature Version 4 (the "Authorization: AWS4-HMAC-SHA256" header), pure: the
/// canonical request, the string to sign, the signing key and the signature of one request.
/// Checked against the examples AWS publishes (`SigV4Tests`).
public struct SigV4: Sendable {
    public let credentials: AWSCredentials
    public let region: String
    public let service: String

    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        precondition(!region.isEmpty && !service.isEmpty, "a signature is scoped to a region and a service")
        self.credentials = credentials; self.region = region; self.service = service
    }

    /// The SHA-256 of an empty body, and the marker of a body not signed (large uploads
    /// stream; S3 accepts it over TLS and for local endpoints).
    public static let emptyPayloadHash = hex(SHA256.hash([]))
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    public struct Request: Sendable {
        public var method: String
        /// The path as sent, already percent-encoded where it needs to be (`/bucket/a%20b`).
        public var path: String
        /// Decoded query parameters; they are encoded here.
        public var query: [(String, String)]
        /// Every header that is sent and signed (`host` among them).
        public var headers: [(String, String)]
        public var payloadHash: String

        public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)], payloadHash: String) {
            self.method = method; self.path = path; self.query = query; self.headers = headers; self.payloadHash = payloadHash
        }
    }

    /// The headers to add to `request` signed at `amzDate` (`YYYYMMDD'T'HHMMSS'Z'`):
    /// `x-amz-date`, `x-amz-content-sha256`, the session token when there is one, and
    /// `Authorization`.
    public func signedHeaders(_ request: Request, amzDate: String) -> [(String, String)] {
        precondition(amzDate.utf8.count == 16 && amzDate.hasSuffix("Z"), "x-amz-date is YYYYMMDDTHHMMSSZ")
        var r = request
        var added = [("x-amz-date", amzDate), ("x-amz-content-sha256", request.payloadHash)]
        if let t = credentials.sessionToken { added.append(("x-amz-security-token", t)) }
        r.headers += added
        return added + [("Authorization", authorization(r, amzDate: amzDate))]
    }

    /// The Authorization header's value for a request whose headers already include
    /// `x-amz-date` (and whatever else is signed).
    public func authorization(_ r: Request, amzDate: String) -> String {
        let date = String(amzDate.prefix(8))
        let (canonical, signed) = Self.canonicalRequest(r)
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let toSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        let signature = Self.hex(HMACSHA256.authenticationCode(for: Array(toSign.utf8), key: Self.signingKey(secret: credentials.secretAccessKey, date: date, region: region, service: service)))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope),SignedHeaders=\(signed),Signature=\(signature)"
    }

    /// The canonical request and its signed-headers list.
    public static func canonicalRequest(_ r: Request) -> (String, String) {
        var headers = [String: String]()
        for (name, value) in r.headers {
            let n = name.lowercased()
            let v = collapsed(value)
            headers[n] = headers[n].map { $0 + "," + v } ?? v
        }
        let names = headers.keys.sorted()
        let signed = names.joined(separator: ";")
        var pairs: [(String, String)] = r.query.map { (uriEncode($0.0, slash: true), uriEncode($0.1, slash: true)) }
        pairs.sort { a, b in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let query = pairs.map { p in p.0 + "=" + p.1 }.joined(separator: "&")
        var lines: [String] = [r.method, r.path.isEmpty ? "/" : r.path, query]
        for n in names { lines.append(n + ":" + headers[n]!) }
        lines += ["", signed, r.payloadHash]
        return (lines.joined(separator: "\n"), signed)
    }

    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        ["AWS4-HMAC-SHA256", amzDate, scope, hex(SHA256.hash(Array(canonicalRequest.utf8)))].joined(separator: "\n")
    }

    public static func signingKey(secret: String, date: String, region: String, service: String) -> [UInt8] {
        let kDate = HMACSHA256.authenticationCode(for: Array(date.utf8), key: Array(("AWS4" + secret).utf8))
        let kRegion = HMACSHA256.authenticationCode(for: Array(region.utf8), key: kDate)
        let kService = HMACSHA256.authenticationCode(for: Array(service.utf8), key: kRegion)
        return HMACSHA256.authenticationCode(for: Array("aws4_request".utf8), key: kService)
    }

    /// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters as they are,
    /// everything else as %XX of its UTF-8 bytes; `/` kept in paths (`slash: false`).
    public static func uriEncode(_ s: String, slash: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where !slash:
                out.append("/")
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Trimmed, with runs of spaces as one (outside quotes, as the spec says; header values
    /// we sign carry none).
    static func collapsed(_ v: String) -> String {
        v.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ").trimmingWhitespace()
    }

    public static func hex(_ b: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(b.count * 2)
        for x in b { out.append(digits[Int(x >> 4)]); out.append(digits[Int(x & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
    fileprivate func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
