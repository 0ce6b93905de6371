import CRMModel

/// One part of a `multipart/form-data` body.
public struct FormPart: Sendable, Equatable {
    public var name: String
    /// Set for file uploads.
    public var filename: String?
    public var contentType: String?
    public var body: [UInt8]

    public init(name: String, filename: String? = nil, contentType: String? = nil, body: [UInt8]) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.body = body
    }
}

/// Why a form body could not be read; the text goes back to the sender in a 400.
public struct FormParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    /// True when the body is readable but holds more fields or parts than allowed (413 rather than 400).
    public var exceedsLimit = false
}

/// A streaming-free RFC 7578 `multipart/form-data` parser over a complete body (the ingress caps body size first).
public enum MultipartFormData {
    /// The boundary parameter of a `multipart/form-data` content type.
    public static func boundary(fromContentType contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { String($0.trimmingWhitespace()) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") && pair[1].count >= 2
                    ? String(pair[1].dropFirst().dropLast()) : pair[1]
            }
        }
        return nil
    }

    /// The parts of `body`; more than `maxParts` parts is refused (a body of thousands of tiny parts costs far more
    /// to take apart than its size suggests).
    public static func parse(
        _ body: [UInt8], boundary: String, maxParts: Int = 100
    ) throws(FormParseError) -> [FormPart] {
        guard !boundary.isEmpty, boundary.utf8.count <= 70 else {
            throw FormParseError(description: "invalid multipart boundary")
        }
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [FormPart] = []
        guard var position = find(delimiter, in: body, from: 0) else {
            throw FormParseError(description: "multipart body has no boundary line")
        }
        position += delimiter.count
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if body.count >= position + 2, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-")
            {
                return parts
            }
            guard parts.count < maxParts else {
                throw FormParseError(description: "the form has more than \(maxParts) parts", exceedsLimit: true)
            }
            guard body.count >= position + 2, body[position] == 13, body[position + 1] == 10 else {
                throw FormParseError(description: "malformed multipart body (expected a line break after the boundary)")
            }
            position += 2
            guard let headerEnd = find([13, 10, 13, 10], in: body, from: position) else {
                throw FormParseError(description: "malformed multipart part (headers do not end)")
            }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = find([13, 10] + delimiter, in: body, from: contentStart) else {
                throw FormParseError(description: "malformed multipart body (a part is not terminated by the boundary)")
            }
            parts.append(try part(headers: headers, body: Array(body[contentStart..<next])))
            position = next + 2 + delimiter.count
        }
    }

    private static func part(headers: String, body: [UInt8]) throws(FormParseError) -> FormPart {
        var name: String?
        var filename: String?
        var contentType: String?
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let value = String(pair[1].trimmingWhitespace())
            switch pair[0].lowercased() {
            case "content-disposition":
                for parameter in value.split(separator: ";").dropFirst() {
                    let kv = parameter.split(separator: "=", maxSplits: 1).map { String($0.trimmingWhitespace()) }
                    guard kv.count == 2 else { continue }
                    let unquoted =
                        kv[1].hasPrefix("\"") && kv[1].hasSuffix("\"") && kv[1].count >= 2
                        ? String(kv[1].dropFirst().dropLast()) : kv[1]
                    if kv[0].lowercased() == "name" { name = unquoted }
                    if kv[0].lowercased() == "filename" { filename = unquoted }
                }
            case "content-type":
                contentType = value
            default:
                break
            }
        }
        guard let name, !name.isEmpty else { throw FormParseError(description: "a multipart part has no field name") }
        return FormPart(name: name, filename: filename, contentType: contentType, body: body)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        let first = needle[0]
        while index <= last {
            if haystack[index] == first {
                var matched = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}

/// `application/x-www-form-urlencoded` bodies.
public enum URLEncodedForm {
    /// The fields of `body` in order; more than `maxFields` fields is refused.
    public static func parse(_ body: [UInt8], maxFields: Int = 1_000) throws(FormParseError) -> [(String, String)] {
        guard let text = String(validating: body, as: UTF8.self) else {
            throw FormParseError(description: "the form body is not valid UTF-8")
        }
        var fields: [(String, String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            guard fields.count < maxFields else {
                throw FormParseError(description: "the form has more than \(maxFields) fields", exceedsLimit: true)
            }
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(kv[0]), let value = decode(kv.count > 1 ? kv[1] : "") else {
                throw FormParseError(description: "the form body has invalid percent-encoding")
            }
            fields.append((name, value))
        }
        return fields
    }

    private static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
