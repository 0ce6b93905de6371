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
            var members: [(String, JSONValue)] = []
            if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw JSONError(.syntax, at: i, "expected a member name") }
                let k = try string()
                skipWS()
                guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw JSONError(.syntax, at: i, "expected ':'") }
                i += 1; skipWS()
                members.append((k, try value(depth: depth + 1)))
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated object") }
                if buf[i] == UInt8(ascii: ",") { i += 1; skipWS(); continue }
                if buf[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw JSONError(.syntax, at: i, "expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            i += 1; skipWS()
            var items: [JSONValue] = []
            if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated array") }
                if buf[i] == UInt8(ascii: ",") { i += 1; skipWS(); continue }
                if buf[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
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
        // Fast path: no escapes, all ASCII.
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c >= 0x80 || c < 0x20 { break }
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
        out.reserveCapacity(256)
        encode(into: &out)
        return out
    }

    /// Compact JSON text.
    public var jsonText: String { String(decoding: jsonBytes(), as: UTF8.self) }

    /// Appends the compact JSON encoding of this value to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): JSONValue.encodeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, v) in items.enumerated() { if k > 0 { out.append(UInt8(ascii: ",")) }; v.encode(into: &out) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (k, m) in members.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.encodeString(m.0, into: &out)
                out.append(UInt8(ascii: ":"))
                m.1.encode(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func encodeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8)); out.append(hexDigits[Int(b >> 4)]); out.append(hexDigits[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
