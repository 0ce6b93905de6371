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
    /// per scalar and the result written directly into the new string.
    static func latinDisplay(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        var words = 0
        var inWord = false
        var i = 0
        while i < b.count {
            let c = b[i]
            if c < 0x80 {
                if isSpace(c) {
                    inWord = false
                } else if !inWord {
                    inWord = true
                    words += 1
                }
                i += 1
            } else if c == 0xC3, i + 1 < b.count, isLatinLetterTrail(b[i + 1]) {
                if !inWord {
                    inWord = true
                    words += 1
                }
                i += 2
            } else {
                return nil
            }
        }
        return String(unsafeUninitializedCapacity: b.count) { out in
            var n = 0
            var i = 0
            var w = 0
            while i < b.count {
                while i < b.count && b[i] < 0x80 && isSpace(b[i]) { i += 1 }
                if i == b.count { break }
                var end = i
                while end < b.count && !(b[end] < 0x80 && isSpace(b[end])) { end += 1 }
                if w > 0 {
                    out[n] = 0x20
                    n += 1
                }
                n = latinWord(UnsafeBufferPointer(rebasing: b[i..<end]), index: w, of: words, into: out, at: n)
                w += 1
                i = end
            }
            return n
        }
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

    /// Second byte of `C3 xx` for U+00C0–U+00FE without `×` (D7), `ß` (DF), `÷` (F7); upper case below 0xA0.
    @inline(__always) static func isLatinLetterTrail(_ t: UInt8) -> Bool {
        (t >= 0x80 && t <= 0xBE) && t != 0x97 && t != 0x9F && t != 0xB7
    }

    /// One word of ``latinDisplay(_:)``, written at `out[n...]`; returns the new end.
    static func latinWord(
        _ word: UnsafeBufferPointer<UInt8>, index w: Int, of words: Int, into out: UnsafeMutableBufferPointer<UInt8>,
        at start: Int
    ) -> Int {
        // Scalars are 1 byte (ASCII) or 2 bytes (C3 xx); `isUpper`/`isLower` and the case mappings look at the
        // last byte of the scalar.
        var hasLower = false
        var hasUpper = false
        var scalars = 0
        var ascii = true
        var i = 0
        while i < word.count {
            let c = word[i]
            if c < 0x80 {
                if c >= 97 && c <= 122 { hasLower = true } else if c >= 65 && c <= 90 { hasUpper = true }
                i += 1
            } else {
                ascii = false
                if word[i + 1] < 0xA0 { hasUpper = true } else { hasLower = true }
                i += 2
            }
            scalars += 1
        }
        var n = start
        // Particles (van, der, ...) stay lower case between the first and the last word.
        if w > 0 && w < words - 1 && ascii && word.count <= 5 && isParticle(word) {
            for c in word {
                out[n] = c >= 65 && c <= 90 ? c + 32 : c
                n += 1
            }
            return n
        }
        // Mixed-case words that start upper case are kept as written (DeAndre, McKay).
        let firstUpper = word[0] < 0x80 ? (word[0] >= 65 && word[0] <= 90) : word[1] < 0xA0
        if hasLower && hasUpper && firstUpper {
            for c in word {
                out[n] = c
                n += 1
            }
            return n
        }
        // Title case of the lower-cased word: the first letter, and letters after '-', '.' and "'" (unless only
        // one letter follows the apostrophe, as in the possessive 's).
        var capitalise = true
        var k = 0
        i = 0
        while i < word.count {
            let c = word[i]
            if c < 0x80 {
                let lower = c >= 65 && c <= 90 ? c + 32 : c
                let letter = lower >= 97 && lower <= 122
                if capitalise && letter {
                    out[n] = lower - 32
                    capitalise = false
                } else {
                    out[n] = lower
                }
                n += 1
                if c == UInt8(ascii: "-") || c == UInt8(ascii: ".") {
                    capitalise = true
                } else if c == UInt8(ascii: "'") {
                    capitalise = scalars - k - 1 > 1
                }
                i += 1
            } else {
                let lower = word[i + 1] < 0xA0 ? word[i + 1] + 0x20 : word[i + 1]
                out[n] = 0xC3
                if capitalise {
                    out[n + 1] = lower - 0x20
                    capitalise = false
                } else {
                    out[n + 1] = lower
                }
                n += 2
                i += 2
            }
            k += 1
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
            !macExceptions.contains(where: { hasLowercasedPrefix(word, $0) })
        {
            upper(at: base + 3)
        }
        return n
    }

    static let particleBytes: [[UInt8]] = particles.map { Array($0.utf8) }
    static let macExceptions: [[UInt8]] = ["macho", "machin", "mackie", "macey", "macon", "maced"].map {
        Array($0.utf8)
    }

    static func isParticle(_ word: UnsafeBufferPointer<UInt8>) -> Bool {
        particleBytes.contains { p in
            p.count == word.count && zip(p, word).allSatisfy { $0 == ($1 >= 65 && $1 <= 90 ? $1 + 32 : $1) }
        }
    }

    /// Whether the lower-cased `word` starts with the ASCII `prefix`.
    static func hasLowercasedPrefix(_ word: UnsafeBufferPointer<UInt8>, _ prefix: [UInt8]) -> Bool {
        prefix.count <= word.count && zip(prefix, word).allSatisfy { $0 == ($1 >= 65 && $1 <= 90 ? $1 + 32 : $1) }
    }
}
