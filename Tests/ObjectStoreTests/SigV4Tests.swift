import Hashing
@testable import ObjectStore
import Testing

/// SigV4 against the examples AWS publishes: the signing-key derivation, the IAM ListUsers
/// request (canonical request hash and signature), and the S3 examples (GET an object with
/// a Range, PUT an object, GET a bucket's lifecycle, list objects).
@Suite struct SigV4Tests {
    static let iamSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let s3 = AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    @Test func theSigningKeyOfTheDocumentation() {
        #expect(SigV4.hex(SigV4.signingKey(secret: Self.iamSecret, date: "20150830", region: "us-east-1", service: "iam"))
                == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func theIAMListUsersExample() {
        let r = SigV4.Request(method: "GET", path: "/", query: [("Version", "2010-05-08"), ("Action", "ListUsers")],
                              headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Host", "iam.amazonaws.com"),
                                        ("X-Amz-Date", "20150830T123600Z")],
                              payloadHash: SigV4.emptyPayloadHash)
        let (canonical, signed) = SigV4.canonicalRequest(r)
        #expect(canonical == """
        GET
        /
        Action=ListUsers&Version=2010-05-08
        content-type:application/x-www-form-urlencoded; charset=utf-8
        host:iam.amazonaws.com
        x-amz-date:20150830T123600Z

        content-type;host;x-amz-date
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        """)
        #expect(signed == "content-type;host;x-amz-date")
        #expect(SigV4.hex(SHA256.hash(Array(canonical.utf8))) == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        let signer = SigV4(credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: Self.iamSecret), region: "us-east-1", service: "iam")
        #expect(signer.authorization(r, amzDate: "20150830T123600Z")
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request,SignedHeaders=content-type;host;x-amz-date,Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    @Test func theS3Examples() {
        let signer = SigV4(credentials: Self.s3, region: "us-east-1")
        func auth(_ method: String, _ path: String, _ query: [(String, String)] = [], _ headers: [(String, String)], _ payload: String) -> String {
            let r = SigV4.Request(method: method, path: path, query: query,
                                  headers: headers + [("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", payload)], payloadHash: payload)
            return signer.authorization(r, amzDate: "20130524T000000Z")
        }
        let host = ("Host", "examplebucket.s3.amazonaws.com")
        #expect(auth("GET", "/test.txt", [], [host, ("Range", "bytes=0-9")], SigV4.emptyPayloadHash).hasSuffix(
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
        let body = Array("Welcome to Amazon S3.".utf8)
        #expect(auth("PUT", "/" + SigV4.uriEncode("test$file.text", slash: false), [],
                     [host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")], SigV4.hex(SHA256.hash(body))).hasSuffix(
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
        #expect(auth("GET", "/", [("lifecycle", "")], [host], SigV4.emptyPayloadHash).hasSuffix(
            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
        #expect(auth("GET", "/", [("max-keys", "2"), ("prefix", "J")], [host], SigV4.emptyPayloadHash).hasSuffix(
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func encodingAndHeadersAsTheSpecSays() {
        #expect(SigV4.uriEncode("a b/c~d_e.f-g*é", slash: true) == "a%20b%2Fc~d_e.f-g%2A%C3%A9")
        #expect(SigV4.uriEncode("a b/c", slash: false) == "a%20b/c")
        let r = SigV4.Request(method: "GET", path: "/", query: [("b", "2"), ("a", "z"), ("a", "y")],
                              headers: [("X-Multi", "  one   two  "), ("x-multi", "three"), ("Host", "h")], payloadHash: "p")
        let (canonical, signed) = SigV4.canonicalRequest(r)
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == "a=y&a=z&b=2")
        #expect(canonical.contains("x-multi:one two,three\n") && signed == "host;x-multi")
        #expect(!"\(Self.s3)".contains("EXAMPLEKEY"), "credentials never print their secret")
    }
}
