/// How a CSV file is laid out.
public struct CSVOptions: Sendable, Equatable {
    /// The field separator, one ASCII byte. Default `,`.
    public var delimiter: UInt8
    /// The file's character encoding. Default UTF-8.
    public var encoding: TextEncoding
    /// Record terminator the writer uses: CRLF (RFC 4180) by default. The reader accepts CRLF, LF and CR.
    public var lineEnding: String

    public init(delimiter: UInt8 = UInt8(ascii: ","), encoding: TextEncoding = .utf8, lineEnding: String = "\r\n") {
        self.delimiter = delimiter
        self.encoding = encoding
        self.lineEnding = lineEnding
    }
}

/// One CSV record: its fields and where it starts in the file.
public struct CSVRecord: Sendable, Equatable {
    /// The decoded fields.
    public var fields: [String]
    /// 1-based physical line on which the record starts (a record with quoted newlines spans several lines).
    public var line: Int
}

/// One CSV record as the UTF-8 text of its fields, one after the other, without a string per field: for readers that
/// take most fields as bytes (``CSVReader/nextText()``).
public struct CSVTextRecord: Sendable, Equatable {
    /// The fields' texts in UTF-8 (valid; transcoded from the file's encoding), one after the other.
    public var text: [UInt8]
    /// Where each field ends in ``text``: field `k` is `text[(k == 0 ? 0 : ends[k - 1])..<ends[k]]`.
    public var ends: [Int]
    /// 1-based physical line on which the record starts.
    public var line: Int

    public init(text: [UInt8], ends: [Int], line: Int) {
        self.text = text
        self.ends = ends
        self.line = line
    }

    /// How many fields the record has.
    public var fieldCount: Int { ends.count }

    /// Where field `k` is in ``text``.
    public func range(of k: Int) -> Range<Int> { (k == 0 ? 0 : ends[k - 1])..<ends[k] }

    /// The fields as strings.
    public var fields: [String] { ends.indices.map { String(decoding: text[range(of: $0)], as: UTF8.self) } }
}

/// What a record's fields are read into: strings (``CSVRecord``) or one text (``CSVTextRecord``). The reader appends
/// each field's bytes to a buffer; the sink takes them from there.
private protocol FieldSink {
    init(capacity: Int)
    var count: Int { get }
    /// Takes the field `buffer[start...]` (bytes in `encoding`) and returns where the next field starts in `buffer`,
    /// and whether the bytes were valid in the encoding (an invalid field is taken empty).
    mutating func take(_ buffer: inout [UInt8], from start: Int, encoding: TextEncoding) -> (next: Int, valid: Bool)
    /// Ends the record: `buffer` becomes the reader's buffer for the next record.
    mutating func finish(_ buffer: inout [UInt8])
}

private struct StringFields: FieldSink {
    var fields: [String] = []
    init(capacity: Int) { fields.reserveCapacity(capacity) }
    var count: Int { fields.count }
    /// Each field starts at 0: the buffer is emptied once the field is taken.
    mutating func take(_ buffer: inout [UInt8], from start: Int, encoding: TextEncoding) -> (next: Int, valid: Bool) {
        assert(start == 0, "a string field starts a fresh buffer")
        let text = encoding.decode(buffer)
        fields.append(text ?? "")
        buffer.removeAll(keepingCapacity: true)
        return (0, text != nil)
    }
    mutating func finish(_ buffer: inout [UInt8]) {}
}

