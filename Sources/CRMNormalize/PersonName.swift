/// Display-form person and organisation names.
public enum PersonName {
    /// Particles kept lower-case when not the first word ("Ludwig van Beethoven", "Anna von der Heide").
    static let particles: Set<String> = [
        "van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "ter", "ten", "te", "dos",
        "das", "do", "y", "zu", "af", "av",
    ]

    /// Trims, collapses inner whitespace and title-cases a name.
    ///
    /// Rules: each word is capitalised; letters after `-` and `'` are capitalised (Anne-Marie, O'Brien);
    /// `Mc` prefixes capitalise the next letter (McDonald); `Mac` does so for names longer than 5 letters that
    /// were written all upper- or lower-case (MacLeod); particles (van, der, de, von, ...) stay lower-case
    /// unless they are the first word. Mixed-case input words (e.g. "DeAndre", "McKay") are kept as written.
    public static func display(_ raw: String) -> String {
        if let fast = UTF8Bytes.with(raw, latinDisplay) { return fast }
        return unicodeDisplay(raw)
    }

    /// ``display(_:)`` of the UTF-8 text `utf8` when its Latin byte path decides it (plain Latin names); nil when
    /// only ``display(_:)`` does. For callers that hold the bytes and not the string.
    public static func display(utf8: UnsafeBufferPointer<UInt8>) -> String? { latinDisplay(utf8) }

    /// ``display(_:)`` on characters (any script); the reference for ``latinDisplay(_:)``.
    static func unicodeDisplay(_ raw: String) -> String {
        let words = raw.split(whereSeparator: { $0.isWhitespace })
        var out: [String] = []
        out.reserveCapacity(words.count)
        for (i, w) in words.enumerated() {
            let word = String(w)
            let lower = word.lowercased()
            let upper = word.uppercased()
            let isMixed = word != lower && word != upper
            if i > 0 && particles.contains(lower) && words.count > 1 && i < words.count - 1 {
                out.append(lower)
            } else if isMixed && word.first?.isUppercase == true {
                out.append(word)
            } else {
                out.append(titleCase(lower))
            }
        }
        return out.joined(separator: " ")
    }

    static func titleCase(_ lower: String) -> String {
        var result = ""
        var capitaliseNext = true
        var chars = Array(lower)
        for (i, c) in chars.enumerated() {
            if capitaliseNext && c.isLetter {
                result.append(contentsOf: String(c).uppercased())
                capitaliseNext = false
            } else {
                result.append(c)
            }
            if c == "-" || c == "'" || c == "’" || c == "." {
                // O'Brien, Anne-Marie, J.R. — but not the possessive "'s"
                if c == "'" || c == "’" {
                    let rest = chars.count - i - 1
                    capitaliseNext = rest > 1
                } else {
                    capitaliseNext = true
                }
            }
        }
        chars = Array(result)
        // Mc / Mac prefixes.
        if chars.count > 2, chars[0] == "M", chars[1] == "c", chars[2].isLetter {
            chars[2] = Character(String(chars[2]).uppercased())
        } else if chars.count > 5, chars[0] == "M", chars[1] == "a", chars[2] == "c", chars[3].isLetter,
            !["macho", "machin", "mackie", "macey", "macon", "maced"].contains(where: { lower.hasPrefix($0) })
        {
            chars[3] = Character(String(chars[3]).uppercased())
        }
        return String(chars)
    }

    /// Byte-level version of ``display(_:)`` for text made of ASCII and the Latin-1 letters U+00C0–U+00FE (except
    /// `×`, `ß` and `÷`), the bulk of Western European names; nil for anything else.
    ///
    /// In that repertoire every character is one Unicode scalar, whitespace is ASCII, and lower- and upper-casing
    /// keep the UTF-8 length (`+0x20` / `-0x20` on the last byte), so the rules of ``display(_:)`` can be applied
    /// per scalar and the result written directly into the new string, in one pass over the bytes.
    static func latinDisplay(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        var valid = true
        let text = String(unsafeUninitializedCapacity: b.count) { out in
            let count = b.count
            var n = 0
            var i = 0
            while i < count && isSpace(b[i]) { i += 1 }
            var first = true
            while i < count {
                var end = i + 1
                while end < count && !isSpace(b[end]) { end += 1 }
                var next = end
                while next < count && isSpace(b[next]) { next += 1 }
                if !first {
                    out[n] = 0x20
                    n += 1
                }
                // Particles stay lower case between the first and the last word.
                let middle = !first && next < count
                let written = latinWord(b, from: i, to: end, middle: middle, into: out, at: n)
                if written < 0 {
                    valid = false
                    return 0
                }
                n = written
                first = false
                i = next
            }
            return n
        }
        return valid ? text : nil
    }

    /// Whether `c` is ASCII whitespace (`isWhitespace` for the scalars ``latinDisplay(_:)`` accepts).
    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

    /// Second byte of `C3 xx` for U+00C0–U+00FE without `×` (D7), `ß` (DF), `÷` (F7); upper case below 0xA0.
    @inline(__always) static func isLatinLetterTrail(_ t: UInt8) -> Bool {
        (t >= 0x80 && t <= 0xBE) && t != 0x97 && t != 0x9F && t != 0xB7
    }

