// CRMMasterData — identity resolution, golden records, their stores and change events.
//
// Layout: CustomerRecord (input) → MatchFeatures (normalised keys) → MatchModel (Fellegi-Sunter scoring with
// guards) → IdentityGraph (blocking, non-chaining clustering, merges/unmerges) → MasterDataResolver (actor:
// graph + MasterDataStore + events). SyntheticCustomers/ResolutionEvaluation measure quality. Per golden customer the
// stores also keep Consent statements and TimelineEntry interactions (CustomerHistoryStore).

import CRMNormalize

/// One customer record as a source system sends it. All attributes are optional raw strings; the engine
/// normalises them itself and never fails on garbage.
public struct CustomerRecord: Sendable, Hashable, Codable {
    /// Source system ("salesforce", "shop", "cti").
    public var system: String
    /// The record's id in that system.
    public var externalId: String
    public var givenName: String?
    public var familyName: String?
    public var email: String?
    public var phone: String?
    /// The first address line (street and house number).
    public var street: String?
    /// The second address line (building, estate, apartment), if the source keeps one. Files often swap the two
    /// lines or leave the first empty, so matching compares each line of one record with each line of the other.
    public var street2: String?
    public var city: String?
    public var postcode: String?
    /// ISO 3166-1 alpha-2 country (also the default region for phone numbers).
    public var country: String?
    /// Date of birth in any format `DateOfBirth.parse` reads.
    public var dateOfBirth: String?
    /// When the source last changed the record (seconds since 1970); drives "most recent" survivorship.
    public var updatedAt: Int64?
    /// Consent flags ("marketing_email": true) as the source holds them.
    public var consent: [String: Bool]?

    public init(
        system: String, externalId: String, givenName: String? = nil, familyName: String? = nil,
        email: String? = nil, phone: String? = nil, street: String? = nil, street2: String? = nil,
        city: String? = nil, postcode: String? = nil, country: String? = nil, dateOfBirth: String? = nil,
        updatedAt: Int64? = nil, consent: [String: Bool]? = nil
    ) {
        self.system = system
        self.externalId = externalId
        self.givenName = givenName
        self.familyName = familyName
        self.email = email
        self.phone = phone
        self.street = street
        self.street2 = street2
        self.city = city
        self.postcode = postcode
        self.country = country
        self.dateOfBirth = dateOfBirth
        self.updatedAt = updatedAt
        self.consent = consent
    }

    /// The cross-reference of this record.
    public var ref: RecordRef { RecordRef(system: system, externalId: externalId) }

    /// The value of a survivorship attribute.
    public func value(of attribute: GoldenAttribute) -> String? {
        let v: String?
        switch attribute {
        case .givenName: v = givenName
        case .familyName: v = familyName
        case .email: v = email
        case .phone: v = phone
        case .street: v = street
        case .street2: v = street2
        case .city: v = city
        case .postcode: v = postcode
        case .country: v = country
        case .dateOfBirth: v = dateOfBirth
        }
        guard let s = v, s.contains(where: { !$0.isWhitespace }) else { return nil }
        return s
    }
}

/// (system, external id): the cross-reference key of a source record.
public struct RecordRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var system: String
    public var externalId: String
    public init(system: String, externalId: String) {
        self.system = system
        self.externalId = externalId
    }
    public var description: String { "\(system)/\(externalId)" }
}

/// A record reduced to the keys the matcher compares. Built once per record.
public struct MatchFeatures: Sendable, Hashable {
    /// The given-name key (nicknames folded onto the canonical name).
    public var given: String?
    /// The given name's first token as written (before nickname folding), for typo comparison.
    public var givenToken: String?
    public var family: String?
    public var email: String?
    /// The local part of the e-mail key (before "@"): the same person at another provider.
    public var emailLocal: String?
    public var phone: String?
    /// The street key of the address line, or of both lines joined by `streetLineSeparator` when the record has
    /// two different ones (compared line by line, crosswise: see `MatchModel.streetLevel`).
    public var street: String?
    /// The digit runs of the street key, space-separated: house numbers must agree exactly (per line, joined like
    /// the lines).
    public var streetNumbers: String
    public var city: String?
    public var postcode: String?
    public var dob: DateOfBirth?

