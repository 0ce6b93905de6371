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
        var s = Substring(raw).trimmingWhitespace()
        if let open = s.lastIndex(of: "<"), s.last == ">" {
            s = s[s.index(after: open)..<s.index(before: s.endIndex)].trimmingWhitespace()
        }
        if s.lowercased().hasPrefix("mailto:") { s = s.dropFirst(7) }
        if s.isEmpty { throw fail("empty address") }
        let lowered = s.lowercased()
        let parts = lowered.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw fail(parts.count < 2 ? "missing '@'" : "more than one '@'") }
        let local = parts[0], domain = parts[1]
        if local.isEmpty { throw fail("empty local part") }
        if local.utf8.count > 64 { throw fail("local part longer than 64 characters") }
        if local.first == "." || local.last == "." || local.contains("..") { throw fail("misplaced dot in local part") }
        let allowedLocal = Set("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-".utf8)
        for b in local.utf8 where !allowedLocal.contains(b) {
            throw fail("character '\(Character(Unicode.Scalar(b)))' not allowed in local part")
        }
        if domain.isEmpty { throw fail("empty domain") }
        if domain.utf8.count > 253 { throw fail("domain longer than 253 characters") }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { throw fail("domain needs a dot") }
        for label in labels {
            if label.isEmpty { throw fail("empty domain label") }
            if label.utf8.count > 63 { throw fail("domain label longer than 63 characters") }
            if label.first == "-" || label.last == "-" { throw fail("domain label starts or ends with '-'") }
            for b in label.utf8 where !((b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 45) {
                throw fail("character not allowed in domain")
            }
        }
        if labels.last!.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { throw fail("numeric top-level domain") }
        return local + "@" + domain
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