private struct TextFields: FieldSink {
    var text: [UInt8] = []
    var ends: [Int] = []
    init(capacity: Int) { ends.reserveCapacity(capacity) }
    var count: Int { ends.count }
    mutating func take(_ buffer: inout [UInt8], from start: Int, encoding: TextEncoding) -> (next: Int, valid: Bool) {
        defer { ends.append(buffer.count) }
        // The bytes stay where they are unless they are not ASCII: then they are checked, or transcoded to UTF-8.
        if TextEncoding.isASCII(buffer[start...]) { return (buffer.count, true) }
        let decoded = encoding.decode(Array(buffer[start...]))
        if encoding != .utf8 || decoded == nil {
            buffer.removeSubrange(start...)
            buffer.append(contentsOf: decoded?.utf8 ?? "".utf8)
        }
        return (buffer.count, decoded != nil)
    }
    mutating func finish(_ buffer: inout [UInt8]) {
        // The text keeps the buffer; the next record's gets room for a row a quarter longer.
        let count = buffer.count
        swap(&text, &buffer)
        buffer.reserveCapacity(count + count / 4 + 16)
    }
}

/// A record that could not be read, with the line it starts on; reading continues with the next record.
public struct CSVRowError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based physical line on which the bad record starts.
    public var line: Int
    /// What is wrong, without the field's content (it may be personal data).
    public var message: String

    public var description: String { "line \(line): \(message)" }
}

/// A streaming RFC 4180 reader: quoted fields, doubled quotes, delimiters and CRLF/LF newlines inside quotes, an
/// optional UTF-8 byte-order mark, any one-byte delimiter, UTF-8 / Latin-1 / Windows-1252. Memory stays constant
/// (one chunk plus one record) whatever the file size.
///
/// Errors are per record: invalid UTF-8, a stray character after a closing quote, or an unterminated quote at the
/// end of the file (a truncated file) are returned as ``CSVRowError`` with the record's start line, and reading goes
/// on. Blank lines are skipped.
public final class CSVReader {
    private let source: ByteSource
    public let options: CSVOptions
    private var line = 1
    private var started = false
    private var field: [UInt8] = []
    /// Fields of the previous record: room reserved for the next one.
    private var fieldCountHint = 8

    /// Reads the local file at `path`.
    public init(path: String, options: CSVOptions = CSVOptions()) throws(FileOpenError) {
        source = try ByteSource(path: path)
        self.options = options
    }

    /// Reads `bytes` (tests, small inputs).
    public init(bytes: [UInt8], options: CSVOptions = CSVOptions()) {
        source = ByteSource(bytes: bytes)
        self.options = options
    }

    /// Bytes of the file consumed so far (for progress and ETA).
    public var bytesRead: Int64 { source.consumed }

    /// The next record or row error; nil at the end of the file.
    public func next() -> Result<CSVRecord, CSVRowError>? {
        guard startRecord() else { return nil }
        return readRecord(into: StringFields.self).map { CSVRecord(fields: $0.fields.fields, line: $0.line) }
    }

    /// ``next()`` with the fields as one UTF-8 text (the same records, the same errors).
    public func nextText() -> Result<CSVTextRecord, CSVRowError>? {
        guard startRecord() else { return nil }
        return readRecord(into: TextFields.self).map {
            CSVTextRecord(text: $0.fields.text, ends: $0.fields.ends, line: $0.line)
        }
    }

    /// Skips the byte-order mark (first call) and blank lines: false at the end of the file.
    private func startRecord() -> Bool {
        if !started {
            started = true
            skipByteOrderMark()
        }
        while true {
            // The bytes of a broken byte-order mark begin the first record, which reports them as invalid UTF-8.
            if !field.isEmpty { return true }
            guard let first = source.peek() else { return false }
            // Skip blank lines between records.
            if first == 0x0A {
                _ = source.next()
                line += 1
                continue
            }
            if first == 0x0D {
                _ = source.next()
                if source.peek() == 0x0A { _ = source.next() }
                line += 1
                continue
            }
            return true
        }
    }

    private func skipByteOrderMark() {
        guard options.encoding == .utf8, source.peek() == 0xEF else { return }
        // A lone 0xEF that is not a BOM stays: the record will report invalid UTF-8.
        _ = source.next()
        guard source.peek() == 0xBB else {
            field.append(0xEF)
            return
        }
        _ = source.next()
        guard source.peek() == 0xBF else {
            field.append(contentsOf: [0xEF, 0xBB])
            return
        }
        _ = source.next()
    }

