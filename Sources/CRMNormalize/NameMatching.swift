// CRMNormalize — matching-oriented name keys (case, diacritics, punctuation, initials, nicknames).

import Foundation

/// Name keys for identity matching: folds case and diacritics, drops punctuation, recognises initials
/// and maps common nicknames onto a canonical given name ("Bill" → "william").
public enum NameMatching {
    /// Lower-cases, folds diacritics (é → e, ß → ss, ø → o), turns punctuation into spaces and collapses
    /// whitespace. Returns an empty string for input without letters.
    public static func fold(_ raw: String) -> String { fold(raw, joinApostrophes: false) }

    static func fold(_ raw: String, joinApostrophes: Bool) -> String {
        if raw.utf8.allSatisfy({ $0 < 0x80 }) {
            // Fast path for ASCII (most CRM data): bytes only, no Character segmentation.
            var out: [UInt8] = []
            out.reserveCapacity(raw.utf8.count)
            var lastWasSpace = true
            for b in raw.utf8 {
                let c = (b >= 65 && b <= 90) ? b + 32 : b
                if (c >= 97 && c <= 122) || (c >= 48 && c <= 57) {
                    out.append(c)
                    lastWasSpace = false
                } else if joinApostrophes && c == 39 {
                    continue
                } else if !lastWasSpace {
                    out.append(32)
                    lastWasSpace = true
                }
            }
            if out.last == 32 { out.removeLast() }
            return String(decoding: out, as: UTF8.self)
        }
        if let latin = latinFold(raw, joinApostrophes: joinApostrophes) { return latin }
        return generalFold(raw, joinApostrophes: joinApostrophes)
    }

    /// `fold` for text whose scalars all lie below U+0180 (ASCII, Latin-1 Supplement, Latin Extended-A: most
    /// European names and streets), scalar by scalar through `latinFolds`; `nil` for any other text. Such text has
    /// no combining marks, so every scalar is a `Character` of its own (CR LF aside, which folds to one space either
    /// way), and lower-casing it is lower-casing each scalar: the result is `generalFold`'s.
    static func latinFold(_ raw: String, joinApostrophes: Bool) -> String? {
        var out = FoldedText(capacity: raw.utf8.count)
        for scalar in raw.unicodeScalars {
            let v = Int(scalar.value)
            guard v < latinFolds.count, let entry = latinFolds[v] else { return nil }
            if joinApostrophes && v == 39 { continue }
            out.append(entry)
        }
        return out.finish()
    }

    /// Per scalar below U+0180, what `generalFold` makes of it alone: its folded text, or `nil` (a separator).
    /// Built once from `fold(character:)` itself. A scalar that lower-cases to more than one `Character` has no
    /// entry (text with it takes the general path).
    static let latinFolds: [String??] = (0..<0x180).map { v -> String?? in
        guard let scalar = UnicodeScalar(v) else { return nil }
        let characters = Array(String(Character(scalar)).lowercased())
        guard characters.count == 1 else { return nil }
        return .some(fold(character: characters[0]))
    }

    /// `fold` for any text: lower-cased, then folded `Character` by `Character`.
    static func generalFold(_ raw: String, joinApostrophes: Bool) -> String {
        var out = FoldedText(capacity: raw.utf8.count)
        for ch in raw.lowercased() {
            if joinApostrophes && (ch == "'" || ch == "’") { continue }
            out.append(fold(character: ch))
        }
        return out.finish()
    }

    /// Folded pieces joined as `fold` joins them: every run of separators one space, none at either end.
    private struct FoldedText {
        private var text = ""
        private var lastWasSpace = true

        init(capacity: Int) { text.reserveCapacity(capacity) }

        /// Appends a folded piece, or a separator for `nil`.
        mutating func append(_ piece: String?) {
            if let piece {
                text += piece
                lastWasSpace = false
            } else if !lastWasSpace {
                text.append(" ")
                lastWasSpace = true
            }
        }

        /// The text, without a trailing separator.
        mutating func finish() -> String {
            if text.hasSuffix(" ") { text.removeLast() }
            return text
        }
    }

    /// The tokens of a folded name ("Jean-Luc O'Neil" → ["jean", "luc", "o", "neil"] with apostrophes joined:
    /// ["jean", "luc", "oneil"]).
    public static func tokens(_ raw: String) -> [String] {
        fold(raw, joinApostrophes: true).split(separator: " ").map(String.init)
    }

    /// The matching key of a given name: the first token, nickname-canonicalised. `nil` when the name has no
    /// letters or is a placeholder ("test", "unknown", "n/a").
    public static func givenKey(_ raw: String) -> String? {
        guard let first = tokens(raw).first, !placeholders.contains(first) else { return nil }
        return nicknames[first] ?? first
    }

