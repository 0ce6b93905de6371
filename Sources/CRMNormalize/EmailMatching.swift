// CRMNormalize — matching-oriented e-mail keys (case, plus-tags, provider rules, placeholders).

/// E-mail keys for identity matching. Not a validator for delivery: it produces the key under which two
/// spellings of one mailbox compare equal.
public enum EmailMatching {
    /// The matching key of an e-mail address, or `nil` when it is not an address or is a placeholder.
    ///
    /// Lower-cases; trims; drops a `+tag` from the local part (all providers: sub-addressing is near universal);
    /// for Gmail drops dots in the local part and maps `googlemail.com` to `gmail.com`.
    public static func key(_ raw: String) -> String? {
        if let ascii = asciiKey(raw) { return ascii }
        return generalKey(raw)
    }

    /// `key(raw)` for any text (Unicode white space and case mapping).
    static func generalKey(_ raw: String) -> String? {
        let trimmed = matchingTrim(raw).lowercased()
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), !trimmed.contains(" ")
        else { return nil }
        var local = Substring(parts[0])
        var domain = String(parts[1])
        if let plus = local.firstIndex(of: "+") { local = local[..<plus] }
        if domain == "googlemail.com" { domain = "gmail.com" }
        var l = String(local)
        if domain == "gmail.com" { l.removeAll { $0 == "." } }
        guard !l.isEmpty else { return nil }
        let key = l + "@" + domain
        return isPlaceholder(local: l, domain: domain) ? nil : key
    }

    /// `key(raw)` on the bytes of an ASCII address, without Foundation, Unicode case mapping or substring
    /// searches (nearly every address in CRM data is ASCII); `nil` when `raw` is not ASCII. The steps and the
    /// result are those of the general path: trim white space, lower-case, exactly one "@", a non-empty local
    /// part, a domain with an inner ".", no space, `+tag` dropped, Gmail rules, placeholders.
    static func asciiKey(_ raw: String) -> String?? {
        var raw = raw
        return raw.withUTF8 { (u: UnsafeBufferPointer<UInt8>) -> String?? in
            var lo = 0
            var hi = u.count
            var at = -1
            for (i, b) in u.enumerated() {
                if b >= 0x80 { return nil }
                if b == 64 { at = at == -1 ? i : -2 }
            }
            func isSpace(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) }
            while lo < hi && isSpace(u[lo]) { lo += 1 }
            while hi > lo && isSpace(u[hi - 1]) { hi -= 1 }
            // Exactly one "@" inside the trimmed text (white space never holds one).
            guard at >= lo, at < hi else { return .some(nil) }
            let local = u[lo..<at]
            let domainBytes = u[(at + 1)..<hi]
            guard !local.isEmpty, domainBytes.contains(46), domainBytes.first != 46, domainBytes.last != 46,
                !u[lo..<hi].contains(32)
            else { return .some(nil) }
            func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }
            var domain = String(decoding: domainBytes.lazy.map(lower), as: UTF8.self)
            if domain == "googlemail.com" { domain = "gmail.com" }
            let gmail = domain == "gmail.com"
            var l: [UInt8] = []
            l.reserveCapacity(local.count)
            for b in local {
                if b == 43 { break }  // "+tag"
                if gmail && b == 46 { continue }
                l.append(lower(b))
            }
            guard !l.isEmpty else { return .some(nil) }
            let ls = String(decoding: l, as: UTF8.self)
            return .some(isPlaceholder(local: ls, domain: domain) ? nil : ls + "@" + domain)
        }
    }

    /// Whether the address is a known placeholder (`test@test.com`, `noreply@…`, `@example.com`).
    public static func isPlaceholder(_ raw: String) -> Bool {
        let t = raw.lowercased().split(separator: "@")
        guard t.count == 2 else { return true }
        return isPlaceholder(local: String(t[0]), domain: String(t[1]))
    }

    static func isPlaceholder(local: String, domain: String) -> Bool {
        placeholderLocals.contains(local) || placeholderDomains.contains(domain)
            || local.hasPrefix("noreply") || local.hasPrefix("no-reply") || local.hasPrefix("donotreply")
    }

    static let placeholderLocals: Set<String> = [
        "test", "noemail", "none", "no", "na", "nomail", "unknown", "info", "email", "mail", "x", "xxx", "asdf",
        "a", "dummy", "fake", "null", "customer", "admin",
    ]
    static let placeholderDomains: Set<String> = [
        "test.com", "example.com", "example.org", "example.net", "test.de", "invalid", "none.com", "noemail.com",
        "email.com", "mailinator.com", "localhost",
    ]
}

/// Trims leading and trailing whitespace without Foundation.
func matchingTrim(_ s: String) -> String {
    var t = Substring(s)
    while let f = t.first, f.isWhitespace { t.removeFirst() }
    while let l = t.last, l.isWhitespace { t.removeLast() }
    return String(t)
}
