import Foundation

/// A received RFC 5322 message, read leniently (real mail is often slightly malformed): header fields unfolded and
/// RFC 2047 decoded; MIME bodies walked to the first `text/plain` and `text/html` parts that are not attachments,
/// with quoted-printable/base64 undone and the part's charset (UTF-8, ISO-8859-1, Windows-1252) applied.
///
/// Nothing in a message makes parsing fail: what could not be read as declared (an unknown charset, a multipart
/// without boundary or closing delimiter) is read best-effort and described in ``warnings``.
public struct ParsedMail: Sendable {
    /// Header fields in order; names as written, values unfolded and decoded.
    public var headers: [(name: String, value: String)]
    /// The first `text/plain` body, if any.
    public var text: String?
    /// The first `text/html` body, if any.
    public var html: String?
    /// What was not as declared and how it was read instead (e.g. `unknown charset 'x-unknown': read as UTF-8`),
    /// in the order met; empty for well-formed mail.
    public var warnings: [String] = []

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var subject: String? { header("Subject") }
    public var from: MailAddress? { header("From").flatMap(MailAddress.init(parsing:)) }
    /// The Message-ID without angle brackets.
    public var messageID: String? { header("Message-ID").flatMap { Self.messageIDs(in: $0).first } }
    /// The Message-ID (without brackets) this message answers.
    public var inReplyTo: String? { header("In-Reply-To").flatMap { Self.messageIDs(in: $0).first } }
    /// The thread's Message-IDs (without brackets), oldest first.
    public var references: [String] { header("References").map(Self.messageIDs(in:)) ?? [] }
    /// The `Date` header, if it parses.
    public var date: Date? { header("Date").flatMap(Self.parseDate) }

    public init(headers: [(name: String, value: String)], text: String?, html: String?) {
        self.headers = headers
        self.text = text
        self.html = html
    }

    /// Parses a whole message (CRLF or LF line ends).
    public static func parse(_ bytes: [UInt8]) -> ParsedMail {
        let entity = MIMEEntity(bytes)
        var text: String?
        var html: String?
        var warnings: [String] = []
        entity.collectBodies(text: &text, html: &html, warnings: &warnings, depth: 0)
        var mail = ParsedMail(headers: entity.headers, text: text, html: html)
        mail.warnings = warnings
        return mail
    }

    /// The `<...>` ids in a header value, without brackets (a bare id when there are no brackets).
    static func messageIDs(in value: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let id = rest[rest.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            if !id.isEmpty { ids.append(id) }
            rest = rest[rest.index(after: close)...]
        }
        if ids.isEmpty {
            let bare = value.trimmingCharacters(in: .whitespaces)
            if !bare.isEmpty, !bare.contains(" ") { ids.append(bare) }
        }
        return ids
    }

