// CRMNormalize — matching-oriented postal address keys (case, street-type abbreviations, postcodes per country).

/// A postal address reduced to matching keys.
public struct PostalAddress: Sendable, Hashable, Codable {
    /// Street line key: folded, house number kept, street types abbreviated ("Main Street" → "main st").
    public var street: String?
    /// City key: folded.
    public var city: String?
    /// Postcode in the country's canonical format ("sw1a1aa" → "SW1A 1AA"; "1234ab" → "1234 AB").
    public var postcode: String?
    /// ISO 3166-1 alpha-2 country code, upper case.
    public var country: String?

    /// Normalises the raw parts; unknown or empty parts become `nil`.
    public init(street: String?, city: String?, postcode: String?, country: String?) {
        let c = country.map { matchingTrim($0).uppercased() }.flatMap { PostalAddress.countryAliases[$0] ?? $0 }
        self.country = (c?.count == 2) ? c : nil
        self.street = street.flatMap(PostalAddress.streetKey)
        self.city = city.map(NameMatching.fold).flatMap { $0.isEmpty ? nil : $0 }
        self.postcode = postcode.flatMap { PostalAddress.postcode($0, country: self.country) }
    }

    /// The street key: folded, tokens mapped through the abbreviation table (street → st, strasse → str, …).
    public static func streetKey(_ raw: String) -> String? {
        if let key = asciiStreetKey(raw) { return key }
        return generalStreetKey(raw)
    }

    /// `streetKey(raw)` for any text.
    static func generalStreetKey(_ raw: String) -> String? {
        let tokens = NameMatching.fold(raw).split(separator: " ").map { t -> String in
            let s = String(t)
            if let a = abbreviations[s] { return a }
            // German compounds: "hauptstrasse" → "hauptstr".
            if s.hasSuffix("strasse"), s.count > 7 { return String(s.dropLast(4)) }
            return s
        }
        return tokens.isEmpty ? nil : tokens.joined(separator: " ")
    }

    /// `streetKey(raw)` on the bytes of an ASCII street line (no `String` per token, no dictionary lookup):
    /// `nil` when `raw` is not ASCII. Folds as `NameMatching.fold` does for ASCII (lower case; letters and
    /// digits kept; every run of other bytes one space), then maps the tokens as `streetKey`.
    static func asciiStreetKey(_ raw: String) -> String?? {
        var raw = raw
        return raw.withUTF8 { u -> String?? in
            for b in u where b >= 0x80 { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(u.count + 1)
            var i = 0
            let n = u.count
            while i < n {
                // Skip to the next letter or digit.
                @inline(__always) func alnum(_ b: UInt8) -> UInt8? {
                    let c = (b >= 65 && b <= 90) ? b + 32 : b
                    return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) ? c : nil
                }
                guard alnum(u[i]) != nil else {
                    i += 1
                    continue
                }
                if !out.isEmpty { out.append(32) }
                let start = out.count
                while i < n, let c = alnum(u[i]) {
                    out.append(c)
                    i += 1
                }
                let length = out.count - start
                var abbreviated = false
                if length < abbreviationsByLength.count {
                    for (key, value) in abbreviationsByLength[length] where out[start...].elementsEqual(key) {
                        out.removeSubrange(start...)
                        out.append(contentsOf: value)
                        abbreviated = true
                        break
                    }
                }
                // German compounds: "hauptstrasse" → "hauptstr".
                if !abbreviated, length > 7, out[(out.count - 7)...].elementsEqual(strasse) { out.removeLast(4) }
            }
            return .some(out.isEmpty ? nil : String(decoding: out, as: UTF8.self))
        }
    }

    /// `abbreviations` as bytes, by the length of the word.
    static let abbreviationsByLength: [[(key: [UInt8], value: [UInt8])]] = {
        var table = [[(key: [UInt8], value: [UInt8])]](repeating: [], count: 16)
        for (k, v) in abbreviations where k.utf8.count < 16 {
            table[k.utf8.count].append((Array(k.utf8), Array(v.utf8)))
        }
        return table
    }()
    static let strasse = Array("strasse".utf8)

    /// The canonical postcode for a country, or `nil` when it does not have the country's shape.
    /// Countries without a rule keep the upper-cased alphanumerics.
    public static func postcode(_ raw: String, country: String?) -> String? {
        let compact = compactPostcode(raw)
        guard !compact.isEmpty, compact.allSatisfy(\.isASCII) else { return nil }
        let digits = compact.allSatisfy(\.isNumber)
        switch country {
        case "GB":
            guard (5...7).contains(compact.count), compact.last!.isLetter else { return nil }
            return compact.dropLast(3) + " " + compact.suffix(3)
        case "US":
            guard digits, compact.count == 5 || compact.count == 9 else { return nil }
            return String(compact.prefix(5))
        case "DE", "FR", "ES", "IT":
            return digits && compact.count == 5 ? compact : nil
        case "NL":
            guard compact.count == 6, compact.prefix(4).allSatisfy(\.isNumber), compact.suffix(2).allSatisfy(\.isLetter)
            else { return nil }
            return compact.prefix(4) + " " + compact.suffix(2)
        case "CA":
            guard compact.count == 6 else { return nil }
            return compact.prefix(3) + " " + compact.suffix(3)
        case "AT", "CH", "BE", "DK", "NO", "AU":
            return digits && compact.count == 4 ? compact : nil
        default:
            return compact
        }
    }

    /// The letters and digits of `raw`, upper-cased: on the bytes for ASCII text (what nearly every postcode is),
    /// through `Character` properties otherwise (`generalCompactPostcode`), with the same result.
    static func compactPostcode(_ raw: String) -> String {
        var raw = raw
        let ascii = raw.withUTF8 { u -> String? in
            for b in u where b >= 0x80 { return nil }
            return String(unsafeUninitializedCapacity: u.count) { out in
                var n = 0
                for b in u {
                    switch b {
                    case 0x30...0x39, 0x41...0x5A: out[n] = b
                    case 0x61...0x7A: out[n] = b - 0x20
                    default: continue
                    }
                    n += 1
                }
                return n
            }
        }
        return ascii ?? generalCompactPostcode(raw)
    }

    /// `compactPostcode(raw)` for any text.
    static func generalCompactPostcode(_ raw: String) -> String {
        String(raw.uppercased().filter { $0.isLetter || $0.isNumber })
    }

    static let countryAliases: [String: String] = [
        "UK": "GB", "UNITED KINGDOM": "GB", "GERMANY": "DE", "DEUTSCHLAND": "DE", "FRANCE": "FR", "SPAIN": "ES",
        "ESPAÑA": "ES", "ITALY": "IT", "ITALIA": "IT", "USA": "US", "UNITED STATES": "US", "NETHERLANDS": "NL",
    ]

    /// Street-type and direction words → abbreviation (English, German, French, Spanish, Italian, Dutch).
    public static let abbreviations: [String: String] = [
        "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "boulevard": "blvd",
        "drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "square": "sq", "terrace": "ter",
        "highway": "hwy", "parkway": "pkwy", "crescent": "cres", "close": "cl", "north": "n", "south": "s",
        "east": "e", "west": "w", "apartment": "apt", "suite": "ste", "strasse": "st", "platz": "pl",
        "weg": "wg", "rue": "r", "avenida": "avda", "calle": "c", "via": "v", "piazza": "pza", "straat": "st",
        "laan": "ln",
    ]
}
