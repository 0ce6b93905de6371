/// E-mail address normalisation: trims, lower-cases and validates the syntax (a practical subset of RFC 5321).
public enum EmailAddress {
    /// Returns the address trimmed and lower-cased, or throws when the syntax is invalid.
    ///
    /// Accepts an optional display-name form `Name <a@b.c>` and a `mailto:` prefix. The local part may contain
    /// letters, digits and ``!#$%&'*+/=?^_`{|}~.-`` (no leading, trailing or double dots, at most 64 bytes);
    /// the domain must have at least two labels of letters, digits and hyphens (no leading/trailing hyphen,
    /// each at most 63 bytes) and a non-numeric top-level label.
    public static func normalize(_ raw: String) throws(NormalizationError) -> String {
        if let address = UTF8Bytes.with(raw, plainNormalize(utf8:)) { return address }
        switch UTF8Bytes.with(raw, normalize(utf8:)) {
        case .valid(let address): return address
        case .invalid(let reason): throw NormalizationError(kind: "email", input: raw, reason: reason)
        }
    }

    /// ``normalize(_:)`` of the UTF-8 text `utf8` when it is a plain address (see ``plainNormalize(utf8:)``); nil when
    /// only ``normalize(_:)`` decides (its result or error). For callers that hold the bytes and not the string.
    public static func normalizedPlain(utf8: UnsafeBufferPointer<UInt8>) -> String? { plainNormalize(utf8: utf8) }

    /// The common case of ``normalize(utf8:)`` in one pass: a bare ASCII address (no display name, no `mailto:`)
    /// that passes every check gives its lower-cased bytes; anything else gives nil and ``normalize(utf8:)`` decides
    /// (its result or error). Every address this accepts is valid there with the same result.
    static func plainNormalize(utf8 b: UnsafeBufferPointer<UInt8>) -> String? {
        @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        var lo = 0
        var hi = b.count
        while lo < hi && isSpace(b[lo]) { lo += 1 }
        while hi > lo && isSpace(b[hi - 1]) { hi -= 1 }
        let start = lo
        let end = hi
        // The bytes are checked as they are copied (lower-cased) into the new string, which is dropped when they fail.
        var valid = false
        let address = String(unsafeUninitializedCapacity: end - start) { out in
            valid = plainLowercased(b, from: start, to: end, into: out)
            return valid ? end - start : 0
        }
        return valid ? address : nil
    }

    /// Copies `b[s..<e]` lower-cased to `out` and tells whether it is a plain valid address (see
    /// ``plainNormalize(utf8:)``).
    @inline(__always)
    static func plainLowercased(
        _ b: UnsafeBufferPointer<UInt8>, from s: Int, to e: Int, into out: UnsafeMutableBufferPointer<UInt8>
    ) -> Bool {
        // Local part: allowed bytes (which excludes non-ASCII, ':' of "mailto:" and '>' of "Name <a@b.c>"), no
        // leading, trailing or double dot.
        var i = s
        var prev: UInt8 = 0x2E
        let local = localLowered.withUnsafeBufferPointer { table in
            while i < e {
                let c = table[Int(b[i])]
                if c == 0 || (c == 0x2E && prev == 0x2E) { return b[i] == 0x40 }
                out[i &- s] = c
                prev = c
                i &+= 1
            }
            return true
        }
        if !local || i == e || i == s || i &- s > 64 || prev == 0x2E { return false }
        out[i &- s] = 0x40
        i &+= 1
        if e &- i > 253 { return false }
        // Domain: labels of letters, digits and '-' (not first or last), 1–63 bytes; at least two; the last not
        // all digits.
        var labels = 0
        var numeric = true
        while true {
            let start = i
            numeric = true
            while i < e {
                let c = b[i]
                if c == 0x2E { break }
                if c &- 0x30 < 10 {
                    out[i &- s] = c
                } else if (c | 0x20) &- 0x61 < 26 || c == 0x2D {
                    out[i &- s] = c | (c == 0x2D ? 0 : 0x20)
                    numeric = false
                } else {
                    return false
                }
                i &+= 1
            }
            if i == start || i &- start > 63 || b[start] == 0x2D || b[i &- 1] == 0x2D { return false }
            labels &+= 1
            if i == e { break }
            out[i &- s] = 0x2E
            i &+= 1
        }
        return labels >= 2 && !numeric
    }

