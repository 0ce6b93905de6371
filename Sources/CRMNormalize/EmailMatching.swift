// CRMNormalize — matching-oriented e-mail keys (case, plus-tags, provider rules, placeholders).

/// E-mail keys for identity matching. Not a validator for delivery: it produces the key under which two
/// spellings of one mailbox compare equal.
public enum EmailMatching {
    /// The matching key of an e-mail address, or `nil` when it is not an address or is a placeholder.
    ///
    /// Lower-cases; trims; drops a `+tag` from the local part (all providers: sub-addressing is near universal);
    /// for Gmail drops dots in the local part and maps `googlemail.com` to `gmail.com`.
    public static func key(_ raw: String) -> String? {
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