    /// The matching key of a family name: all tokens joined without spaces, without common particles at the
    /// start ("van der Berg" → "berg" is NOT done: particles are kept but spaces removed, "vanderberg").
    public static func familyKey(_ raw: String) -> String? {
        let t = tokens(raw)
        guard !t.isEmpty, !(t.count == 1 && placeholders.contains(t[0])) else { return nil }
        return t.joined()
    }

    /// Whether `key` is a single-letter initial.
    public static func isInitial(_ key: String) -> Bool { key.count == 1 }

    /// Whether two given-name keys are compatible as initial and full name ("j" and "john").
    public static func initialCompatible(_ a: String, _ b: String) -> Bool {
        guard let fa = a.first, let fb = b.first, fa == fb else { return false }
        return isInitial(a) || isInitial(b)
    }

    /// Whether `a` and `b` share a canonical name through the nickname table.
    public static func sameCanonicalGiven(_ a: String, _ b: String) -> Bool {
        (nicknames[a] ?? a) == (nicknames[b] ?? b)
    }

    static let placeholders: Set<String> = [
        "test", "unknown", "n a", "na", "none", "null", "xxx", "x", "asdf", "customer", "mr", "mrs", "ms", "dr",
        "noname", "anonymous", "tbd",
    ]

    /// Nickname → canonical given name. English, German, French, Spanish, Italian diminutives in common CRM use.
    public static let nicknames: [String: String] = {
        let table: [String: [String]] = [
            "william": ["bill", "billy", "will", "willy", "liam"],
            "robert": ["bob", "bobby", "rob", "robbie", "bert"],
            "richard": ["rick", "ricky", "dick", "rich", "richie"],
            "james": ["jim", "jimmy", "jamie"],
            "john": ["jack", "johnny", "jon"],
            "jonathan": ["jonny", "nathan"],
            "michael": ["mike", "mikey", "mick", "micky"],
            "thomas": ["tom", "tommy"],
            "christopher": ["chris", "kit", "topher"],
            "daniel": ["dan", "danny"],
            "matthew": ["matt", "matty"],
            "anthony": ["tony"],
            "joseph": ["joe", "joey"],
            "charles": ["charlie", "chuck", "chas"],
            "edward": ["ed", "eddie", "ted", "ned"],
            "alexander": ["alex", "sasha", "sandy", "alexandre", "alessandro", "alejandro"],
            "benjamin": ["ben", "benny"],
            "samuel": ["sam", "sammy"],
            "nicholas": ["nick", "nicky", "nico", "nicolas", "nikolaus", "klaus"],
            "steven": ["steve", "stephen", "stevie"],
            "andrew": ["andy", "drew"],
            "david": ["dave", "davey"],
            "peter": ["pete"],
            "patrick": ["pat", "paddy"],
            "timothy": ["tim", "timmy"],
            "gregory": ["greg"],
            "elizabeth": ["liz", "lizzie", "beth", "betty", "eliza", "elisabeth", "lisa", "liesel"],
            "margaret": ["maggie", "meg", "peggy", "marge", "greta", "margarethe"],
            "katherine": ["kate", "katie", "kathy", "catherine", "kathryn", "cathy", "katharina", "kathrin", "käthe"],
            "jennifer": ["jen", "jenny"],
            "rebecca": ["becky", "becca"],
            "susan": ["sue", "susie", "suzanne"],
            "patricia": ["patty", "trish", "tricia"],
            "deborah": ["debbie", "deb"],
            "victoria": ["vicky", "tori"],
            "christine": ["chris", "christina", "kristin", "tina"],
            "josephine": ["jo", "josie"],
            "johannes": ["hans", "jo", "hannes"],
            "wolfgang": ["wolf"],
            "friedrich": ["fritz"],
            "josé": ["pepe"],
            "francisco": ["paco", "pancho"],
            "giuseppe": ["beppe", "peppe"],
            "francesco": ["franco", "cesco"],
            "guillaume": ["guy"],
        ]
        var map: [String: String] = [:]
        for canonical in table.keys.sorted() {
            let nicks = table[canonical] ?? []
            let c = fold(canonical)
            for n in nicks where map[fold(n)] == nil { map[fold(n)] = c }
        }
        return map
    }()

    private static func fold(character ch: Character) -> String? {
        if ch.isASCII {
            if ch.isLetter || ch.isNumber { return String(ch) }
            return nil
        }
        switch ch {
        case "ß": return "ss"
        case "æ": return "ae"
        case "œ": return "oe"
        case "ø": return "o"
        case "ł": return "l"
        case "đ", "ð": return "d"
        case "þ": return "th"
        case "ı": return "i"
        default: break
        }
        guard ch.isLetter || ch.isNumber else { return nil }
        // Canonical decomposition, keep the base scalars only (drops combining marks).
        let base = String(ch).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
            !(0x0300...0x036F).contains($0.value)
        }
        return String(String.UnicodeScalarView(base))
    }
}
