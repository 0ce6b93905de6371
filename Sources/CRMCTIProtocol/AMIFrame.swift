/// One Asterisk Manager Interface message: `Key: Value` lines (CRLF, LF tolerated) ended by a blank line.
/// Keys are matched case-insensitively; a repeated key keeps its first value on lookup.
public struct AMIFrame: Sendable, Equatable {
    public var fields: [(key: String, value: String)]

    public init(fields: [(key: String, value: String)]) {
        self.fields = fields
    }

    public subscript(key: String) -> String? {
        let lower = key.lowercased()
        return fields.first(where: { $0.key.lowercased() == lower })?.value
    }

    /// The `Event` header (nil for responses to actions).
    public var event: String? { self["Event"] }

    public static func == (a: AMIFrame, b: AMIFrame) -> Bool {
        a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Parses one frame's text (without the blank terminating line).
    /// - Throws: ``CTIParseError`` `malformedLine` for a line without `:` or with an empty key.
    public static func parse(_ text: Substring) throws(CTIParseError) -> AMIFrame {
        var fields: [(key: String, value: String)] = []
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw CTIParseError(
                    .malformedLine, input: AMIFramer.input, "line without ':' (\(line.count) characters)")
            }
            let key = line[..<colon].trimmingSpaces()
            guard !key.isEmpty else {
                throw CTIParseError(.malformedLine, input: AMIFramer.input, "line with an empty key")
            }
            let value = line[line.index(after: colon)...].trimmingSpaces()
            fields.append((String(key), String(value)))
        }
        return AMIFrame(fields: fields)
    }

    /// The frame as sent on the wire (CRLF lines, blank line at the end).
    public var wireText: String {
        fields.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
    }
}

/// Splits the AMI byte stream into frames, skipping the `Asterisk Call Manager/x.y` greeting line Asterisk sends on
/// connect. Feed bytes with ``append(_:)``, take frames with ``next()``.
public struct AMIFramer: Sendable {
    static let input = "asterisk-ami"
    /// Largest accepted frame. Default 64 KiB.
    public var maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var greetingChecked = false

    public init(maxFrameBytes: Int = 64 << 10) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed. Empty frames (stray blank lines) are skipped.
    /// - Throws: ``CTIParseError`` `framing` (oversized frame, invalid UTF-8) or `malformedLine`; the bad frame is
    ///   consumed, so the caller may log and continue with the next one.
    public mutating func next() throws(CTIParseError) -> AMIFrame? {
        while true {
            if !greetingChecked {
                guard let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) else {
                    if buffer.count > maxFrameBytes { throw oversized() }
                    return nil
                }
                greetingChecked = true
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                if line.hasPrefix("Asterisk Call Manager") { buffer.removeFirst(newline + 1) }
            }
            guard let (end, terminatorLength) = Self.frameEnd(buffer) else {
                if buffer.count > maxFrameBytes {
                    buffer.removeAll()
                    throw oversized()
                }
                return nil
            }
            let bytes = buffer[..<end]
            buffer.removeFirst(end + terminatorLength)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw CTIParseError(.framing, input: Self.input, "frame is not valid UTF-8")
            }
            let frame = try AMIFrame.parse(Substring(text))
            if !frame.fields.isEmpty { return frame }
        }
    }

    private func oversized() -> CTIParseError {
        CTIParseError(.framing, input: Self.input, "frame longer than \(maxFrameBytes) bytes without a blank line")
    }

    /// Index of the blank line ending the first frame and the terminator's length (`\r\n\r\n` or `\n\n`).
    static func frameEnd(_ bytes: [UInt8]) -> (Int, Int)? {
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == 0x0A {
                if bytes[index + 1] == 0x0A { return (index, 2) }
                if bytes[index + 1] == 0x0D, index + 2 < bytes.count, bytes[index + 2] == 0x0A {
                    return (
                        index > 0 && bytes[index - 1] == 0x0D ? index - 1 : index,
                        index > 0 && bytes[index - 1] == 0x0D ? 4 : 3
                    )
                }
            }
            index += 1
        }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
