/// Why a JSON document was rejected; `offset` is the byte offset into the input.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of JSON failure.
    public enum Kind: String, Sendable { case syntax, invalidUTF8, tooDeep, tooLarge }
    public var kind: Kind
    public var offset: Int
    public var message: String
    public init(_ kind: Kind, at offset: Int, _ message: String) {
        self.kind = kind; self.offset = offset; self.message = message
    }
    public var description: String { "JSON \(kind.rawValue) at byte \(offset): \(message)" }
}

/// Limits applied while parsing untrusted JSON.
public struct JSONLimits: Sendable {
    /// Maximum nesting of arrays and objects.
    public var maxDepth: Int
    /// Maximum document size in bytes.
    public var maxBytes: Int
    public init(maxDepth: Int = 64, maxBytes: Int = 4 << 20) { self.maxDepth = maxDepth; self.maxBytes = maxBytes }
    public static let `default` = JSONLimits()
}

extension JSONValue {
    /// Parses one JSON document (RFC 8259) from UTF-8 bytes, validating UTF-8 and applying `limits`.
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .default) throws(JSONError) -> JSONValue {
        if bytes.count > limits.maxBytes {
            throw JSONError(.tooLarge, at: 0, "document of \(bytes.count) bytes exceeds the limit of \(limits.maxBytes)")
        }
        let result: Result<JSONValue, JSONError> = bytes.withUnsafeBufferPointer { buf in
            var p = JSONParser(buf: buf, maxDepth: limits.maxDepth)
            do throws(JSONError) {
                p.skipWS()
                let v = try p.value(depth: 0)
                p.skipWS()
                if p.i != buf.count { throw JSONError(.syntax, at: p.i, "unexpected data after the document") }
                return .success(v)
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses a JSON document from a string.
    public static func parse(_ text: String, limits: JSONLimits = .default) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }
}

struct JSONParser {
    let buf: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0
    /// Scratch stacks shared by all nesting levels: an object's members (an array's items) are collected here and
    /// moved into one exactly sized array when the object (array) closes, so each container allocates once.
    var memberStack: [(String, JSONValue)] = []
    var itemStack: [JSONValue] = []

    init(buf: UnsafeBufferPointer<UInt8>, maxDepth: Int) { self.buf = buf; self.maxDepth = maxDepth }

    @inline(__always) mutating func skipWS() {
        while i < buf.count { let c = buf[i]; if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break } }
    }

    mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard i < buf.count else { throw JSONError(.syntax, at: i, "unexpected end of input") }
        switch buf[i] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            i += 1; skipWS()
            if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return .object([]) }
            let base = memberStack.count
            while true {
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw JSONError(.syntax, at: i, "expected a member name") }
                let k = try string()
                skipWS()
                guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw JSONError(.syntax, at: i, "expected ':'") }
                i += 1; skipWS()
                let v = try value(depth: depth + 1)
                memberStack.append((k, v))
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated object") }
                if buf[i] == UInt8(ascii: ",") { i += 1; skipWS(); continue }
                if buf[i] == UInt8(ascii: "}") {
                    i += 1
                    let members = Array(memberStack[base...])
                    memberStack.removeLast(memberStack.count - base)
                    return .object(members)
                }
                throw JSONError(.syntax, at: i, "expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            i += 1; skipWS()
            if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return .array([]) }
            let base = itemStack.count
            while true {
                let v = try value(depth: depth + 1)
                itemStack.append(v)
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated array") }
                if buf[i] == UInt8(ascii: ",") { i += 1; skipWS(); continue }
                if buf[i] == UInt8(ascii: "]") {
                    i += 1
                    let items = Array(itemStack[base...])
                    itemStack.removeLast(itemStack.count - base)
                    return .array(items)
                }
                throw JSONError(.syntax, at: i, "expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw JSONError(.syntax, at: i, "unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= buf.count else { throw JSONError(.syntax, at: i, "unexpected end of input") }
        let p = word.utf8Start
        for k in 0..<n where buf[i + k] != p[k] { throw JSONError(.syntax, at: i, "invalid literal") }
        i += n
    }

    mutating func number() throws(JSONError) -> String {
        let start = i
        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        if buf[i] == UInt8(ascii: "-") { i += 1 }
        guard i < buf.count, isDigit(buf[i]) else { throw JSONError(.syntax, at: i, "invalid number") }
        if buf[i] == 48 { i += 1 } else { while i < buf.count && isDigit(buf[i]) { i += 1 } }
        if i < buf.count && buf[i] == UInt8(ascii: ".") {
            i += 1
            guard i < buf.count, isDigit(buf[i]) else { throw JSONError(.syntax, at: i, "invalid fraction") }
            while i < buf.count && isDigit(buf[i]) { i += 1 }
        }
        if i < buf.count && (buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E")) {
            i += 1
            if i < buf.count && (buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < buf.count, isDigit(buf[i]) else { throw JSONError(.syntax, at: i, "invalid exponent") }
            while i < buf.count && isDigit(buf[i]) { i += 1 }
        }
        if i - start > 64 { throw JSONError(.syntax, at: start, "number longer than 64 characters") }
        return String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
    }

    mutating func string() throws(JSONError) -> String {
        i += 1 // opening quote
        let start = i
        // Fast path: no escapes (UTF-8 validated on the way, so the bytes become the string as they are).
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            if c >= 0x80 { i += try utf8Sequence(); continue }
            i += 1
        }
        var out: [UInt8] = Array(buf[start..<i])
        while i < buf.count {
            let c = buf[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard i < buf.count else { break }
                let e = buf[i]; i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard i + 1 < buf.count, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                            throw JSONError(.syntax, at: i, "unpaired surrogate")
                        }
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw JSONError(.syntax, at: i, "invalid low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw JSONError(.syntax, at: i, "unpaired surrogate")
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default: throw JSONError(.syntax, at: i - 1, "invalid escape")
                }
            case 0..<0x20:
                throw JSONError(.syntax, at: i, "control character in string")
            case 0x80...:
                let n = try utf8Sequence()
                out.append(contentsOf: buf[i..<(i + n)])
                i += n
            default:
                out.append(c); i += 1
            }
        }
        throw JSONError(.syntax, at: i, "unterminated string")
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= buf.count else { throw JSONError(.syntax, at: i, "short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buf[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw JSONError(.syntax, at: i, "invalid hex digit")
            }
            v = v << 4 | d; i += 1
        }
        return v
    }

    /// Validates one UTF-8 sequence at `i` and returns its length.
    func utf8Sequence() throws(JSONError) -> Int {
        let c = buf[i]
        let n: Int
        var minScalar: UInt32
        var scalar: UInt32
        switch c {
        case 0xC2...0xDF: n = 2; scalar = UInt32(c & 0x1F); minScalar = 0x80
        case 0xE0...0xEF: n = 3; scalar = UInt32(c & 0x0F); minScalar = 0x800
        case 0xF0...0xF4: n = 4; scalar = UInt32(c & 0x07); minScalar = 0x10000
        default: throw JSONError(.invalidUTF8, at: i, "invalid UTF-8 lead byte")
        }
        guard i + n <= buf.count else { throw JSONError(.invalidUTF8, at: i, "truncated UTF-8 sequence") }
        for k in 1..<n {
            let b = buf[i + k]
            guard b & 0xC0 == 0x80 else { throw JSONError(.invalidUTF8, at: i + k, "invalid UTF-8 continuation byte") }
            scalar = scalar << 6 | UInt32(b & 0x3F)
        }
        if scalar < minScalar || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar < 0xE000) {
            throw JSONError(.invalidUTF8, at: i, "overlong or invalid UTF-8 sequence")
        }
        minScalar = 0
        return n
    }
}