    /// No values (every field missing).
    init() { streetNumbers = "" }

    /// The local part of an e-mail key (before its one "@"), found on the UTF-8 bytes: "@" is ASCII, so the index
    /// is a character boundary, and no `Character` is formed.
    static func localPart(ofEmailKey key: String) -> String? {
        key.utf8.firstIndex(of: UInt8(ascii: "@")).map { String(key[..<$0]) }
    }

    /// Normalises a record; never fails (unreadable parts become `nil`).
    public init(_ r: CustomerRecord) {
        given = r.givenName.flatMap(NameMatching.givenKey)
        givenToken = given == nil ? nil : r.givenName.flatMap { NameMatching.tokens($0).first }
        family = r.familyName.flatMap(NameMatching.familyKey)
        email = r.email.flatMap(EmailMatching.key)
        emailLocal = email.flatMap(Self.localPart(ofEmailKey:))
        phone = r.phone.flatMap { PhoneKey.key($0, defaultRegion: r.country) }
        let address = PostalAddress(street: r.street, city: r.city, postcode: r.postcode, country: r.country)
        (street, streetNumbers) = Self.street(
            line1: address.street, line2: r.street2.flatMap(PostalAddress.streetKey))
        city = address.city
        postcode = address.postcode
        dob = r.dateOfBirth.flatMap { DateOfBirth.parse($0)?.date }
    }
}

extension MatchFeatures {
    /// Joins the two address lines of one record inside its street value. Street keys hold only letters, digits and
    /// spaces, so the separator never occurs in a line.
    static let streetLineSeparator: UInt8 = UInt8(ascii: "|")

    /// The street value and its house numbers from the keys of the two address lines: one line as it is; two
    /// different lines joined by `streetLineSeparator` (their numbers likewise).
    static func street(line1: String?, line2: String?) -> (key: String?, numbers: String) {
        switch (line1, line2) {
        case (let one?, let two?) where one != two:
            let separator = String(UnicodeScalar(streetLineSeparator))
            return (one + separator + two, streetNumbers(one) + separator + streetNumbers(two))
        case (let one?, _), (nil, let one?): return (one, streetNumbers(one))
        case (nil, nil): return (nil, "")
        }
    }

    /// The digit runs of a street key, space-separated.
    static func streetNumbers(_ street: String?) -> String {
        var digits: [UInt8] = []
        for b in (street ?? "").utf8 {
            if b >= 48 && b <= 57 {
                digits.append(b)
            } else if digits.last != 32 && !digits.isEmpty {
                digits.append(32)
            }
        }
        return String(decoding: digits, as: UTF8.self)
    }
}

/// The phone matching key. Until `PhoneNumber.e164` lands in CRMNormalize this is a digit-only key: the last
/// nine national digits, which equal for "+44 7700 900123", "0044 7700900123" and "07700 900123".
/// Numbers with fewer than seven digits or one repeated digit ("0000000") are no key.
enum PhoneKey {
    static func key(_ raw: String, defaultRegion: String?) -> String? {
        let digits = raw.utf8.filter { $0 >= 48 && $0 <= 57 }
        guard digits.count >= 7, digits.count <= 15 else { return nil }
        if let f = digits.first, digits.allSatisfy({ $0 == f }) { return nil }
        let tail = digits.suffix(9)
        if tail.count >= 7, atMostTwoDistinct(tail) { return nil }  // 1212121, 0101010…
        return String(decoding: tail, as: UTF8.self)
    }

    /// Whether `digits` holds at most two distinct values (without a `Set` per phone number).
    static func atMostTwoDistinct(_ digits: ArraySlice<UInt8>) -> Bool {
        var first: UInt8? = nil
        var second: UInt8? = nil
        for d in digits where d != first && d != second {
            if first == nil {
                first = d
            } else if second == nil {
                second = d
            } else {
                return false
            }
        }
        return true
    }
}
