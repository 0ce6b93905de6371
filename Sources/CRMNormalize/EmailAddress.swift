/// E-mail address normalisation: trims, lower-cases and validates the syntax (a practical subset of RFC 5321).
public enum EmailAddress {
    /// Returns the address trimmed and lower-cased, or throws when the syntax is invalid.
    ///
    /// Accepts an optional display-name form `Name <a@b.c>` and a `mailto:` prefix. The local part may contain
    /// letters, digits and ``!#$%&'*+/=?^_`{|}~.-`` (no leading, trailing or double dots, at most 64 bytes);
    /// the domain must have at least two labels of letters, digits and hyphens (no leading/trailing hyphen,
    /// each at most 63 bytes) and a non-numeric top-level label.
    public static func normalize(_ raw: String) throws(NormalizationError) -> String {
        func fail(_ reason: String) -> NormalizationError { NormalizationError(kind: "email", input: raw, reason: reason) }
        var b = Array(raw.utf8)[...]
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        func trim(_ x: inout ArraySlice<UInt8>) {
            while let f = x.first, isSpace(f) { x = x.dropFirst() }
            while let l = x.last, isSpace(l) { x = x.dropLast() }
        }
        trim(&b)
        if b.last == UInt8(ascii: ">"), let open = b.lastIndex(of: UInt8(ascii: "<")) {
            b = b[(open + 1)..<(b.endIndex - 1)]
            trim(&b)
        }
        var out = [UInt8](); out.reserveCapacity(b.count)
        for c in b {
            if c >= 0x80 { throw fail("non-ASCII characters are not supported") }
            out.append(c >= 65 && c <= 90 ? c + 32 : c)
        }
        if out.starts(with: Array("mailto:".utf8)) { out.removeFirst(7) }
        if out.isEmpty { throw fail("empty address") }
        var at = -1
        for (i, c) in out.enumerated() where c == UInt8(ascii: "@") {
            if at >= 0 { throw fail("more than one '@'") }
            at = i
        }
        if at < 0 { throw fail("missing '@'") }
        let local = out[..<at], domain = out[(at + 1)...]
        if local.isEmpty { throw fail("empty local part") }
        if local.count > 64 { throw fail("local part longer than 64 characters") }
        var prev: UInt8 = 0
        for c in local {
            if c == 0x2E && prev == 0x2E { throw fail("misplaced dot in local part") }
            prev = c
        }
        if local.first == 0x2E || local.last == 0x2E { throw fail("misplaced dot in local part") }
        for c in local where !EmailAddress.localAllowed[Int(c)] {
            throw fail("character '\(Character(Unicode.Scalar(c)))' not allowed in local part")
        }
        if domain.isEmpty { throw fail("empty domain") }
        if domain.count > 253 { throw fail("domain longer than 253 characters") }
        var labels = 0, labelStart = domain.startIndex, lastLabelNumeric = true
        var i = domain.startIndex
        while i <= domain.endIndex {
            if i == domain.endIndex || domain[i] == 0x2E {
                let label = domain[labelStart..<i]
                if label.isEmpty { throw fail(labels == 0 && i == domain.endIndex ? "domain needs a dot" : "empty domain label") }
                if label.count > 63 { throw fail("domain label longer than 63 characters") }
                if label.first == 0x2D || label.last == 0x2D { throw fail("domain label starts or ends with '-'") }
                lastLabelNumeric = true
                for c in label {
                    let digit = c >= 48 && c <= 57
                    if !(digit || (c >= 97 && c <= 122) || c == 45) { throw fail("character not allowed in domain") }
                    if !digit { lastLabelNumeric = false }
                }
                labels += 1
                labelStart = i + 1
            }
            i += 1
        }
        if labels < 2 { throw fail("domain needs a dot") }
        if lastLabelNumeric { throw fail("numeric top-level domain") }
        return String(decoding: out, as: UTF8.self)
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
