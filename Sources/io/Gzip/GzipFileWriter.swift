import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A gzip failure, naming the file and what zlib or the system said.
public struct GzipError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Compresses into a gzip file (RFC 1952: zlib's deflate with its gzip wrapper, so any gzip
/// reads it) as bytes arrive: memory stays zlib's state plus one output buffer whatever the
/// size of the input, and compressed bytes reach the file as each buffer fills.
///
/// Not thread-safe: one writer per thread. `finish` must be called for a valid file; a
/// writer dropped without it closes the file, which then lacks its trailer (a reader
/// reports it truncated, never short).
public final class GzipFileWriter {
    public let path: String
    /// Bytes handed to `write`, and compressed bytes written to the file so far.
    public private(set) var bytesIn: UInt64 = 0
    public private(set) var bytesOut: UInt64 = 0

    private let stream: UnsafeMutablePointer<z_stream>
    private let buffer: UnsafeMutablePointer<UInt8>
    private let bufferSize: Int
    private var fd: Int32
    private var ended = false

    /// Creates (or truncates) `path`. `level` is zlib's 1 (fastest) … 9 (smallest); 6 is
    /// gzip's own default.
    public init(path: String, level: Int32 = 6, bufferSize: Int = 256 << 10) throws {
        precondition((1...9).contains(level) && bufferSize >= 1024, "a zlib level 1…9 and a buffer of at least 1 KiB")
        self.path = path
        self.bufferSize = bufferSize
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GzipError("\(path): cannot create it: \(String(cString: strerror(errno)))") }
        // zlib keeps a pointer back to the stream and checks it on every call, so the stream
        // needs an address that never moves.
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        buffer = .allocate(capacity: bufferSize)
        // windowBits 15 + 16: the largest window, with the gzip header and CRC-32 trailer.
        let rc = deflateInit2_(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            // deinit frees the stream and buffer: every property is set by now.
            close(fd); fd = -1
            ended = true
            throw GzipError("\(path): zlib's deflateInit2 failed (\(rc))")
        }
    }

    deinit {
        if !ended { deflateEnd(stream) }
        if fd >= 0 { close(fd) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        buffer.deallocate()
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ raw: UnsafeRawBufferPointer) throws {
        precondition(!ended, "write after finish")
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        var offset = 0
        // avail_in is 32 bits: larger inputs go in slices.
        while offset < raw.count {
            let n = min(raw.count - offset, 1 << 30)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(n)
            try pump(Z_NO_FLUSH)
            offset += n
        }
        bytesIn += UInt64(raw.count)
    }

    /// Writes the rest and the trailer, then (with `sync`) fsyncs and closes the file. The
    /// file is complete only once this returns.
    public func finish(sync: Bool = true) throws {
        precondition(!ended, "finish called twice")
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try pump(Z_FINISH)
        deflateEnd(stream)
        ended = true
        if sync, fsync(fd) != 0 { throw GzipError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
        let rc = close(fd)
        fd = -1
        if rc != 0 { throw GzipError("\(path): close failed: \(String(cString: strerror(errno)))") }
    }

    /// Runs deflate until it has taken all the input (or, finishing, written the trailer),
    /// writing every full or final buffer out.
    private func pump(_ flush: Int32) throws {
        while true {
            stream.pointee.next_out = buffer
            stream.pointee.avail_out = UInt32(bufferSize)
            let rc = deflate(stream, flush)
            // Z_BUF_ERROR means no progress was possible, which is not an error here.
            guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else { throw GzipError("\(path): zlib's deflate failed (\(rc))") }
            let produced = bufferSize - Int(stream.pointee.avail_out)
            try writeOut(produced)
            if flush == Z_FINISH {
                if rc == Z_STREAM_END { return }
            } else if stream.pointee.avail_out != 0 {
                // Room left in the buffer: deflate has taken all the input.
                return
            }
        }
    }

    private func writeOut(_ count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, buffer + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw GzipError("\(path): write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        bytesOut += UInt64(count)
    }
}
