// CRMMasterData — normalising many records at once: `MatchFeatures` with the keys of repeated raw values
// remembered (bulk runs).

import CRMNormalize

/// Builds the same `MatchFeatures` as `MatchFeatures.init(_:)`, remembering the keys of raw values it has already
/// normalised: names, cities, postcodes, countries and birth dates repeat across a file, and a dictionary
/// lookup is far cheaper than Unicode folding. E-mail addresses, phone numbers and street lines, nearly all
/// distinct (a street line repeats only within one person's or household's records), are normalised every time:
/// remembering street lines cost more than it saved. One normaliser per worker (not shared between threads).
struct FeatureNormalizer {
    private var given: [String: (key: String?, token: String?)] = [:]
    private var family: [String: String?] = [:]
    private var city: [String: String?] = [:]
    private var country: [String: String?] = [:]
    private var postcode: [PostcodeInput: String?] = [:]
    private var dob: [String: DateOfBirth?] = [:]

    private struct PostcodeInput: Hashable {
        var raw: String
        var country: String?
    }

    /// Called before each chunk of a file (bulk runs keep one normalizer per worker for a whole file): forgets
    /// the postcodes (nearly all distinct, their memory would only grow) and any other kind of
    /// value once it holds more than `limit` of them, which bounds its memory.
    mutating func bound(limit: Int = 65_536) {
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
            let g = Self.remembered(&given, raw) { Self.given($0) }
            f.given = g.key
            f.givenToken = g.token
        }
        if let raw = r.familyName {
            let k = Self.remembered(&family, raw) { NameMatching.familyKey($0) }
            f.family = k
        }
        f.email = r.email.flatMap(EmailMatching.key)
        f.emailLocal = f.email.flatMap(MatchFeatures.localPart(ofEmailKey:))
        f.phone = r.phone.flatMap { PhoneKey.key($0, defaultRegion: r.country) }
        if let raw = r.street {
            (f.street, f.streetNumbers) = Self.street(raw)
        }
        if let raw = r.street2 {
            (f.street, f.streetNumbers) = MatchFeatures.street(line1: f.street, line2: Self.street(raw).key)
        }
        if let raw = r.city {
            let c = Self.remembered(&city, raw) {
                PostalAddress(street: nil, city: $0, postcode: nil, country: nil).city
            }
            f.city = c
        }
        if let raw = r.postcode {
            var normalisedCountry: String? = nil
            if let rawCountry = r.country {
                let c = Self.remembered(&country, rawCountry) {
                    PostalAddress(street: nil, city: nil, postcode: nil, country: $0).country
                }
                normalisedCountry = c
            }
            let input = PostcodeInput(raw: raw, country: normalisedCountry)
            let p = Self.remembered(&postcode, input) { PostalAddress.postcode($0.raw, country: $0.country) }
            f.postcode = p
        }
        if let raw = r.dateOfBirth {
            let d = Self.remembered(&dob, raw) { DateOfBirth.parse($0)?.date }
            f.dob = d
        }
        return f
    }

    /// The value `memo` holds for `raw`, computed and stored on the first call (one hash on a hit).
    @inline(__always) private static func remembered<Key: Hashable, Value>(
        _ memo: inout [Key: Value], _ raw: Key, _ compute: (Key) -> Value
    ) -> Value {
        if let known = memo[raw] { return known }
        let value = compute(raw)
        memo[raw] = value
        return value
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