    /// RFC 5322 dates, with or without the day name, seconds or a trailing comment such as `(UTC)`.
    static func parseDate(_ value: String) -> Date? {
        var text = value
        if let comment = text.firstIndex(of: "(") { text = String(text[..<comment]) }
        text = text.trimmingCharacters(in: .whitespaces)
        if let comma = text.firstIndex(of: ",") {
            text = text[text.index(after: comma)...].trimmingCharacters(in: .whitespaces)
        }
        text = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        for format in ["d MMM yyyy HH:mm:ss Z", "d MMM yyyy HH:mm Z", "d MMM yyyy HH:mm:ss zzz", "d MMM yy HH:mm:ss Z"]
        {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

/// One MIME entity: its header fields and raw body.
struct MIMEEntity {
    var headers: [(name: String, value: String)] = []
    var body: ArraySlice<UInt8>

    init(_ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        let (headerEnd, bodyStart) = Self.headerBoundary(bytes)
        headers = Self.parseHeaders(bytes[0..<headerEnd])
        body = bytes[bodyStart...]
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The media type (lower-cased) and its parameters (names lower-cased).
    var contentType: (type: String, parameters: [String: String]) {
        Self.parseParameterized(header("Content-Type") ?? "text/plain; charset=us-ascii")
    }

    /// Walks the entity tree (bounded depth) and keeps the first text and HTML bodies that are not attachments.
    /// A multipart without boundary is read as plain text; one without closing delimiter (truncated) up to its end.
    func collectBodies(text: inout String?, html: inout String?, warnings: inout [String], depth: Int) {
        let (type, parameters) = contentType
        if type.hasPrefix("multipart/") {
            guard depth < 10 else {
                warnings.append("MIME parts nested deeper than 10 levels: ignored")
                return
            }
            guard let boundary = parameters["boundary"], !boundary.isEmpty else {
                warnings.append("\(type) without boundary: body read as plain text")
                if text == nil { text = decodedText(charset: parameters["charset"], warnings: &warnings) }
                return
            }
            let (parts, closed) = Self.split(body, boundary: boundary)
            if !closed { warnings.append("\(type) without closing boundary (truncated?): read up to its end") }
            for part in parts {
                MIMEEntity(part).collectBodies(text: &text, html: &html, warnings: &warnings, depth: depth + 1)
            }
            return
        }
        if let disposition = header("Content-Disposition"), Self.parseParameterized(disposition).type == "attachment" {
            return
        }
        if type == "text/plain" || type.isEmpty, text == nil {
            text = decodedText(charset: parameters["charset"], warnings: &warnings)
        } else if type == "text/html", html == nil {
            html = decodedText(charset: parameters["charset"], warnings: &warnings)
        }
    }

    /// The body with its transfer encoding undone, in its charset, with CRLF turned into LF.
    func decodedText(charset: String?, warnings: inout [String]) -> String {
        let encoding = (header("Content-Transfer-Encoding") ?? "7bit").trimmingCharacters(in: .whitespaces).lowercased()
        let octets: [UInt8]
        switch encoding {
        case "base64":
            let compact = String(
                decoding: body.filter { !($0 == 0x0D || $0 == 0x0A || $0 == 0x20 || $0 == 0x09) }, as: UTF8.self)
            if let data = Data(base64Encoded: compact, options: .ignoreUnknownCharacters) {
                octets = Array(data)
            } else {
                warnings.append("invalid base64 body: kept undecoded")
                octets = Array(body)
            }
        case "quoted-printable":
            octets = QuotedPrintable.decode(Array(body))
        default:
            octets = Array(body)
        }
        let (decoded, note) = Charset.decodeReporting(octets, charset: charset)
        if let note { warnings.append(note) }
        return decoded.replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// Where the header block ends and the body starts (after the first empty line).
    static func headerBoundary(_ bytes: [UInt8]) -> (Int, Int) {
        var index = 0
        var lineStart = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                let lineLength = index - lineStart
                if lineLength == 0 || (lineLength == 1 && bytes[lineStart] == 0x0D) { return (lineStart, index + 1) }
                lineStart = index + 1
            }
            index += 1
        }
        return (bytes.count, bytes.count)
    }

    /// Unfolds and decodes the header block.
    static func parseHeaders(_ block: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        let text = Charset.decode(Array(block), charset: "utf-8")
        var fields: [(name: String, value: String)] = []
        var current: String?
        func flush() {
            guard let field = current, let colon = field.firstIndex(of: ":") else { return }
            let name = field[..<colon].trimmingCharacters(in: .whitespaces)
            let value = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if !name.isEmpty, !name.contains(" ") { fields.append((name, EncodedWord.decode(value))) }
        }
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if let first = line.first, first == " " || first == "\t" {
                current = (current ?? "") + " " + line.trimmingCharacters(in: .whitespaces)
            } else {
                flush()
                current = String(line)
            }
        }
        flush()
        return fields
    }

    /// `type/subtype; name=value; name="quoted value"` → lower-cased type and parameters.
    static func parseParameterized(_ value: String) -> (type: String, parameters: [String: String]) {
        var segments: [String] = []
        var current = ""
        var quoted = false
        for character in value {
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted {
                segments.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        segments.append(current)
        let type = segments[0].trimmingCharacters(in: .whitespaces).lowercased()
        var parameters: [String: String] = [:]
        for segment in segments.dropFirst() {
            guard let equals = segment.firstIndex(of: "=") else { continue }
            let name = segment[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var parameter = segment[segment.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if parameter.hasPrefix("\""), parameter.hasSuffix("\""), parameter.count >= 2 {
                parameter = String(parameter.dropFirst().dropLast())
            }
            parameters[name] = parameter
        }
        return (type, parameters)
    }

    /// The parts between `--boundary` delimiter lines (preamble and epilogue dropped), and whether the closing
    /// delimiter was there.
    static func split(_ body: ArraySlice<UInt8>, boundary: String) -> (parts: [ArraySlice<UInt8>], closed: Bool) {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int?
        var lineStart = body.startIndex
        while lineStart < body.endIndex {
            var lineEnd = lineStart
            while lineEnd < body.endIndex, body[lineEnd] != 0x0A { lineEnd += 1 }
            let next = min(lineEnd + 1, body.endIndex)
            if body[lineStart...].starts(with: delimiter) {
                let isClosing = body[(lineStart + delimiter.count)...].starts(with: [0x2D, 0x2D])
                if let start = partStart {
                    // The CRLF before the delimiter belongs to the delimiter.
                    var end = lineStart
                    if end > start, body[end - 1] == 0x0A { end -= 1 }
                    if end > start, body[end - 1] == 0x0D { end -= 1 }
                    parts.append(body[start..<end])
                }
                if isClosing { return (parts, true) }
                partStart = next
            }
            lineStart = next
        }
        if let start = partStart, start < body.endIndex { parts.append(body[start...]) }
        return (parts, false)
    }
}