    /// The word `b[s..<e]` (no whitespace, not empty) of ``latinDisplay(_:)`` written at `out[start...]`: returns
    /// the new end, or -1 when the word has a byte outside the repertoire. `middle`: neither first nor last word.
    @inline(__always)
    static func latinWord(
        _ b: UnsafeBufferPointer<UInt8>, from s: Int, to e: Int, middle: Bool,
        into out: UnsafeMutableBufferPointer<UInt8>,
        at start: Int
    ) -> Int {
        // Particles (van, der, ...) stay lower case between the first and the last word (all ASCII, as they are).
        if middle && e - s <= 5 && isParticle(b, from: s, to: e) {
            var n = start
            for k in s..<e {
                let c = b[k]
                out[n] = c &- 65 < 26 ? c | 0x20 : c
                n += 1
            }
            return n
        }
        // Title case of the lower-cased word: the first letter, and letters after '-', '.' and "'" (unless only
        // one letter follows the apostrophe, as in the possessive 's). Scalars are 1 byte (ASCII) or 2 bytes
        // (C3 xx); upper/lower case and the case mappings look at the last byte of the scalar.
        var hasLower = false
        var hasUpper = false
        var capitalise = true
        var scalars = 0
        var n = start
        var i = s
        while i < e {
            let c = b[i]
            if c &- 97 < 26 {
                hasLower = true
                out[n] = capitalise ? c - 32 : c
                capitalise = false
                n += 1
                i += 1
            } else if c &- 65 < 26 {
                hasUpper = true
                out[n] = capitalise ? c : c | 0x20
                capitalise = false
                n += 1
                i += 1
            } else if c < 0x80 {
                // Not a letter: kept as it is.
                out[n] = c
                if c == UInt8(ascii: "-") || c == UInt8(ascii: ".") {
                    capitalise = true
                } else if c == UInt8(ascii: "'") {
                    // More than one scalar after the apostrophe: three bytes are at least two scalars, two bytes
                    // are two scalars when the first is ASCII.
                    let rest = e - i - 1
                    capitalise = rest > 2 || (rest == 2 && b[i + 1] < 0x80)
                }
                n += 1
                i += 1
            } else {
                guard c == 0xC3, i + 1 < e, isLatinLetterTrail(b[i + 1]) else { return -1 }
                let t = b[i + 1]
                let lower: UInt8
                if t < 0xA0 {
                    hasUpper = true
                    lower = t + 0x20
                } else {
                    hasLower = true
                    lower = t
                }
                out[n] = 0xC3
                out[n + 1] = capitalise ? lower - 0x20 : lower
                capitalise = false
                n += 2
                i += 2
            }
            scalars += 1
        }
        // Mixed-case words that start upper case are kept as written (DeAndre, McKay).
        if hasLower && hasUpper && (b[s] < 0x80 ? b[s] &- 65 < 26 : b[s + 1] < 0xA0) {
            for k in 0..<(e - s) { out[start + k] = b[s + k] }
            return n
        }
        // Mc and Mac prefixes capitalise the next letter (McDonald, MacLeod; not Macho, Machin, ...).
        let base = start
        func isLetter(at j: Int) -> Bool {
            let c = out[j]
            return c >= 0x80 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
        }
        func upper(at j: Int) {
            let c = out[j]
            if c >= 97 && c <= 122 { out[j] = c - 32 } else if c == 0xC3 && out[j + 1] >= 0xA0 { out[j + 1] -= 0x20 }
        }
        if scalars > 2, n - base > 2, out[base] == 77, out[base + 1] == 99, isLetter(at: base + 2) {
            upper(at: base + 2)
        } else if scalars > 5, out[base] == 77, out[base + 1] == 97, out[base + 2] == 99, isLetter(at: base + 3),
            !macExceptions.contains(where: { hasLowercasedPrefix(b, from: s, to: e, $0) })
        {
            upper(at: base + 3)
        }
        return n
    }

    static let particleBytes: [[UInt8]] = particles.map { Array($0.utf8) }
    static let macExceptions: [[UInt8]] = ["macho", "machin", "mackie", "macey", "macon", "maced"].map {
        Array($0.utf8)
    }

    /// Whether `b[s..<e]` lower-cased is one of ``particles``.
    static func isParticle(_ b: UnsafeBufferPointer<UInt8>, from s: Int, to e: Int) -> Bool {
        particleBytes.contains { p in p.count == e - s && hasLowercasedPrefix(b, from: s, to: e, p) }
    }

    /// Whether the lower-cased `b[s..<e]` starts with the ASCII `prefix`.
    static func hasLowercasedPrefix(_ b: UnsafeBufferPointer<UInt8>, from s: Int, to e: Int, _ prefix: [UInt8]) -> Bool
    {
        guard prefix.count <= e - s else { return false }
        for (k, p) in prefix.enumerated() {
            let c = b[s + k]
            if p != (c &- 65 < 26 ? c | 0x20 : c) { return false }
        }
        return true
    }
}
