// CRMMasterData — compact storage of the graph's match features: interned values, per-record ids, value counts.
//
// Every normalised value (name key, e-mail key, phone key, street, city, postcode, birth date) is stored once in a
// pool and referred to by a 32-bit id; a record's features are then 44 bytes of ids (`CompactFeatures`). Equal
// values have equal ids (text pools are keyed by UTF-8 bytes: the keys are folded by CRMNormalize, so equal keys
// are equal bytes), so exact agreement is an integer comparison and the term-frequency tables are arrays indexed
// by id. Text lives in byte arenas (`TextPool`), not in `String` objects.

import CRMNormalize

/// Interned values of one kind: value ↔ dense 32-bit id. Id 0 is reserved (a missing value, or for pools of
/// non-optional values the empty value).
struct ValuePool<Value: Hashable>: Sendable where Value: Sendable {
    private(set) var ids: [Value: UInt32] = [:]
    private(set) var values: [Value]

    /// A pool whose id 0 stands for `placeholder`; when `placeholderIsValue`, interning `placeholder` yields 0.
    init(placeholder: Value, placeholderIsValue: Bool = false) {
        values = [placeholder]
        if placeholderIsValue { ids[placeholder] = 0 }
    }

    /// The id of `value`, adding it if new.
    mutating func intern(_ value: Value) -> UInt32 {
        if let id = ids[value] { return id }
        let id = UInt32(values.count)
        values.append(value)
        ids[value] = id
        return id
    }

    /// The id of `value` if the pool holds it.
    func id(_ value: Value) -> UInt32? { ids[value] }

    @inline(__always) subscript(_ id: UInt32) -> Value { values[Int(id)] }

    var count: Int { values.count }
}

/// One record's match features as pool ids (0 = missing). See `MatchFeatures` for the meaning of each field.
struct CompactFeatures: Sendable, Hashable {
    /// Given-name key, given token as written and family key: ids in the shared name pool.
    var given: UInt32 = 0
    var givenToken: UInt32 = 0
    var family: UInt32 = 0
    var email: UInt32 = 0
    var emailLocal: UInt32 = 0
    var phone: UInt32 = 0
    var street: UInt32 = 0
    /// Always meaningful (0 is the empty digit list).
    var streetNumbers: UInt32 = 0
    var city: UInt32 = 0
    var postcode: UInt32 = 0
    /// Id in the birth-date pool (values are YYYYMMDD).
    var dob: UInt32 = 0
}

/// The pools, the per-id attributes the comparisons need, and value counts for term-frequency adjustment.
struct FeatureStore: Sendable {
    /// Given and family name keys (one pool: names are also compared crosswise).
    var names = TextPool()
    var emails = TextPool()
    var emailLocals = TextPool()
    var phones = TextPool()
    var streets = TextPool()
    var streetNumbers = TextPool(emptyIsValue: true)
    var cities = TextPool()
    var postcodes = TextPool()
    /// Birth dates as YYYYMMDD.
    var dobs = ValuePool<UInt32>(placeholder: 0)
    /// First character and first three characters of name keys (blocking keys).
    var namePrefixes = TextPool()

    /// Per name id: whether the key is an initial (one character).
    private(set) var nameIsInitial: [Bool] = [false]
    /// Per name id: id (in `namePrefixes`) of its first character; 0 for an empty key.
    private(set) var nameFirst: [UInt32] = [0]
    /// Per name id: id (in `namePrefixes`) of its first three characters.
    private(set) var namePrefix3: [UInt32] = [0]
    /// Per e-mail local-part id: at least five bytes long (long enough to be evidence and a blocking key).
    private(set) var localIsLong: [Bool] = [false]
    /// Postcode districts (`MatchModel.postcodeDistrict`), interned: two postcodes share a district exactly when
    /// their ids in `postcodeDistrict` are equal.
    private var districts = TextPool()
    /// Per street-numbers id: the value belongs to a street of two address lines (it holds the line separator).
    private(set) var twoLineNumbers: [Bool] = [false]
    /// Street id of a two-line street → street id of its first line (the street + city blocking key uses the first
    /// line, as for a record of one line). Only records with two lines have an entry.
    private var firstLines: [UInt32: UInt32] = [:]
    /// Per postcode id: the id of its district in `districts` (0 for the placeholder).
    private(set) var postcodeDistrict: [UInt32] = [0]

