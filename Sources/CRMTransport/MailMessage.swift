import Foundation

/// A mailbox: an optional display name and an address (`Jane Doe <jane@example.com>`).
public struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    public var name: String?
    /// The addr-spec, ASCII (`local@domain`).
    public var address: String

    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    /// Reads `Name <addr>`, `"Name" <addr>`, `<addr>` or a bare `addr`; RFC 2047 words in the name are decoded.
    /// Nil when no `@` address is found.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let open = trimmed.lastIndex(of: "<"), let close = trimmed[open...].firstIndex(of: ">") {
            let address = trimmed[trimmed.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            guard address.contains("@") else { return nil }
            var name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 {
                name = String(name.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                    .replacingOccurrences(of: "\\\\", with: "\\")
            }
            let decoded = EncodedWord.decode(name)
            self.init(address, name: decoded.isEmpty ? nil : decoded)
        } else {
            let address = trimmed.split(separator: "(").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? trimmed
            guard address.contains("@"), !address.contains(" ") else { return nil }
            self.init(address)
        }
    }

    /// The header form: the name as is when it is plain ASCII words, quoted when it holds specials, RFC 2047 encoded
    /// when it holds non-ASCII characters.
    public var headerValue: String {
        guard let name, !name.isEmpty else { return address }
        return "\(EncodedWord.phrase(name)) <\(address)>"
    }

    public var description: String { headerValue }
}

/// An RFC 5322 message with MIME bodies: plain text, HTML, or both as `multipart/alternative`. Header text with
/// non-ASCII characters is written as RFC 2047 encoded words (UTF-8, base64); bodies are UTF-8 in
/// quoted-printable, so every line stays under 78 octets; lines end in CRLF.
public struct MailMessage: Sendable {
    public var from: MailAddress
    public var to: [MailAddress]
    public var cc: [MailAddress]
    /// Receives the message without appearing in the headers.
    public var bcc: [MailAddress]
    public var replyTo: MailAddress?
    public var subject: String
    public var text: String?
    public var html: String?
    /// The Message-ID without angle brackets (`crm-42@hub.example.com`); see ``messageID(for:domain:)``.
    public var messageID: String
    /// The Message-ID (without brackets) this message answers.
    public var inReplyTo: String?
    /// The thread's Message-IDs (without brackets), oldest first.
    public var references: [String]
    public var date: Date
    /// Further header fields (`Auto-Submitted`, `X-Crmhub-Ticket`...); values are encoded like the subject.
    public var extraHeaders: [(name: String, value: String)]

    public init(
        from: MailAddress, to: [MailAddress], cc: [MailAddress] = [], bcc: [MailAddress] = [],
        replyTo: MailAddress? = nil,
        subject: String, text: String? = nil, html: String? = nil, messageID: String, inReplyTo: String? = nil,
        references: [String] = [], date: Date = Date(), extraHeaders: [(name: String, value: String)] = []
    ) {
        self.from = from
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.inReplyTo = inReplyTo
        self.references = references
        self.date = date
        self.extraHeaders = extraHeaders
    }

    /// Every envelope recipient (To, Cc, Bcc), in order, without duplicates.
    public var recipients: [String] {
        var seen: Set<String> = []
        return (to + cc + bcc).map(\.address).filter { seen.insert($0.lowercased()).inserted }
    }

    /// A Message-ID (without brackets) derived from the hub's message id, so every attempt to send one message
    /// carries the same id: `<id>@<domain>`, characters outside RFC 5322 `atext` and `.` replaced by `-`.
    public static func messageID(for id: String, domain: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.")
        let local = String(id.map { allowed.contains($0) ? $0 : "-" }).trimmingCharacters(
            in: CharacterSet(charactersIn: "."))
        return "\(local.isEmpty ? "message" : local)@\(domain)"
    }

