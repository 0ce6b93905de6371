/// Finds the spans of personal data in UTF-8 text for ``RedactionPolicy/redact(_:echoing:)``.
struct RedactionScanner {
    struct Span {
        var range: Range<Int>
        var kind: String
    }

    let bytes: [UInt8]
    let policy: RedactionPolicy

    /// Non-overlapping spans in text order. Fingerprints already in the text are never touched; of overlapping
    /// spans the one that starts first (then the longer) wins.
    func spans(echoing known: [String]) -> [Span] {
        let kept = fingerprints()
        var candidates = keyedValues() + emails() + digitRuns() + ibans() + occurrences(of: known)
        candidates.sort { ($0.range.lowerBound, -$0.range.count) < ($1.range.lowerBound, -$1.range.count) }
        var taken: [Span] = []
        for candidate in candidates where !candidate.range.isEmpty {
            if kept.contains(where: { $0.overlaps(candidate.range) }) { continue }
            if let last = taken.last, last.range.overlaps(candidate.range) { continue }
            taken.append(candidate)
        }
        return taken
    }

    // MARK: Fingerprints already present

    /// `<kind:12 hex>` at the start of `bytes`.
    static func isFingerprint(_ bytes: [UInt8]) -> Bool {
        fingerprintLength(bytes, at: 0) == bytes.count
    }

