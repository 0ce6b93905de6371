// CRMCSV — RFC 4180 CSV reading and writing in constant memory, shared by batch runs, master-data bulk resolves and
// configuration tables.

import Foundation

/// Reads a local file in fixed-size chunks, so parsers keep constant memory whatever the file size.
///
/// Local-disk reads are short blocking calls; callers read through this on their own task.
public final class ByteSource {
    private let handle: FileHandle?
    private var chunk: [UInt8]
    private var index = 0
    private let chunkSize: Int
    private var finished = false
    /// Bytes consumed so far (handed out by ``next()``).
    public private(set) var consumed: Int64 = 0

    public init(path: String, chunkSize: Int = 256 * 1024) throws(FileOpenError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileOpenError(path: path) }
        self.handle = handle
        self.chunk = []
        self.chunkSize = chunkSize
    }

    /// An in-memory source (tests, small inputs).
    public init(bytes: [UInt8]) {
        handle = nil
        chunk = bytes
        chunkSize = 0
        finished = true
    }

    deinit { try? handle?.close() }

    /// The next byte, or nil at the end of the file.
    @inline(__always)
    public func next() -> UInt8? {
        if index < chunk.count {
            let byte = chunk[index]
            index += 1
            consumed += 1
            return byte
        }
        guard refill() else { return nil }
        let byte = chunk[index]
        index += 1
        consumed += 1
        return byte
    }

    /// The next byte without consuming it.
    @inline(__always)
    public func peek() -> UInt8? {
        if index < chunk.count { return chunk[index] }
        guard refill() else { return nil }
        return chunk[index]
    }

    /// Appends the bytes up to (not including) the next one equal to `a`, `b`, `c` or `d` within the chunk in memory
    /// to `out`, and consumes them. Stops at the end of the chunk without reading more: ``next()`` and ``peek()``
    /// refill.
    @inline(__always)
    func appendRun(to out: inout [UInt8], until a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        let start = index
        let end = chunk.count
        guard start < end else { return }
        let stop: Int = chunk.withUnsafeBufferPointer { bytes in
            var i = start
            while i < end {
                let byte = bytes[i]
                if byte == a || byte == b || byte == c || byte == d { break }
                i += 1
            }
            if i > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i])) }
            return i
        }
        consumed += Int64(stop - start)
        index = stop
    }

    private func refill() -> Bool {
        guard !finished, let handle else { return false }
        let data = (try? handle.read(upToCount: chunkSize)) ?? nil
        guard let data, !data.isEmpty else {
            finished = true
            return false
        }
        chunk = [UInt8](data)
        index = 0
        return true
    }
}

/// A local file that cannot be opened for reading.
public struct FileOpenError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var description: String { "cannot open \(path) for reading" }
}
