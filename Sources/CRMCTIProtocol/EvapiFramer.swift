/// Splits the evapi byte stream into frames. Kamailio's evapi writes netstrings (`LEN:PAYLOAD,`, the default,
/// `netstring_format=1`) or bare payloads; with bare payloads the shipped config ends each JSON object with a
/// newline. The framing is detected per frame from its first byte: a digit starts a netstring, `{` a JSON line.
///
/// Feed bytes as they arrive with ``append(_:)`` and take complete frames with ``next()``; partial frames wait for
/// more bytes. After a framing error the stream cannot be resynchronised: drop the connection and start over.
public struct EvapiFramer: Sendable {
    /// Largest accepted frame payload. Default 64 KiB (a call event is ~150 bytes).
    public var maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxFrameBytes: Int = 64 << 10) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes waiting for the rest of their frame.
    public var pendingBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's payload, or nil when more bytes are needed.
    /// - Throws: ``CTIParseError`` of kind `framing` (bad length, missing `,`, oversized or unrecognised frame).
    public mutating func next() throws(CTIParseError) -> [UInt8]? {
        while start < buffer.count, Self.isWhitespace(buffer[start]) { start += 1 }
        guard start < buffer.count else { return nil }
        let first = buffer[start]
        if first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") { return try nextNetstring() }
        if first == UInt8(ascii: "{") { return try nextLine() }
        throw CTIParseError(
            .framing, input: KamailioEventParser.input,
            "frame starts with byte \(first), expected a netstring length or '{'")
    }

    private mutating func nextNetstring() throws(CTIParseError) -> [UInt8]? {
        var index = start
        var length = 0
        while index < buffer.count, buffer[index] >= UInt8(ascii: "0"), buffer[index] <= UInt8(ascii: "9") {
            length = length * 10 + Int(buffer[index] - UInt8(ascii: "0"))
            index += 1
            if length > maxFrameBytes {
                throw CTIParseError(
                    .framing, input: KamailioEventParser.input, "netstring length exceeds \(maxFrameBytes) bytes")
            }
        }
        guard index < buffer.count else { return nil }
        guard buffer[index] == UInt8(ascii: ":") else {
            throw CTIParseError(.framing, input: KamailioEventParser.input, "netstring length not followed by ':'")
        }
        let payloadStart = index + 1
        let end = payloadStart + length
        guard end < buffer.count else { return nil }
        guard buffer[end] == UInt8(ascii: ",") else {
            throw CTIParseError(
                .framing, input: KamailioEventParser.input, "netstring of \(length) bytes not terminated by ','")
        }
        let payload = Array(buffer[payloadStart..<end])
        start = end + 1
        return payload
    }

    private mutating func nextLine() throws(CTIParseError) -> [UInt8]? {
        guard let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.count - start > maxFrameBytes {
                throw CTIParseError(
                    .framing, input: KamailioEventParser.input, "JSON line longer than \(maxFrameBytes) bytes")
            }
            return nil
        }
        var end = newline
        if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let payload = Array(buffer[start..<end])
        start = newline + 1
        return payload
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
}