    /// Interns a record's features (value counts are not changed: see `add`).
    mutating func intern(_ f: MatchFeatures) -> CompactFeatures {
        var c = CompactFeatures()
        c.given = internName(f.given)
        c.givenToken = internName(f.givenToken)
        c.family = internName(f.family)
        if let e = f.email { c.email = emails.intern(e) }
        if let l = f.emailLocal {
            c.emailLocal = emailLocals.intern(l)
            if Int(c.emailLocal) == localIsLong.count { localIsLong.append(l.utf8.count >= 5) }
        }
        if let p = f.phone { c.phone = phones.intern(p) }
        if let s = f.street { c.street = streets.intern(s) }
        c.streetNumbers = streetNumbers.intern(f.streetNumbers)
        if Int(c.streetNumbers) == twoLineNumbers.count {
            twoLineNumbers.append(f.streetNumbers.utf8.contains(MatchFeatures.streetLineSeparator))
        }
        if twoLineNumbers[Int(c.streetNumbers)], let s = f.street, firstLines[c.street] == nil,
            let line = s.utf8.split(separator: MatchFeatures.streetLineSeparator).first
        {
            firstLines[c.street] = streets.intern(String(Substring(line)))
        }
        if let x = f.city { c.city = cities.intern(x) }
        if let p = f.postcode {
            c.postcode = postcodes.intern(p)
            if Int(c.postcode) == postcodeDistrict.count {
                postcodeDistrict.append(districts.intern(String(Substring(MatchModel.postcodeDistrict(p)))))
            }
        }
        if let d = f.dob { c.dob = dobs.intern(UInt32(d.year * 10_000 + d.month * 100 + d.day)) }
        return c
    }

    /// Starts loading the table slots where interning `f` will look up its values that are nearly all distinct
    /// (e-mail, its local part, phone, street): in pools of a million values each lookup is a cache miss, and a
    /// caller about to intern several records requests those of the record after next while interning this one.
    func prefetch(_ f: MatchFeatures) {
        if let e = f.email { emails.prefetch(e) }
        if let l = f.emailLocal { emailLocals.prefetch(l) }
        if let p = f.phone { phones.prefetch(p) }
        if let s = f.street { streets.prefetch(s) }
    }

    /// The id of the first line of a two-line street (`twoLineNumbers`); `street` itself for any other.
    func firstLine(ofStreet street: UInt32) -> UInt32 { firstLines[street] ?? street }

    private mutating func internName(_ s: String?) -> UInt32 {
        guard let s else { return 0 }
        let id = names.intern(s)
        if Int(id) == nameIsInitial.count {
            nameIsInitial.append(NameMatching.isInitial(s))
            nameFirst.append(s.first.map { namePrefixes.intern(String($0)) } ?? 0)
            namePrefix3.append(namePrefixes.intern(String(s.prefix(3))))
        }
        return id
    }

    /// The features as `MatchFeatures` (for training, explanations and the string-keyed public API).
    func materialize(_ c: CompactFeatures) -> MatchFeatures {
        var f = MatchFeatures()
        f.given = c.given == 0 ? nil : names[c.given]
        f.givenToken = c.givenToken == 0 ? nil : names[c.givenToken]
        f.family = c.family == 0 ? nil : names[c.family]
        f.email = c.email == 0 ? nil : emails[c.email]
        f.emailLocal = c.emailLocal == 0 ? nil : emailLocals[c.emailLocal]
        f.phone = c.phone == 0 ? nil : phones[c.phone]
        f.street = c.street == 0 ? nil : streets[c.street]
        f.streetNumbers = streetNumbers[c.streetNumbers]
        f.city = c.city == 0 ? nil : cities[c.city]
        f.postcode = c.postcode == 0 ? nil : postcodes[c.postcode]
        if c.dob != 0 {
            let d = Int(dobs[c.dob])
            f.dob = DateOfBirth(year: d / 10_000, month: d / 100 % 100, day: d % 100)
        }
        return f
    }