    /// The message as sent on the wire (CRLF line ends). `boundary` is fixed in tests, random otherwise.
    public func rendered(boundary: String? = nil) -> [UInt8] {
        var lines: [String] = []
        func add(_ name: String, _ value: String) { lines.append(HeaderFolding.fold(name: name, value: value)) }
        add("Date", Self.rfc5322Date(date))
        add("From", from.headerValue)
        if !to.isEmpty { add("To", to.map(\.headerValue).joined(separator: ", ")) }
        if !cc.isEmpty { add("Cc", cc.map(\.headerValue).joined(separator: ", ")) }
        if let replyTo { add("Reply-To", replyTo.headerValue) }
        add("Message-ID", "<\(messageID)>")
        if let inReplyTo { add("In-Reply-To", "<\(inReplyTo)>") }
        if !references.isEmpty { add("References", references.map { "<\($0)>" }.joined(separator: " ")) }
        add("Subject", EncodedWord.text(subject))
        for header in extraHeaders { add(header.name, EncodedWord.text(header.value)) }
        add("MIME-Version", "1.0")

        let text = self.text ?? (html == nil ? "" : nil)
        switch (text, html) {
        case (let text?, let html?):
            let boundary = boundary ?? "=_crmhub_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
            add("Content-Type", "multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("This is a multi-part message in MIME format.")
            lines.append("--\(boundary)")
            lines += Self.part(text, subtype: "plain")
            lines.append("--\(boundary)")
            lines += Self.part(html, subtype: "html")
            lines.append("--\(boundary)--")
        case (let text?, nil):
            lines += Self.part(text, subtype: "plain")
        case (nil, let html?):
            lines += Self.part(html, subtype: "html")
        case (nil, nil):
            lines += Self.part("", subtype: "plain")
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// A single text part's headers, blank line and quoted-printable body.
    private static func part(_ body: String, subtype: String) -> [String] {
        [
            "Content-Type: text/\(subtype); charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "",
            QuotedPrintable.encode(body),
        ]
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

/// RFC 2047 encoded words.
public enum EncodedWord {
    /// Unstructured header text: as is when printable ASCII, otherwise UTF-8 base64 encoded words (each ≤ 60
    /// octets, never splitting a character), separated by folding white space.
    public static func text(_ value: String) -> String {
        let singleLine = value.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
        if singleLine.allSatisfy({ $0.isASCII && ($0 == " " || $0 == "\t" || !$0.isWhitespace) })
            && !singleLine.contains("=?")
        {
            return singleLine
        }
        return encode(singleLine)
    }

    /// A display name: as is when it is ASCII atoms, quoted when it holds specials, encoded when it holds non-ASCII.
    static func phrase(_ value: String) -> String {
        if value.allSatisfy({ $0.isASCII }) {
            let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~ ")
            if value.allSatisfy({ atext.contains($0) }) && !value.contains("=?") { return value }
            return "\""
                + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return encode(value)
    }

    /// `=?UTF-8?B?...?=` words of at most 60 octets, joined by a space (the folder breaks lines between them).
    static func encode(_ value: String) -> String {
        let prefix = "=?UTF-8?B?"
        // 36 octets → 60-character words, so even `Auto-Submitted: ` plus the first word stays within 76.
        let maxPayload = 36
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in value {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > maxPayload, !chunk.isEmpty {
                words.append(prefix + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append(prefix + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: " ")
    }

    /// Decodes every encoded word in `value` (B and Q; UTF-8, ISO-8859-1/-15, Windows-1252, US-ASCII); white space
    /// between two adjacent encoded words is dropped. Undecodable words stay as written.
    public static func decode(_ value: String) -> String {
        guard value.contains("=?") else { return value }
        var output = ""
        var rest = Substring(value)
        var pendingSpace = ""
        var lastWasEncoded = false
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (decoded, length) = decodeWord(rest) {
                if !lastWasEncoded { output += pendingSpace }
                pendingSpace = ""
                output += decoded
                rest = rest.dropFirst(length)
                lastWasEncoded = true
                continue
            }
            let character = rest.removeFirst()
            if character == " " || character == "\t" {
                pendingSpace.append(character)
                continue
            }
            output += pendingSpace
            pendingSpace = ""
            output.append(character)
            lastWasEncoded = false
        }
        return output + pendingSpace
    }

    /// One `=?charset?enc?text?=` at the start of `text`: the decoded string and the characters consumed.
    private static func decodeWord(_ text: Substring) -> (String, Int)? {
        let parts = text.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3].hasPrefix("=") else { return nil }
        let charset = parts[0].split(separator: "*").first.map(String.init) ?? ""  // RFC 2231 language suffix
        let encoding = parts[1].uppercased()
        let payload = parts[2]
        guard !payload.contains(" ") else { return nil }
        let bytes: [UInt8]
        switch encoding {
        case "B":
            var base64 = String(payload)
            while base64.count % 4 != 0 { base64 += "=" }
            guard let data = Data(base64Encoded: base64) else { return nil }
            bytes = Array(data)
        case "Q":
            bytes = QuotedPrintable.decode(Array(payload.replacingOccurrences(of: "_", with: " ").utf8))
        default:
            return nil
        }
        let length = 2 + parts[0].count + 1 + parts[1].count + 1 + payload.count + 2
        return (Charset.decode(bytes, charset: charset), length)
    }
}

/// Text in a named charset.
public enum Charset {
    /// `bytes` in `charset` (UTF-8 when unnamed or unknown; ISO-8859-1 when UTF-8 turns out invalid).
    public static func decode(_ bytes: [UInt8], charset: String?) -> String {
        decodeReporting(bytes, charset: charset).text
    }

    /// Like ``decode(_:charset:)``, and says when the text was not read in the charset it declares: an unknown
    /// charset (read as UTF-8, else ISO-8859-1) or bytes invalid in it (read as ISO-8859-1). `note` is nil when
    /// the declared charset applied.
    public static func decodeReporting(_ bytes: [UInt8], charset: String?) -> (text: String, note: String?) {
        let name = (charset ?? "utf-8").trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).lowercased()
        let encoding: String.Encoding?
        switch name {
        case "iso-8859-1", "latin1", "latin-1", "iso8859-1", "l1": encoding = .isoLatin1
        case "windows-1252", "cp1252", "iso-8859-15": encoding = .windowsCP1252
        case "us-ascii", "ascii", "utf-8", "utf8", "": encoding = .utf8
        default: encoding = nil
        }
        if let text = String(data: Data(bytes), encoding: encoding ?? .utf8) {
            return (text, encoding == nil ? "unknown charset '\(name)': read as UTF-8" : nil)
        }
        let text = String(data: Data(bytes), encoding: .isoLatin1) ?? String(decoding: bytes, as: UTF8.self)
        let note =
            encoding == nil
            ? "unknown charset '\(name)': not UTF-8, read as ISO-8859-1" : "invalid \(name) text: read as ISO-8859-1"
        return (text, note)
    }
}

/// Quoted-printable (RFC 2045 §6.7).
public enum QuotedPrintable {
    /// Encodes UTF-8 text: CRLF line ends, lines of at most 76 characters (soft breaks `=`), `=`, controls,
    /// non-ASCII and trailing white space as `=XX`.
    public static func encode(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var output: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var current = ""
            for (index, byte) in bytes.enumerated() {
                let isLast = index == bytes.count - 1
                let token: String
                if (byte == 0x20 || byte == 0x09) && !isLast {
                    token = String(UnicodeScalar(byte))
                } else if byte >= 33 && byte <= 126 && byte != 0x3D {
                    token = String(UnicodeScalar(byte))
                } else {
                    token = String(format: "=%02X", byte)
                }
                if current.count + token.count > 75 {
                    output.append(current + "=")
                    current = ""
                }
                current += token
            }
            output.append(current)
        }
        return output.joined(separator: "\r\n")
    }

    /// Decodes quoted-printable octets (soft line breaks removed; malformed escapes kept as written).
    public static func decode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x3D else {
                output.append(byte)
                index += 1
                continue
            }
            // Soft line break: "=" then optional white space then CRLF or LF.
            var probe = index + 1
            while probe < bytes.count, bytes[probe] == 0x20 || bytes[probe] == 0x09 { probe += 1 }
            if probe < bytes.count, bytes[probe] == 0x0D, probe + 1 < bytes.count, bytes[probe + 1] == 0x0A {
                index = probe + 2
                continue
            }
            if probe < bytes.count, bytes[probe] == 0x0A {
                index = probe + 1
                continue
            }
            if probe == bytes.count {
                index = probe
                continue
            }
            if index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return output
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

/// Folds a header field at white space so lines stay under 78 characters where possible (encoded words are
/// separated by spaces, so long non-ASCII subjects fold too). Never exceeds 998 unless a single word does.
enum HeaderFolding {
    static func fold(name: String, value: String) -> String {
        var lines: [String] = []
        var current = "\(name):"
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            if current.count + 1 + word.count > 76, current.count > name.count + 1 {
                lines.append(current)
                current = ""
            }
            current += " " + word
        }
        lines.append(current)
        return lines.joined(separator: "\r\n")
    }
}