    private func readRecord<Sink: FieldSink>(
        into _: Sink.Type
    ) -> Result<(fields: Sink, line: Int), CSVRowError> {
        let startLine = line
        var fields = Sink(capacity: fieldCountHint)
        // The first field that is not valid in the file's encoding (1-based); reported after the record is read.
        var invalidField: Int?
        var problem: String?
        var inQuotes = false
        var quoted = false
        var afterClosingQuote = false
        let delimiter = options.delimiter
        // The record's bytes go to a buffer worked on as a local (no exclusivity checks per byte); the current field
        // is `buffer[fieldStart...]`. The reader keeps the buffer between records (with any bytes that begin the next).
        var buffer: [UInt8] = []
        swap(&buffer, &self.field)
        defer { swap(&buffer, &self.field) }
        var fieldStart = 0
        let encoding = options.encoding
        func endField() {
            let (next, valid) = fields.take(&buffer, from: fieldStart, encoding: encoding)
            if !valid, invalidField == nil { invalidField = fields.count }
            fieldStart = next
        }
        while true {
            // Runs of ordinary bytes are copied in one piece; the byte that ends a run goes through the loop below.
            if inQuotes {
                source.appendRun(to: &buffer, until: 0x22, 0x0A, 0x22, 0x0A)
            } else if !afterClosingQuote {
                source.appendRun(to: &buffer, until: delimiter, 0x22, 0x0A, 0x0D)
            }
            guard let byte = source.next() else {
                if inQuotes { problem = problem ?? "unterminated quoted field (truncated file?)" }
                endField()
                break
            }
            if inQuotes {
                if byte == 0x22 {
                    if source.peek() == 0x22 {
                        _ = source.next()
                        buffer.append(0x22)
                    } else {
                        inQuotes = false
                        afterClosingQuote = true
                    }
                } else {
                    if byte == 0x0A { line += 1 }
                    buffer.append(byte)
                }
                continue
            }
            if byte == delimiter {
                endField()
                quoted = false
                afterClosingQuote = false
                continue
            }
            if byte == 0x0A || byte == 0x0D {
                if byte == 0x0D, source.peek() == 0x0A { _ = source.next() }
                line += 1
                endField()
                break
            }
            if byte == 0x22 && buffer.count == fieldStart && !quoted {
                inQuotes = true
                quoted = true
                continue
            }
            if afterClosingQuote {
                problem = problem ?? "unexpected character after a closing quote in field \(fields.count + 1)"
            }
            buffer.append(byte)
        }
        fields.finish(&buffer)
        fieldCountHint = fields.count
        if let problem { return .failure(CSVRowError(line: startLine, message: problem)) }
        if let invalidField {
            return .failure(
                CSVRowError(
                    line: startLine, message: "field \(invalidField) is not valid \(options.encoding.rawValue)"))
        }
        return .success((fields, startLine))
    }
}

/// Writes CSV records to a sink, quoting a field only when it holds the delimiter, a quote, CR or LF.
public struct CSVWriter: Sendable {
    public let options: CSVOptions

    public init(options: CSVOptions = CSVOptions()) {
        self.options = options
    }

    /// Appends one record (with its line ending) to `out`.
    public func append(_ fields: [String], to out: inout [UInt8]) {
        let delimiter = options.delimiter
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(delimiter) }
            let bytes = options.encoding.encode(field)
            if bytes.contains(where: { $0 == delimiter || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
                out.append(0x22)
                for byte in bytes {
                    if byte == 0x22 { out.append(0x22) }
                    out.append(byte)
                }
                out.append(0x22)
            } else {
                out.append(contentsOf: bytes)
            }
        }
        out.append(contentsOf: Array(options.lineEnding.utf8))
    }

    /// One record as bytes.
    public func encode(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        append(fields, to: &out)
        return out
    }
}
