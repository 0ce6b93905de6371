import CRMCSV

/// One line of a JSON-lines file: its bytes (without the line ending) and 1-based line number.
public struct JSONLine: Sendable, Equatable {
    public var bytes: [UInt8]
    public var line: Int
}

/// A streaming JSON-lines reader (one JSON value per line, LF or CRLF). Blank lines are skipped; a UTF-8 byte-order
/// mark at the start is skipped. The reader does not parse the JSON: the job does, so a bad line becomes a row error.
public final class JSONLinesReader {
    private let source: ByteSource
    private var line = 0
    private var started = false
    private var buffer: [UInt8] = []

    public init(path: String) throws(BatchError) {
        do {
            source = try ByteSource(path: path)
        } catch {
            throw BatchError(.file, error.description)
        }
    }

    public init(bytes: [UInt8]) {
        source = ByteSource(bytes: bytes)
    }

    /// Bytes consumed so far.
    public var bytesRead: Int64 { source.consumed }

    /// The next non-blank line, or nil at the end of the file.
    public func next() -> JSONLine? {
        if !started {
            started = true
            if source.peek() == 0xEF {
                _ = source.next()
                if source.peek() == 0xBB {
                    _ = source.next()
                    if source.peek() == 0xBF { _ = source.next() }
                }
            }
        }
        while true {
            buffer.removeAll(keepingCapacity: true)
            var sawAny = false
            while let byte = source.next() {
                sawAny = true
                if byte == 0x0A { break }
                buffer.append(byte)
            }
            guard sawAny else { return nil }
            line += 1
            if buffer.last == 0x0D { buffer.removeLast() }
            if buffer.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            return JSONLine(bytes: buffer, line: line)
        }
    }
}