    // MARK: Value counts (term frequencies)

    /// Records counted (the denominator of term frequencies).
    private(set) var population = 0
    private var givenCounts: [Int32] = []
    private var familyCounts: [Int32] = []
    private var emailCounts: [Int32] = []
    private var phoneCounts: [Int32] = []
    private var postcodeCounts: [Int32] = []
    private var streetCounts: [Int32] = []
    private var cityCounts: [Int32] = []
    private var dobCounts: [Int32] = []

    /// Counts a record's values.
    mutating func add(_ c: CompactFeatures) { update(c, 1) }
    /// Uncounts a record's values.
    mutating func remove(_ c: CompactFeatures) { update(c, -1) }

    private mutating func update(_ c: CompactFeatures, _ d: Int32) {
        population += Int(d)
        Self.bump(&givenCounts, c.given, d)
        Self.bump(&familyCounts, c.family, d)
        Self.bump(&emailCounts, c.email, d)
        Self.bump(&phoneCounts, c.phone, d)
        Self.bump(&postcodeCounts, c.postcode, d)
        Self.bump(&streetCounts, c.street, d)
        Self.bump(&cityCounts, c.city, d)
        Self.bump(&dobCounts, c.dob, d)
    }

    private static func bump(_ counts: inout [Int32], _ id: UInt32, _ d: Int32) {
        guard id != 0 else { return }
        let i = Int(id)
        if i >= counts.count {
            counts.append(contentsOf: repeatElement(0, count: max(i + 1 - counts.count, counts.count)))
        }
        counts[i] += d
    }

    @inline(__always) private static func read(_ counts: [Int32], _ id: UInt32) -> Int {
        let i = Int(id)
        return i < counts.count ? Int(counts[i]) : 0
    }

    /// How many counted records carry the value `id` in `field`.
    func count(_ field: ComparedField, _ c: CompactFeatures) -> Int {
        switch field {
        case .given: Self.read(givenCounts, c.given)
        case .family: Self.read(familyCounts, c.family)
        case .dob: Self.read(dobCounts, c.dob)
        case .email: Self.read(emailCounts, c.email)
        case .phone: Self.read(phoneCounts, c.phone)
        case .postcode: Self.read(postcodeCounts, c.postcode)
        case .street: Self.read(streetCounts, c.street)
        case .city: Self.read(cityCounts, c.city)
        }
    }
}

extension FeatureStore: ValueFrequencies {
    /// How many counted records carry `value` (a normalised key as in `MatchFeatures`) in `field`.
    func count(_ field: MatchField, _ value: String) -> Int {
        switch field {
        case .given: names.id(value).map { Self.read(givenCounts, $0) } ?? 0
        case .family: names.id(value).map { Self.read(familyCounts, $0) } ?? 0
        case .email: emails.id(value).map { Self.read(emailCounts, $0) } ?? 0
        case .phone: phones.id(value).map { Self.read(phoneCounts, $0) } ?? 0
        case .postcode: postcodes.id(value).map { Self.read(postcodeCounts, $0) } ?? 0
        case .street: streets.id(value).map { Self.read(streetCounts, $0) } ?? 0
        case .city: cities.id(value).map { Self.read(cityCounts, $0) } ?? 0
        case .dob: Self.packedDate(value).flatMap { dobs.id($0) }.map { Self.read(dobCounts, $0) } ?? 0
        }
    }

    /// "YYYY-MM-DD" as YYYYMMDD.
    static func packedDate(_ s: String) -> UInt32? {
        let parts = s.split(separator: "-")
        guard parts.count == 3, let y = UInt32(parts[0]), let m = UInt32(parts[1]), let d = UInt32(parts[2]) else {
            return nil
        }
        return y * 10_000 + m * 100 + d
    }
}
