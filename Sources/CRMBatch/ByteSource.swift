// CRMBatch — batch file bridges: topic → file (outbound) and file → topic (inbound), with checkpoints.

import Foundation

/// Reads a local file in fixed-size chunks, so parsers keep constant memory whatever the file size.
///
/// Local-disk reads are short blocking calls; batch runs read through this on their own task.
final class ByteSource {
    private let handle: FileHandle?
    private var chunk: [UInt8]
    private var index = 0
    private let chunkSize: Int
    private var finished = false
    /// Bytes consumed so far (handed out by ``next()``).
    private(set) var consumed: Int64 = 0

    init(path: String, chunkSize: Int = 256 * 1024) throws(BatchError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BatchError(.file, "cannot open \(path) for reading")
        }
        self.handle = handle
        self.chunk = []
        self.chunkSize = chunkSize
    }

    /// An in-memory source (tests, small inputs).
    init(bytes: [UInt8]) {
        handle = nil
        chunk = bytes
        chunkSize = 0
        finished = true
    }

    deinit { try? handle?.close() }

    /// The next byte, or nil at the end of the file.
    @inline(__always)
    func next() -> UInt8? {
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
    func peek() -> UInt8? {
        if index < chunk.count { return chunk[index] }
        guard refill() else { return nil }
        return chunk[index]
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
