import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// Decompresses a gzip file piece by piece (bounded memory, like the writer). Members
/// written one after another (`cat a.gz b.gz`) read as one stream, as gzip(1) and Python
/// read them. zlib checks each member's CRC-32 and length; a file that ends inside a
/// member is an error, never a short read.
public final class GzipFileReader {
    public let path: String
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private let inputSize = 64 << 10
    private var fd: Int32
    private var atEOF = false
    private var memberDone = false
    private var ended = false

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GzipError("\(path): cannot open it: \(String(cString: strerror(errno)))") }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: inputSize)
        // windowBits 15 + 16: gzip only (a zlib or raw stream is refused as not gzip).
        let rc = inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            close(fd); fd = -1
            ended = true
            throw GzipError("\(path): zlib's inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        if !ended { inflateEnd(stream) }
        if fd >= 0 { close(fd) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    /// Up to `max` decompressed bytes; empty at the end of the file.
    public func read(max: Int = 256 << 10) throws -> [UInt8] {
        precondition(max > 0, "a read asks for something")
        var out = [UInt8](repeating: 0, count: max)
        let n = try out.withUnsafeMutableBufferPointer { try fill($0) }
        out.removeLast(max - n)
        return out
    }

    /// Everything left in the file (for small files and tests).
    public func readAll() throws -> [UInt8] {
        var all = [UInt8]()
        while true {
            let piece = try read()
            if piece.isEmpty { return all }
            all += piece
        }
    }

    private func fill(_ out: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        stream.pointee.next_out = out.baseAddress
        stream.pointee.avail_out = UInt32(out.count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 && !atEOF { try refill() }
            if memberDone {
                // Another member follows only if there is more input; trailing nothing is the end.
                guard stream.pointee.avail_in > 0 else { break }
                guard inflateReset(stream) == Z_OK else { throw GzipError("\(path): zlib's inflateReset failed") }
                memberDone = false
            }
            if stream.pointee.avail_in == 0 && atEOF {
                throw GzipError("\(path): truncated: the file ends inside a gzip member (an unfinished or cut-off file)")
            }
            let rc = inflate(stream, Z_NO_FLUSH)
            switch rc {
            case Z_OK: continue
            case Z_STREAM_END: memberDone = true
            case Z_BUF_ERROR: continue
            default:
                let why = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw GzipError("\(path): not a valid gzip file: \(why)")
            }
        }
        return out.count - Int(stream.pointee.avail_out)
    }

    private func refill() throws {
        while true {
            let n = Glibc.read(fd, input, inputSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw GzipError("\(path): read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { atEOF = true }
            stream.pointee.next_in = input
            stream.pointee.avail_in = UInt32(n)
            return
        }
    }
}
