/// Phone-number normalisation to E.164 (`+<country code><national number>`).
///
/// A compact, table-driven normaliser: for each supported region it knows the country calling code, the national
/// trunk prefix (dialled before area codes inside the country) and the valid lengths of the national significant
/// number. It is not a full numbering-plan validator (it does not check area codes), but it rejects numbers whose
/// length cannot be right, which catches most typing errors in CRM data.
public enum PhoneNumber {
    /// Numbering facts for one region.
    public struct Region: Sendable, Equatable {
        /// ISO 3166-1 alpha-2 code, e.g. "GB".
        public var iso: String
        /// Country calling code without "+", e.g. "44".
        public var callingCode: String { didSet { digits = Digits(callingCode, trunkPrefix, lengths) } }
        /// National trunk prefix ("0" in most of Europe, "1" in NANP, "" where there is none).
        public var trunkPrefix: String { didSet { digits = Digits(callingCode, trunkPrefix, lengths) } }
        /// Valid lengths of the national significant number (after the trunk prefix is removed).
        public var lengths: ClosedRange<Int> { didSet { digits = Digits(callingCode, trunkPrefix, lengths) } }
        /// The calling code, trunk prefix and lengths as ``Digits`` for ``plainE164(_:home:)``, kept in step with
        /// them (derived, so equality is unchanged).
        private(set) var digits: Digits?

        init(iso: String, callingCode: String, trunkPrefix: String, lengths: ClosedRange<Int>) {
            self.iso = iso
            self.callingCode = callingCode
            self.trunkPrefix = trunkPrefix
            self.lengths = lengths
            digits = Digits(callingCode, trunkPrefix, lengths)
        }
    }

    /// The supported regions (more than 60 countries).
    public static let regions: [Region] = [
        ("US", "1", "1", 10...10), ("CA", "1", "1", 10...10), ("GB", "44", "0", 9...10), ("DE", "49", "0", 6...13),
        ("FR", "33", "0", 9...9), ("CH", "41", "0", 9...9), ("NL", "31", "0", 9...9), ("JP", "81", "0", 9...10),
        ("AU", "61", "0", 9...9), ("AT", "43", "0", 4...13), ("BE", "32", "0", 8...9), ("IT", "39", "", 6...11),
        ("ES", "34", "", 9...9), ("PT", "351", "", 9...9), ("IE", "353", "0", 7...9), ("DK", "45", "", 8...8),
        ("SE", "46", "0", 7...10), ("NO", "47", "", 8...8), ("FI", "358", "0", 5...12), ("PL", "48", "", 9...9),
        ("CZ", "420", "", 9...9), ("SK", "421", "0", 9...9), ("HU", "36", "06", 8...9), ("RO", "40", "0", 9...9),
        ("GR", "30", "", 10...10), ("TR", "90", "0", 10...10), ("RU", "7", "8", 10...10), ("KZ", "7", "8", 10...10),
        ("UA", "380", "0", 9...9), ("IL", "972", "0", 8...9), ("AE", "971", "0", 8...9), ("SA", "966", "0", 9...9),
        ("IN", "91", "0", 10...10), ("CN", "86", "0", 10...11), ("HK", "852", "", 8...8), ("SG", "65", "", 8...8),
        ("KR", "82", "0", 8...10), ("TW", "886", "0", 8...9), ("NZ", "64", "0", 8...10), ("ZA", "27", "0", 9...9),
        ("BR", "55", "0", 10...11), ("MX", "52", "", 10...10), ("AR", "54", "0", 10...10), ("CL", "56", "", 9...9),
        ("CO", "57", "", 10...10), ("LU", "352", "", 4...11), ("IS", "354", "", 7...7), ("EE", "372", "", 7...8),
        ("LT", "370", "8", 8...8), ("LV", "371", "", 8...8), ("HR", "385", "0", 8...9), ("SI", "386", "0", 8...8),
        ("BG", "359", "0", 8...9), ("PH", "63", "0", 8...10), ("TH", "66", "0", 8...9), ("MY", "60", "0", 9...10),
        ("ID", "62", "0", 9...12), ("EG", "20", "0", 9...10), ("NG", "234", "0", 8...10), ("KE", "254", "0", 9...9),
        ("MA", "212", "0", 9...9), ("LI", "423", "", 7...7), ("MT", "356", "", 8...8), ("CY", "357", "", 8...8),
        ("RS", "381", "0", 8...9), ("VN", "84", "0", 9...10), ("PK", "92", "0", 9...10),
    ].map { Region(iso: $0.0, callingCode: $0.1, trunkPrefix: $0.2, lengths: $0.3) }