    static func fingerprintLength(_ bytes: [UInt8], at start: Int) -> Int? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "<") else { return nil }
        var index = start + 1
        while index < bytes.count, isLowerLetter(bytes[index]) { index += 1 }
        guard index > start + 1, index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        let digits = index
        while index < bytes.count, isHexDigit(bytes[index]) { index += 1 }
        guard index - digits == 12, index < bytes.count, bytes[index] == UInt8(ascii: ">") else { return nil }
        return index + 1 - start
    }

    private func fingerprints() -> [Range<Int>] {
        var found: [Range<Int>] = []
        var index = 0
        while index < bytes.count {
            if let length = Self.fingerprintLength(bytes, at: index) {
                found.append(index..<index + length)
                index += length
            } else {
                index += 1
            }
        }
        return found
    }

    // MARK: Shapes

    /// `local@domain.tld`.
    private func emails() -> [Span] {
        var found: [Span] = []
        for at in bytes.indices where bytes[at] == UInt8(ascii: "@") {
            var start = at
            while start > 0, Self.isLocalPart(bytes[start - 1]) { start -= 1 }
            var end = at + 1
            while end < bytes.count, Self.isDomain(bytes[end]) { end += 1 }
            while end > at + 1, bytes[end - 1] == UInt8(ascii: ".") || bytes[end - 1] == UInt8(ascii: "-") {
                end -= 1
            }
            guard start < at, let dot = bytes[(at + 1)..<end].lastIndex(of: UInt8(ascii: ".")), dot > at + 1,
                end - dot > 2
            else { continue }
            found.append(Span(range: start..<end, kind: "email"))
        }
        return found
    }

    /// Phone numbers and long digit runs: 7 or more digits, optionally after `+`, with single spaces, hyphens or
    /// parentheses between them (9 or more when bare); not inside a word, not an ISO date. 13-19 digits passing
    /// Luhn's check are a card.
    private func digitRuns() -> [Span] {
        var found: [Span] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let startsRun =
                (Self.isDigit(byte)
                    || ((byte == UInt8(ascii: "+") || byte == UInt8(ascii: "(")) && index + 1 < bytes.count
                        && Self.isDigit(bytes[index + 1])))
                && (index == 0 || !Self.joinsToken(bytes[index - 1]))
            guard startsRun else {
                index += 1
                continue
            }
            var end = index + 1
            var lastDigit = Self.isDigit(byte) ? index : -1
            var digits: [UInt8] = Self.isDigit(byte) ? [byte] : []
            while end < bytes.count {
                let next = bytes[end]
                if Self.isDigit(next) {
                    digits.append(next)
                    lastDigit = end
                    end += 1
                } else if next == UInt8(ascii: "(") || next == UInt8(ascii: ")") {
                    end += 1
                } else if (next == UInt8(ascii: " ") || next == UInt8(ascii: "-")) && end + 1 < bytes.count
                    && (Self.isDigit(bytes[end + 1]) || bytes[end + 1] == UInt8(ascii: "("))
                {
                    end += 1
                } else {
                    break
                }
            }
            let stop = lastDigit + 1
            let bounded = stop >= bytes.count || !(Self.isLetter(bytes[stop]) || bytes[stop] == UInt8(ascii: "_"))
            // A bare run (no `+`, spaces, hyphens or parentheses) needs 9 digits: shorter ones are sizes, counts
            // and offsets far more often than phone numbers (`2000000 bytes`).
            let formatted =
                byte == UInt8(ascii: "+")
                || bytes[index..<stop].contains {
                    $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ")")
                }
            if digits.count >= (formatted ? 7 : 9), bounded, !isDate(at: index) {
                let card = (13...19).contains(digits.count) && Self.luhn(digits)
                found.append(Span(range: index..<stop, kind: card ? "card" : "phone"))
            }
            index = max(stop, index + 1)
        }
        return found
    }

    /// `2026-11-25` (the start of an ISO 8601 time) at `start`.
    private func isDate(at start: Int) -> Bool {
        let pattern = Array("dddd-dd-dd".utf8)
        guard start + pattern.count <= bytes.count else { return false }
        for (offset, symbol) in pattern.enumerated() {
            let byte = bytes[start + offset]
            if symbol == UInt8(ascii: "d") ? !Self.isDigit(byte) : byte != symbol { return false }
        }
        return true
    }

    /// Two capital letters, two check digits and 11-30 more letters or digits, optionally in groups of four.
    private func ibans() -> [Span] {
        var found: [Span] = []
        var index = 0
        while index + 4 <= bytes.count {
            guard Self.isUpper(bytes[index]), Self.isUpper(bytes[index + 1]), Self.isDigit(bytes[index + 2]),
                Self.isDigit(bytes[index + 3]), index == 0 || !Self.joinsToken(bytes[index - 1])
            else {
                index += 1
                continue
            }
            var end = index + 4
            var count = 4
            while end < bytes.count {
                if Self.isUpper(bytes[end]) || Self.isDigit(bytes[end]) {
                    count += 1
                    end += 1
                } else if bytes[end] == UInt8(ascii: " "), end + 1 < bytes.count,
                    Self.isUpper(bytes[end + 1]) || Self.isDigit(bytes[end + 1])
                {
                    end += 1
                } else {
                    break
                }
            }
            while end > index, bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
            let bounded = end >= bytes.count || !(Self.isLetter(bytes[end]) || Self.isDigit(bytes[end]))
            if bounded, (15...34).contains(count) {
                found.append(Span(range: index..<end, kind: "iban"))
                index = end
            } else {
                index += 1
            }
        }
        return found
    }

    // MARK: Values after a personal key

    /// `"name": "Zelda Quux"`, `email=…`, `phone: …`: the value after a key that names personal data. A quoted value
    /// ends at its closing quote; an unquoted one at `,`, `;`, `&`, `}`, `]`, `)` or the end of the line.
    private func keyedValues() -> [Span] {
        var found: [Span] = []
        for separator in bytes.indices
        where bytes[separator] == UInt8(ascii: ":") || bytes[separator] == UInt8(ascii: "=") {
            var keyEnd = separator
            while keyEnd > 0, bytes[keyEnd - 1] == UInt8(ascii: " ") { keyEnd -= 1 }
            if keyEnd > 0, bytes[keyEnd - 1] == UInt8(ascii: "\"") || bytes[keyEnd - 1] == UInt8(ascii: "'") {
                keyEnd -= 1
            }
            if keyEnd > 0, bytes[keyEnd - 1] == UInt8(ascii: "\\") { keyEnd -= 1 }
            var keyStart = keyEnd
            while keyStart > 0, Self.isKeyByte(bytes[keyStart - 1]) { keyStart -= 1 }
            guard keyStart < keyEnd,
                let kind = policy.personalKind(ofKey: String(decoding: bytes[keyStart..<keyEnd], as: UTF8.self))
            else { continue }
            var start = separator + 1
            while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
            guard start < bytes.count else { continue }
            // `field 'email': not an e-mail address` names a field and says what is wrong with it: prose after a
            // single-quoted name and a colon is kept unless it is itself quoted.
            let singleQuotedKey = keyEnd < separator && bytes[keyEnd] == UInt8(ascii: "'")
            if singleQuotedKey, bytes[separator] == UInt8(ascii: ":"),
                bytes[start] != UInt8(ascii: "\""), bytes[start] != UInt8(ascii: "'")
            {
                continue
            }
            // JSON quoted inside a JSON string: `\"name\": \"…\"`.
            if bytes[start] == UInt8(ascii: "\\"), start + 1 < bytes.count, bytes[start + 1] == UInt8(ascii: "\"") {
                start += 2
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "\\") { end += 1 }
                if end > start { found.append(Span(range: start..<end, kind: kind)) }
                continue
            }
            var end = start
            let quote = bytes[start]
            if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                start += 1
                end = start
                while end < bytes.count, bytes[end] != quote {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                end = min(end, bytes.count)
            } else {
                while end < bytes.count, !Self.endsUnquotedValue(bytes[end]) { end += 1 }
                while end > start, bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
            }
            if end > start, Self.fingerprintLength(bytes, at: start) != end - start {
                found.append(Span(range: start..<end, kind: kind))
            }
        }
        return found
    }

    /// Every occurrence of each known value (3 characters or more).
    private func occurrences(of known: [String]) -> [Span] {
        var found: [Span] = []
        for value in known {
            let needle = Array(value.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            guard needle.count >= 3, needle.count <= bytes.count else { continue }
            var index = 0
            while index + needle.count <= bytes.count {
                if bytes[index] == needle[0], bytes[index..<index + needle.count].elementsEqual(needle) {
                    found.append(Span(range: index..<index + needle.count, kind: "text"))
                    index += needle.count
                } else {
                    index += 1
                }
            }
        }
        return found
    }

    // MARK: Bytes

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    static func isUpper(_ byte: UInt8) -> Bool { byte >= 0x41 && byte <= 0x5A }
    static func isLowerLetter(_ byte: UInt8) -> Bool { byte >= 0x61 && byte <= 0x7A }
    static func isLetter(_ byte: UInt8) -> Bool { isUpper(byte) || isLowerLetter(byte) }
    static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || (byte >= 0x61 && byte <= 0x66) }
    static func isLocalPart(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte >= 0x80 || "._%+-'".utf8.contains(byte)
    }
    static func isDomain(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte >= 0x80 || ".-".utf8.contains(byte)
    }
    static func isKeyByte(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) || "_-.".utf8.contains(byte) }
    /// A byte that makes a following digit part of a larger token (an id, a version, a path, a UUID).
    static func joinsToken(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || "_-./".utf8.contains(byte)
    }
    static func endsUnquotedValue(_ byte: UInt8) -> Bool {
        ",;&}])\n\r\"".utf8.contains(byte)
    }

    static func luhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, byte) in digits.reversed().enumerated() {
            var digit = Int(byte - 0x30)
            if position % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }
}
