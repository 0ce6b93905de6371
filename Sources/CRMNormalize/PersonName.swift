/// Display-form person and organisation names.
public enum PersonName {
    /// Particles kept lower-case when not the first word ("Ludwig van Beethoven", "Anna von der Heide").
    static let particles: Set<String> = ["van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "ter", "ten", "te", "dos", "das", "do", "y", "zu", "af", "av"]

    /// Trims, collapses inner whitespace and title-cases a name.
    ///
    /// Rules: each word is capitalised; letters after `-` and `'` are capitalised (Anne-Marie, O'Brien);
    /// `Mc` prefixes capitalise the next letter (McDonald); `Mac` does so for names longer than 5 letters that
    /// were written all upper- or lower-case (MacLeod); particles (van, der, de, von, ...) stay lower-case
    /// unless they are the first word. Mixed-case input words (e.g. "DeAndre", "McKay") are kept as written.
    public static func display(_ raw: String) -> String {
        if raw.utf8.allSatisfy({ $0 < 0x80 }) { return asciiDisplay(Array(raw.utf8)) }
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
                  !["macho", "machin", "mackie", "macey", "macon", "maced"].contains(where: { lower.hasPrefix($0) }) {
            chars[3] = Character(String(chars[3]).uppercased())
        }
        return String(chars)
    }

    /// Byte-level version of ``display(_:)`` for ASCII input (same rules, no Character/Unicode work).
    static func asciiDisplay(_ bytes: [UInt8]) -> String {
        var words: [ArraySlice<UInt8>] = []
        var start = -1
        for (i, c) in bytes.enumerated() {
            let space = c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C
            if space { if start >= 0 { words.append(bytes[start..<i]); start = -1 } } else if start < 0 { start = i }
        }
        if start >= 0 { words.append(bytes[start...]) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        @inline(__always) func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
        @inline(__always) func upper(_ c: UInt8) -> UInt8 { c >= 97 && c <= 122 ? c - 32 : c }
        @inline(__always) func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        for (w, word) in words.enumerated() {
            if w > 0 { out.append(0x20) }
            let lw = word.map(lower)
            let hasLower = word.contains { $0 >= 97 && $0 <= 122 }, hasUpper = word.contains { $0 >= 65 && $0 <= 90 }
            if w > 0 && w < words.count - 1 && particles.contains(String(decoding: lw, as: UTF8.self)) {
                out.append(contentsOf: lw); continue
            }
            if hasLower && hasUpper, let f = word.first, f >= 65 && f <= 90 { out.append(contentsOf: word); continue }
            let base = out.count
            var capNext = true
            for (i, c) in lw.enumerated() {
                if capNext && isLetter(c) { out.append(upper(c)); capNext = false } else { out.append(c) }
                if c == 0x2D || c == 0x2E { capNext = true } else if c == 0x27 { capNext = lw.count - i - 1 > 1 }
            }
            let n = out.count - base
            if n > 2, out[base] == 77, out[base + 1] == 99, isLetter(out[base + 2]) {
                out[base + 2] = upper(out[base + 2])
            } else if n > 5, out[base] == 77, out[base + 1] == 97, out[base + 2] == 99, isLetter(out[base + 3]) {
                let l = String(decoding: lw, as: UTF8.self)
                if !["macho", "machin", "mackie", "macey", "macon", "maced"].contains(where: { l.hasPrefix($0) }) {
                    out[base + 3] = upper(out[base + 3])
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
