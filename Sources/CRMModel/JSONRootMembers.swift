/// A JSON object document of which only the root members a reader names have been made: one pass validates the whole
/// document exactly as ``JSONValue/parse(_:limits:memberNames:)`` does, makes the values of the root object's members
/// whose names are in a ``JSONMemberNames`` table (each exactly the value the parser has there), and skips the rest.
///
/// For readers of many documents of one shape (a compiled mapping): the members it never reads are never made, and
/// no tree of the whole document is built and freed. ``root`` makes the whole document when a reader needs it.
public struct JSONRootMembers {
    /// The document's bytes, borrowed for the reader's call.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The offset of the root object's first byte.
    let rootOffset: Int
    let names: UnsafeBufferPointer<JSONMemberNames.Entry>
    let nameStarts: UnsafeBufferPointer<Int>

    /// The whole document, made as the parser makes it.
    public var root: JSONValue {
        var p = JSONParser(buf: bytes, maxDepth: .max)
        p.names = names
        p.nameStarts = nameStarts
        p.i = rootOffset
        do throws(JSONError) { return try p.value(depth: 0) } catch {
            preconditionFailure("a document read once does not parse again: \(error)")
        }
    }
}

extension JSONMemberNames {
    /// Reads `bytes` (see ``JSONRootMembers``) when it is a JSON object document that
    /// ``JSONValue/parse(_:limits:memberNames:rootMembers:)`` accepts, and calls `body` with it: `values[k]` is then
    /// the value of the root object's last member named by table entry `k` (`values` holds ``count`` values, all nil
    /// before; nil stays where the root has no such member). Returns nil without calling `body` for anything else
    /// (not an object, invalid, over the limits; `values` may then hold some values): parse it to get the value or the
    /// error. `bytes` and `values` are borrowed for the call.
    public func withRootMembers<R, E: Error>(
        _ bytes: UnsafeBufferPointer<UInt8>, limits: JSONLimits, values: UnsafeMutableBufferPointer<JSONValue?>,
        _ body: (JSONRootMembers) throws(E) -> R
    ) throws(E) -> R? {
        precondition(values.count >= count, "the root members need one place per name")
        guard bytes.count <= limits.maxBytes else { return nil }
        return try entries.withUnsafeBufferPointer { (entries) throws(E) -> R? in
            try starts.withUnsafeBufferPointer { (starts) throws(E) -> R? in
                var p = JSONParser(buf: bytes, maxDepth: limits.maxDepth)
                p.names = entries
                p.nameStarts = starts
                p.skipWS()
                let rootOffset = p.i
                do throws(JSONError) {
                    guard p.i < bytes.count, bytes[p.i] == UInt8(ascii: "{") else { return nil }
                    try p.rootMembers(into: values)
                    p.skipWS()
                    guard p.i == bytes.count else { return nil }
                } catch {
                    return nil
                }
                return try body(
                    JSONRootMembers(bytes: bytes, rootOffset: rootOffset, names: entries, nameStarts: starts))
            }
        }
    }
}

extension JSONParser {
    /// Reads the root object at `i` as ``value(depth:)`` does, with the same checks and errors, making the values of
    /// the members named in ``names`` into `values` by table entry (the last member of a name wins) and skipping the
    /// others.
    mutating func rootMembers(into values: UnsafeMutableBufferPointer<JSONValue?>) throws(JSONError) {
        if maxDepth <= 0 { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
        i += 1
        skipWS()
        if i < buf.count && buf[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        while true {
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                throw JSONError(.syntax, at: i, "expected a member name")
            }
            let start = i
            var entry = -1
            if try skipString() {
                if !names.isEmpty {
                    entry = JSONMemberNames.entry(buf, start + 1, i - 1, entries: names, starts: nameStarts) ?? -1
                }
            } else {
                // A name spelt with escapes: read it as the parser does (the table's entry for its bytes).
                i = start
                _ = try string(memberName: true)
                entry = nameEntry
            }
            skipWS()
            guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw JSONError(.syntax, at: i, "expected ':'") }
            i += 1
            skipWS()
            if entry >= 0 { values[entry] = try value(depth: 1) } else { try skip(depth: 1) }
            skipWS()
            guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated object") }
            if buf[i] == UInt8(ascii: ",") {
                i += 1
                skipWS()
                continue
            }
            if buf[i] == UInt8(ascii: "}") {
                i += 1
                return
            }
            throw JSONError(.syntax, at: i, "expected ',' or '}'")
        }
    }

    /// Reads the value at `i` as ``value(depth:)`` does, with the same checks and errors, without making it.
    mutating func skip(depth: Int) throws(JSONError) {
        guard i < buf.count else { throw JSONError(.syntax, at: i, "unexpected end of input") }
        switch buf[i] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            i += 1
            skipWS()
            if i < buf.count && buf[i] == UInt8(ascii: "}") {
                i += 1
                return
            }
            while true {
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else {
                    throw JSONError(.syntax, at: i, "expected a member name")
                }
                _ = try skipString()
                skipWS()
                guard i < buf.count, buf[i] == UInt8(ascii: ":") else {
                    throw JSONError(.syntax, at: i, "expected ':'")
                }
                i += 1
                skipWS()
                try skip(depth: depth + 1)
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated object") }
                if buf[i] == UInt8(ascii: ",") {
                    i += 1
                    skipWS()
                    continue
                }
                if buf[i] == UInt8(ascii: "}") {
                    i += 1
                    return
                }
                throw JSONError(.syntax, at: i, "expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw JSONError(.tooDeep, at: i, "nesting deeper than \(maxDepth)") }
            i += 1
            skipWS()
            if i < buf.count && buf[i] == UInt8(ascii: "]") {
                i += 1
                return
            }
            while true {
                try skip(depth: depth + 1)
                skipWS()
                guard i < buf.count else { throw JSONError(.syntax, at: i, "unterminated array") }
                if buf[i] == UInt8(ascii: ",") {
                    i += 1
                    skipWS()
                    continue
                }
                if buf[i] == UInt8(ascii: "]") {
                    i += 1
                    return
                }
                throw JSONError(.syntax, at: i, "expected ',' or ']'")
            }
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
        default: throw JSONError(.syntax, at: i, "unexpected character")
        }
    }

    /// Reads the string at `i` (its opening quote) as ``string(memberName:)`` does, with the same checks and errors,
    /// without making it; whether it has no escapes (its bytes between the quotes are then its text).
    mutating func skipString() throws(JSONError) -> Bool {
        i += 1  // opening quote
        var plain = true
        while true {
            i = JSONParser.plainASCIIEnd(buf, from: i)
            guard i < buf.count else { break }
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return plain
            }
            if c >= 0x80 {
                i += try utf8Sequence()
                continue
            }
            if c < 0x20 { throw JSONError(.syntax, at: i, "control character in string") }
            // A backslash.
            plain = false
            i += 1
            guard i < buf.count else { break }
            let e = buf[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                continue
            case UInt8(ascii: "u"):
                let scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard i + 1 < buf.count, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                        throw JSONError(.syntax, at: i, "unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else {
                        throw JSONError(.syntax, at: i, "invalid low surrogate")
                    }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw JSONError(.syntax, at: i, "unpaired surrogate")
                }
            default: throw JSONError(.syntax, at: i - 1, "invalid escape")
            }
        }
        throw JSONError(.syntax, at: i, "unterminated string")
    }
}