    static let byISO: [String: Region] = Dictionary(regions.map { ($0.iso, $0) }, uniquingKeysWith: { a, _ in a })
    static let byCode: [String: Region] = Dictionary(
        regions.map { ($0.callingCode, $0) }, uniquingKeysWith: { a, _ in a })

    /// ``byCode`` as a table indexed by the code's digits, without hashing: the entry for a code of `n` digits with
    /// value `v` is at `v + codeOffset(n)` (1 digit: 0–9, 2 digits: 10–109, 3 digits: 110–1109).
    static let byCodeDigits: [Region?] = {
        var table = [Region?](repeating: nil, count: 1110)
        for (code, region) in byCode { table[Int(code)! + codeOffset(code.utf8.count)] = region }
        return table
    }()

    @inline(__always) static func codeOffset(_ digits: Int) -> Int { digits == 1 ? 0 : digits == 2 ? 10 : 110 }

    /// ``byISO`` as a table indexed by two upper-case ASCII letters (`(first - 65) * 26 + (second - 65)`).
    static let byISOLetters: [Region?] = {
        var table = [Region?](repeating: nil, count: 26 * 26)
        for (iso, region) in byISO {
            let u = Array(iso.utf8)
            table[Int(u[0] - 65) * 26 + Int(u[1] - 65)] = region
        }
        return table
    }()

    /// Normalises `raw` to E.164.
    ///
    /// Accepts `+` or `00` international prefixes (and `011` when the default region is in NANP), the
    /// `+44 (0)20 ...` convention, national numbers with a trunk prefix (`020 7946 0018` in GB), and the
    /// separators space, `-`, `.`, `/`, `(`, `)`. Letters and other characters are rejected.
    /// - Parameter defaultRegion: ISO 3166 region used when the number has no international prefix.
    /// - Throws: ``NormalizationError`` with kind `"phone"` for unknown regions, unknown calling codes,
    ///   stray characters or a national number whose length is invalid for the region.
    public static func e164(_ raw: String, defaultRegion: String) throws(NormalizationError) -> String {
        try e164(raw, defaultRegion: defaultRegion, home: region(iso: defaultRegion))
    }

    /// ``e164(_:defaultRegion:)`` with the default region looked up beforehand: `home` is
    /// `region(iso: defaultRegion)` (nil when it is unknown, which fails the same way). For callers that normalise
    /// many numbers with one default region.
    public static func e164(
        _ raw: String, defaultRegion: String, home: Region?
    ) throws(NormalizationError) -> String {
        if let home, let number = UTF8Bytes.with(raw, { plainE164($0, home: home) }) { return number }
        return try generalE164(raw, defaultRegion: defaultRegion, home: home)
    }