extension JSONValue {
    /// Encodes compact JSON as UTF-8 bytes.
    public func jsonBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        encode(into: &out)
        return out
    }

    /// Compact JSON text.
    public var jsonText: String { String(decoding: jsonBytes(), as: UTF8.self) }

    /// Appends the compact JSON encoding of this value to `out`.
    ///
    /// Strings are escaped minimally (`"`, `\\` and control characters); everything else, including non-ASCII
    /// text, is copied through as UTF-8. Runs of bytes that need no escaping are appended in one copy.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .null: JSONValue.append("null", to: &out)
        case .bool(let b): JSONValue.append(b ? "true" : "false", to: &out)
        case .number(let n): JSONValue.appendUTF8(n, to: &out)
        case .string(let s): JSONValue.encodeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            var first = true
            for v in items {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                v.encode(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for m in members {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.encodeString(m.0, into: &out)
                out.append(UInt8(ascii: ":"))
                m.1.encode(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    @inline(__always)
    static func append(_ word: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
    }

    @inline(__always)
    static func appendUTF8(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// For each byte: 0 when it is copied as is, otherwise the letter of its short escape (`n`, `r`, `t`, `"`, `\\`)
    /// or 1 for a `\\u00XX` escape.
    static let escapes: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for b in 0..<0x20 { t[b] = 1 }
        t[0x0A] = UInt8(ascii: "n"); t[0x0D] = UInt8(ascii: "r"); t[0x09] = UInt8(ascii: "t")
        t[0x22] = 0x22; t[0x5C] = 0x5C
        return t
    }()

    static func encodeString(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { encodeString(utf8: $0, into: &out) }
    }

    /// Appends `bytes` (valid UTF-8) as a JSON string literal.
    static func encodeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(0x22)
        escapes.withUnsafeBufferPointer { table in
            var run = 0
            for i in 0..<bytes.count {
                let e = table[Int(bytes[i])]
                if e == 0 { continue }
                if run < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i])) }
                run = i + 1
                out.append(0x5C)
                if e == 1 {
                    let b = bytes[i]
                    out.append(UInt8(ascii: "u")); out.append(0x30); out.append(0x30)
                    out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 0xF)])
                } else {
                    out.append(e)
                }
            }
            if run < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...])) }
        }
        out.append(0x22)
    }
}
