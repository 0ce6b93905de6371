// CRMMasterData — normalising many records at once: `MatchFeatures` with the keys of repeated raw values
// remembered (bulk runs).

import CRMNormalize

/// Builds the same `MatchFeatures` as `MatchFeatures.init(_:)`, remembering the keys of raw values it has already
/// normalised: names, streets, cities, postcodes, countries and birth dates repeat across a file, and a dictionary
/// lookup is far cheaper than Unicode folding. E-mail addresses and phone numbers, nearly all distinct, are
/// normalised every time. One normaliser per worker (not shared between threads).
struct FeatureNormalizer {
    private var given: [String: (key: String?, token: String?)] = [:]
    private var family: [String: String?] = [:]
    private var street: [String: (key: String?, numbers: String)] = [:]
    private var city: [String: String?] = [:]
    private var country: [String: String?] = [:]
    private var postcode: [PostcodeInput: String?] = [:]
    private var dob: [String: DateOfBirth?] = [:]

    private struct PostcodeInput: Hashable {
        var raw: String
        var country: String?
    }

    /// Called before each chunk of a file (bulk runs keep one normalizer per worker for a whole file): forgets
    /// the street lines and postcodes (nearly all distinct, their memory would only grow) and any other kind of
    /// value once it holds more than `limit` of them, which bounds its memory.
    mutating func bound(limit: Int = 65_536) {
        street = [:]
        postcode = [:]
        if given.count > limit { given = [:] }
        if family.count > limit { family = [:] }
        if city.count > limit { city = [:] }
        if country.count > limit { country = [:] }
        if dob.count > limit { dob = [:] }
    }

    /// The features of `r`, equal to `MatchFeatures(r)`.
    mutating func features(_ r: CustomerRecord) -> MatchFeatures {
        var f = MatchFeatures()
        if let raw = r.givenName {
            let g = given[raw] ?? Self.given(raw)
            given[raw] = g
            f.given = g.key
            f.givenToken = g.token
        }
        if let raw = r.familyName {
            let k = family[raw] ?? NameMatching.familyKey(raw)
            family[raw] = k
            f.family = k
        }
        f.email = r.email.flatMap(EmailMatching.key)
        f.emailLocal = f.email.flatMap { e in e.firstIndex(of: "@").map { String(e[..<$0]) } }
        f.phone = r.phone.flatMap { PhoneKey.key($0, defaultRegion: r.country) }
        if let raw = r.street {
            let s = street[raw] ?? Self.street(raw)
            street[raw] = s
            (f.street, f.streetNumbers) = s
        }
        if let raw = r.street2 {
            let s = street[raw] ?? Self.street(raw)
            street[raw] = s
            (f.street, f.streetNumbers) = MatchFeatures.street(line1: f.street, line2: s.key)
        }
        if let raw = r.city {
            let c = city[raw] ?? PostalAddress(street: nil, city: raw, postcode: nil, country: nil).city
            city[raw] = c
            f.city = c
        }
        if let raw = r.postcode {
            var normalisedCountry: String? = nil
            if let rawCountry = r.country {
                let c =
                    country[rawCountry]
                    ?? PostalAddress(street: nil, city: nil, postcode: nil, country: rawCountry).country
                country[rawCountry] = c
                normalisedCountry = c
            }
            let input = PostcodeInput(raw: raw, country: normalisedCountry)
            let p = postcode[input] ?? PostalAddress.postcode(raw, country: normalisedCountry)
            postcode[input] = p
            f.postcode = p
        }
        if let raw = r.dateOfBirth {
            let d = dob[raw] ?? DateOfBirth.parse(raw)?.date
            dob[raw] = d
            f.dob = d
        }
        return f
    }

    private static func given(_ raw: String) -> (key: String?, token: String?) {
        let key = NameMatching.givenKey(raw)
        return (key, key == nil ? nil : NameMatching.tokens(raw).first)
    }

    private static func street(_ raw: String) -> (key: String?, numbers: String) {
        let key = PostalAddress.streetKey(raw)
        return (key, MatchFeatures.streetNumbers(key))
    }
}
