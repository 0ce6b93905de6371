import CRMModel

/// Byte-level versions of the text functions (`trim`, `lower`, `upper`) and of the small string checks the runtime
/// makes on every field.
///
/// Each function works on the UTF-8 bytes when the result is the same as the Unicode-aware `String` operation
/// (ASCII input, or ASCII at the places that matter) and falls back to that operation otherwise, so the results
/// never differ from `lowercased()`, `uppercased()` or trimming `Character.isWhitespace`.
enum TextFunctions {
    /// ASCII bytes whose `Character` is whitespace: tab, line feed, vertical tab, form feed, carriage return, space.
    @inline(__always)
    static func isASCIISpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

    /// `body` over the UTF-8 bytes of `text`. Native and small strings lend their bytes as they are; `withUTF8`
    /// needs a mutable copy of the string (a retain and a release per call).
    @inline(__always)
    static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = text.utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = text
        return copy.withUTF8(body)
    }

    /// `text` without leading and trailing whitespace.
    static func trimmed(_ text: String) -> String {
        enum Outcome {
            case same
            case slice(String)
            case unicode
        }
        let outcome: Outcome = withBytes(text) { b in
            guard let kept = trimmedRange(b) else { return .unicode }
            if kept.isEmpty { return .slice("") }
            if kept.count == b.count { return .same }
            return .slice(String(validUTF8: UnsafeBufferPointer(rebasing: b[kept])))
        }
        switch outcome {
        case .same: return text
        case .slice(let s): return s
        case .unicode: return String(text.trimmingWhitespace())
        }
    }

    /// The bytes of the UTF-8 text `b` that ``trimmed(_:)`` keeps, when the ASCII bytes decide them; nil when the
    /// first or last character kept would be non-ASCII (the Character-level trim decides those).
    @inline(__always)
    static func trimmedRange(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var lo = 0
        var hi = b.count
        while lo < hi && isASCIISpace(b[lo]) { lo += 1 }
        while hi > lo && isASCIISpace(b[hi - 1]) { hi -= 1 }
        if lo == hi { return 0..<0 }
        // A non-ASCII first or last character may be whitespace itself or extend its neighbour into one grapheme
        // cluster: leave those to the Character-level trim.
        if b[lo] >= 0x80 || b[hi - 1] >= 0x80 { return nil }
        return lo..<hi
    }

    /// ``mapASCII(_:from:through:delta:)`` of the UTF-8 text `b`, written into `out`: the number of bytes written, or
    /// nil when `b` is not ASCII or does not fit.
    @inline(__always)
    static func mapASCII(
        _ b: UnsafeBufferPointer<UInt8>, from: UInt8, through: UInt8, delta: Int8,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) -> Int? {
        guard b.count <= out.count else { return nil }
        for i in 0..<b.count {
            let c = b[i]
            if c >= 0x80 { return nil }
            out[i] = c >= from && c <= through ? UInt8(truncatingIfNeeded: Int8(bitPattern: c) &+ delta) : c
        }
        return b.count
    }

    /// `text.lowercased()`.
    static func lowercased(_ text: String) -> String {
        mapASCII(text, from: 65, through: 90, delta: 32) ?? text.lowercased()
    }

    /// `text.uppercased()`.
    static func uppercased(_ text: String) -> String {
        mapASCII(text, from: 97, through: 122, delta: -32) ?? text.uppercased()
    }

    /// For ASCII `text`: `text` with bytes in `from...through` shifted by `delta` (the same string when none is);
    /// nil when `text` is not ASCII.
    static func mapASCII(_ text: String, from: UInt8, through: UInt8, delta: Int8) -> String? {
        enum Outcome {
            case same
            case mapped(String)
            case unicode
        }
        let outcome: Outcome = withBytes(text) { b in
            var firstHit = -1
            for i in 0..<b.count {
                let c = b[i]
                if c >= 0x80 { return .unicode }
                if firstHit < 0 && c >= from && c <= through { firstHit = i }
            }
            if firstHit < 0 { return .same }
            return .mapped(
                String(unsafeUninitializedCapacity: b.count) { out in
                    for i in 0..<b.count {
                        let c = b[i]
                        out[i] = c >= from && c <= through ? UInt8(truncatingIfNeeded: Int8(bitPattern: c) &+ delta) : c
                    }
                    return b.count
                })
        }
        switch outcome {
        case .same: return text
        case .mapped(let s): return s
        case .unicode: return nil
        }
    }

    /// Whether every byte of `b` is ASCII.
    @inline(__always)
    static func isASCII(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in b where c >= 0x80 { return false }
        return true
    }

    /// ``isBlank(_:)`` of the UTF-8 text `b` when its ASCII bytes decide it; nil when non-ASCII characters do.
    @inline(__always)
    static func isBlank(_ b: UnsafeBufferPointer<UInt8>) -> Bool? {
        // A character that starts with a non-space ASCII byte is not whitespace; ASCII spaces are.
        if let first = b.first, first < 0x80 && !isASCIISpace(first) { return false }
        // ASCII text: its characters are single bytes (or CR LF), whitespace exactly when they are ASCII spaces.
        var blank = true
        for c in b {
            if c >= 0x80 { return nil }
            if !isASCIISpace(c) { blank = false }
        }
        return blank
    }

    /// Whether `text` is empty or only whitespace (`allSatisfy(\.isWhitespace)` over its characters).
    static func isBlank(_ text: String) -> Bool {
        guard let first = text.utf8.first else { return true }
        // A character that starts with a non-space ASCII byte is not whitespace.
        if first < 0x80 && !isASCIISpace(first) { return false }
        return text.allSatisfy(\.isWhitespace)
    }
}

extension JSONValue {
    /// `.null` or the empty string: the values a field leaves out, `required` rejects and `default` replaces.
    @inline(__always)
    var isNullOrEmpty: Bool {
        switch self {
        case .null: true
        case .string(let s): s.utf8.isEmpty
        default: false
        }
    }

    /// The empty string.
    @inline(__always)
    var isEmptyString: Bool {
        if case .string(let s) = self { return s.utf8.isEmpty }
        return false
    }
}
