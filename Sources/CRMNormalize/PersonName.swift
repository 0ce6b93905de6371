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
}