    /// ``e164(_:defaultRegion:home:)`` for any input: the number or the error that says what is wrong with it.
    static func generalE164(
        _ raw: String, defaultRegion: String, home: Region?
    ) throws(NormalizationError) -> String {
        func fail(_ reason: String) -> NormalizationError {
            NormalizationError(kind: "phone", input: raw, reason: reason)
        }
        // The byte closure cannot throw a typed error through its caller: carry it out in a Result.
        let result: Result<String, NormalizationError> = UTF8Bytes.with(raw) { bytes in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(bytes.count, 1)) { digits in
                Result { () throws(NormalizationError) -> String in
                    var count = 0
                    var plus = false
                    var seenDigit = false
                    // "(0)" after an international prefix is a national-trunk hint; drop it.
                    let paren = findParenZero(bytes)
                    for (i, b) in bytes.enumerated() where paren == nil || !paren!.contains(i) {
                        switch b {
                        case UInt8(ascii: "0")...UInt8(ascii: "9"):
                            digits[count] = b
                            count += 1
                            seenDigit = true
                        case UInt8(ascii: "+"):
                            if seenDigit || plus { throw fail("'+' only allowed at the start") }
                            plus = true
                        case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"),
                            UInt8(ascii: "("), UInt8(ascii: ")"), 9, 0xA0:
                            continue
                        case 0xC2: continue  // lead byte of U+00A0 no-break space
                        default: throw fail("unexpected character in phone number")
                        }
                    }
                    if count == 0 { throw fail("no digits") }
                    guard let home else {
                        throw fail("unknown default region '\(defaultRegion)'")
                    }
                    var number = UnsafeBufferPointer(rebasing: digits[0..<count])
                    func hasPrefix(_ p: StaticString) -> Bool {
                        number.count >= p.utf8CodeUnitCount
                            && (0..<p.utf8CodeUnitCount).allSatisfy { number[$0] == p.utf8Start[$0] }
                    }
                    if !plus {
                        if hasPrefix("00") {
                            number = UnsafeBufferPointer(rebasing: number.dropFirst(2))
                            plus = true
                        } else if home.callingCode == "1" && hasPrefix("011") {
                            number = UnsafeBufferPointer(rebasing: number.dropFirst(3))
                            plus = true
                        }
                    }
                    if plus {
                        var code = 0
                        for len in 1...3 where number.count > len {
                            code = code * 10 + Int(number[len - 1] - UInt8(ascii: "0"))
                            if let region = byCodeDigits[code + codeOffset(len)] {
                                return try check(
                                    UnsafeBufferPointer(rebasing: number[len...]), region: region, raw: raw,
                                    international: true)
                            }
                        }
                        throw fail("unknown country calling code")
                    }
                    return try check(number, region: home, raw: raw, international: false)
                }
            }
        }
        return try result.get()
    }

    /// The region for an ISO code in any letter case, nil when it is not supported.
    public static func region(iso: String) -> Region? {
        // Two ASCII letters in any case (every supported code): the letter table; anything else by dictionary.
        let u = iso.utf8
        if u.count == 2 {
            let a = u.first! & 0xDF
            let b = u[u.index(after: u.startIndex)] & 0xDF
            if a >= 65 && a <= 90 && b >= 65 && b <= 90 && (u.first! & 0x80) == 0 && (u.last! & 0x80) == 0 {
                return byISOLetters[Int(a - 65) * 26 + Int(b - 65)]
            }
        }
        if let r = byISO[iso] { return r }
        return byISO[iso.uppercased()]
    }

    static func check(
        _ national: UnsafeBufferPointer<UInt8>, region: Region, raw: String, international: Bool
    ) throws(NormalizationError) -> String {
        var n = national
        let trunk = region.trunkPrefix.utf8
        if !trunk.isEmpty, n.starts(with: trunk) {
            let stripped = UnsafeBufferPointer(rebasing: n.dropFirst(trunk.count))
            // Nationally dialled numbers always drop the trunk prefix; international ones only when it makes the
            // length valid (people write "+44 020 ..." by mistake).
            if !international || (!region.lengths.contains(n.count) && region.lengths.contains(stripped.count)) {
                n = stripped
            }
        } else if region.callingCode == "1", !international, n.count == 11, n.first == UInt8(ascii: "1") {
            n = UnsafeBufferPointer(rebasing: n.dropFirst())
        }
        guard region.lengths.contains(n.count) else {
            let want =
                region.lengths.count == 1
                ? "\(region.lengths.lowerBound)" : "\(region.lengths.lowerBound)–\(region.lengths.upperBound)"
            throw NormalizationError(
                kind: "phone", input: raw,
                reason: "national number has \(n.count) digits; \(region.iso) (+\(region.callingCode)) needs \(want)")
        }
        if n.first == UInt8(ascii: "0") && region.trunkPrefix == "0" {
            throw NormalizationError(
                kind: "phone", input: raw, reason: "national number must not start with 0 after +\(region.callingCode)")
        }
        return UTF8Bytes.with(region.callingCode) { c in
            String(unsafeUninitializedCapacity: 1 + c.count + n.count) { out in
                out[0] = UInt8(ascii: "+")
                for k in 0..<c.count { out[1 + k] = c[k] }
                for k in 0..<n.count { out[1 + c.count + k] = n[k] }
                return 1 + c.count + n.count
            }
        }
    }

    /// A region's calling code and trunk prefix as digits in 4-bit groups (digit `k` at bits `4k`), for
    /// ``plainE164(_:home:)``.
    struct Digits: Equatable {
        var code: UInt64
        var codeCount: Int
        var trunk: UInt64
        var trunkCount: Int
        var lengths: ClosedRange<Int>

        /// Nil when the calling code or trunk prefix is not a string of at most four ASCII digits.
        init?(_ callingCode: String, _ trunkPrefix: String, _ lengths: ClosedRange<Int>) {
            guard let c = Digits.nibbles(callingCode), let t = Digits.nibbles(trunkPrefix) else { return nil }
            (code, codeCount, trunk, trunkCount, self.lengths) = (c.value, c.count, t.value, t.count, lengths)
        }

        static func nibbles(_ s: String) -> (value: UInt64, count: Int)? {
            var value: UInt64 = 0
            var count = 0
            for c in s.utf8 {
                let d = c &- 48
                guard d < 10, count < 4 else { return nil }
                value |= UInt64(d) &<< (4 &* count)
                count &+= 1
            }
            return (value, count)
        }

        /// Calling code "1" (NANP).
        var isNANP: Bool { codeCount == 1 && code == 1 }
    }

    /// ``byCodeDigits`` as ``Digits``.
    static let byCodeDigitFacts: [Digits?] = byCodeDigits.map { $0.map { $0.digits! } }  // all codes are digits

    /// ``e164(_:defaultRegion:home:)`` of the UTF-8 text `utf8` for a known `home` region when it is a plain number
    /// (see ``plainE164(_:home:)``); nil when only ``e164(_:defaultRegion:home:)`` decides (its result or error). For
    /// callers that hold the bytes and not the string.
    public static func plainE164(utf8: UnsafeBufferPointer<UInt8>, home: Region) -> String? {
        plainE164(utf8, home: home)
    }

    /// The common case of ``e164(_:defaultRegion:home:)`` in two passes over the bytes, without intermediate
    /// strings: ASCII digits and the separators space, tab, `-`, `.`, `/` (no parentheses), an optional leading
    /// `+`. Nil for anything else and for every number the general path rejects; a number it returns is exactly
    /// the general path's result.
    static func plainE164(_ b: UnsafeBufferPointer<UInt8>, home: Region) -> String? {
        // Pass 1: check the bytes, count the digits and keep the first 16 (prefixes, calling code, trunk prefix).
        var plus = false
        var count = 0
        var head: UInt64 = 0
        for c in b {
            let d = c &- 48
            if d < 10 {
                if count < 16 { head |= UInt64(d) &<< (4 &* count) }
                count &+= 1
            } else if c == UInt8(ascii: "+") {
                if count > 0 || plus { return nil }
                plus = true
            } else if !(c == 0x20 || c == 0x2D || c == 0x2E || c == 0x2F || c == 0x09) {
                return nil
            }
        }
        guard count > 0, let homeDigits = home.digits else { return nil }
        @inline(__always) func digit(_ j: Int) -> UInt64 { j < 16 ? head &>> (4 &* j) & 0xF : 0xF }
        // International prefixes: "00", and "011" from NANP.
        var skip = 0
        if !plus {
            if count >= 2 && digit(0) == 0 && digit(1) == 0 {
                skip = 2
                plus = true
            } else if homeDigits.isNANP && count >= 3 && digit(0) == 0 && digit(1) == 1 && digit(2) == 1 {
                skip = 3
                plus = true
            }
        }
        var region = homeDigits
        if plus {
            var code = 0
            var found: Digits? = nil
            for len in 1...3 where count - skip > len {
                code = code * 10 + Int(digit(skip + len - 1))
                if let r = byCodeDigitFacts[code + codeOffset(len)] {
                    found = r
                    skip += len
                    break
                }
            }
            guard let found else { return nil }
            region = found
        }
        // The national number: without the trunk prefix (see ``check(_:region:raw:international:)``).
        var national = count - skip
        var trunkMatches = region.trunkCount > 0 && national >= region.trunkCount
        if trunkMatches {
            for k in 0..<region.trunkCount where digit(skip + k) != region.trunk &>> (4 &* k) & 0xF {
                trunkMatches = false
            }
        }
        if trunkMatches {
            let stripped = national - region.trunkCount
            if !plus || (!region.lengths.contains(national) && region.lengths.contains(stripped)) {
                skip += region.trunkCount
                national = stripped
            }
        } else if region.isNANP && !plus && national == 11 && digit(skip) == 1 {
            skip += 1
            national -= 1
        }
        guard region.lengths.contains(national), national > 0 else { return nil }
        if digit(skip) == 0 && region.trunkCount == 1 && region.trunk == 0 { return nil }
        // Pass 2: "+", the calling code, the digits from `skip` on.
        let codeDigits = region.code
        let codeCount = region.codeCount
        let first = skip
        return String(unsafeUninitializedCapacity: 1 + codeCount + national) { out in
            out[0] = UInt8(ascii: "+")
            for k in 0..<codeCount { out[1 + k] = UInt8(truncatingIfNeeded: codeDigits &>> (4 &* k) & 0xF) + 48 }
            var n = 1 + codeCount
            var j = 0
            for c in b where c &- 48 < 10 {
                if j >= first {
                    out[n] = c
                    n += 1
                }
                j += 1
            }
            return n
        }
    }

    static func findParenZero(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        guard b.count >= 3 else { return nil }
        for i in 0...(b.count - 3)
        where b[i] == UInt8(ascii: "(") && b[i + 1] == UInt8(ascii: "0") && b[i + 2] == UInt8(ascii: ")") {
            return i..<(i + 3)
        }
        return nil
    }
}