    /// Each byte lower-cased when it is allowed in a local part in either letter case (ASCII letters, digits and
    /// ``!#$%&'*+/=?^_`{|}~.-``, see ``localAllowed``), 0 when it is not.
    static let localLowered: [UInt8] = (0..<256).map { c in
        let lower = c >= 65 && c <= 90 ? c + 32 : c
        return c < 0x80 && localAllowed[lower] ? UInt8(lower) : 0
    }

    enum Outcome {
        case valid(String)
        case invalid(String)
    }

    /// ``normalize(_:)`` on the UTF-8 bytes: checks run on the lower-cased bytes, which are only materialised as
    /// the returned string.
    static func normalize(utf8 b: UnsafeBufferPointer<UInt8>) -> Outcome {
        @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        @inline(__always) func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
        var lo = 0
        var hi = b.count
        func trim() {
            while lo < hi && isSpace(b[lo]) { lo += 1 }
            while hi > lo && isSpace(b[hi - 1]) { hi -= 1 }
        }
        trim()
        if hi > lo && b[hi - 1] == UInt8(ascii: ">") {
            var open = hi - 1
            while open >= lo && b[open] != UInt8(ascii: "<") { open -= 1 }
            if open >= lo {
                lo = open + 1
                hi -= 1
                trim()
            }
        }
        for i in lo..<hi where b[i] >= 0x80 { return .invalid("non-ASCII characters are not supported") }
        let mailto: StaticString = "mailto:"
        if hi - lo >= 7 && (0..<7).allSatisfy({ lower(b[lo + $0]) == mailto.utf8Start[$0] }) { lo += 7 }
        if lo == hi { return .invalid("empty address") }
        var at = -1
        for i in lo..<hi where b[i] == UInt8(ascii: "@") {
            if at >= 0 { return .invalid("more than one '@'") }
            at = i
        }
        if at < 0 { return .invalid("missing '@'") }
        if at == lo { return .invalid("empty local part") }
        if at - lo > 64 { return .invalid("local part longer than 64 characters") }
        var prev: UInt8 = 0
        for i in lo..<at {
            if b[i] == 0x2E && prev == 0x2E { return .invalid("misplaced dot in local part") }
            prev = b[i]
        }
        if b[lo] == 0x2E || b[at - 1] == 0x2E { return .invalid("misplaced dot in local part") }
        for i in lo..<at where !EmailAddress.localAllowed[Int(lower(b[i]))] {
            return .invalid("character '\(Character(Unicode.Scalar(lower(b[i]))))' not allowed in local part")
        }
        let domainStart = at + 1
        if domainStart == hi { return .invalid("empty domain") }
        if hi - domainStart > 253 { return .invalid("domain longer than 253 characters") }
        var labels = 0
        var labelStart = domainStart
        var lastLabelNumeric = true
        var i = domainStart
        while i <= hi {
            if i == hi || b[i] == 0x2E {
                if labelStart == i {
                    return .invalid(labels == 0 && i == hi ? "domain needs a dot" : "empty domain label")
                }
                if i - labelStart > 63 { return .invalid("domain label longer than 63 characters") }
                if b[labelStart] == 0x2D || b[i - 1] == 0x2D { return .invalid("domain label starts or ends with '-'") }
                lastLabelNumeric = true
                for j in labelStart..<i {
                    let c = lower(b[j])
                    let digit = c >= 48 && c <= 57
                    if !(digit || (c >= 97 && c <= 122) || c == 45) {
                        return .invalid("character not allowed in domain")
                    }
                    if !digit { lastLabelNumeric = false }
                }
                labels += 1
                labelStart = i + 1
            }
            i += 1
        }
        if labels < 2 { return .invalid("domain needs a dot") }
        if lastLabelNumeric { return .invalid("numeric top-level domain") }
        return .valid(
            String(unsafeUninitializedCapacity: hi - lo) { out in
                for k in lo..<hi { out[k - lo] = lower(b[k]) }
                return hi - lo
            })
    }

    static let localAllowed: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-".utf8 { t[Int(c)] = true }
        return t
    }()
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
