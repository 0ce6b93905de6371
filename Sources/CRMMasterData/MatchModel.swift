// CRMMasterData — pairwise scoring: a Fellegi-Sunter model with comparison levels per field, term-frequency
// adjustment and guards. Its m-probabilities are learned from the records being resolved (see MatchTraining).

import CRMNormalize
import Foundation

/// One piece of evidence in a pairwise comparison: a field, the agreement level seen and its weight in bits.
public struct Evidence: Sendable, Hashable, Codable {
    public var field: String
    public var level: String
    public var weight: Double
    public init(field: String, level: String, weight: Double) {
        self.field = field
        self.level = level
        self.weight = weight
    }
}

/// Why a pair must not merge automatically, however high its score.
public enum MatchGuard: String, Sendable, Hashable, Codable {
    /// Both given names present and clearly different (not nickname, typo, initial or swap) and the birth date
    /// does not confirm the pair together with an e-mail or phone: household members.
    case givenNameConflict
    /// Both dates of birth present and different (not a day/month swap or a one-digit typo) and no e-mail agrees:
    /// parent and child of one name, same-name strangers.
    case dateOfBirthConflict
    /// Only names agree; no e-mail, phone, date of birth, street or postcode: same-name strangers.
    case nameOnly
    /// Kept for stored audit entries of earlier versions; no longer raised (family-name disagreement is a
    /// learned weight: a married name change usually keeps other evidence).
    case familyNameConflict
}

/// Guards as bits, for the hot path (`MatchModel.guardMask`).
enum GuardMask {
    static let givenNameConflict: UInt8 = 1
    static let dateOfBirthConflict: UInt8 = 2
    static let nameOnly: UInt8 = 4
    /// The guards that keep two records apart for good (not merely out of automatic merging).
    static let conflict: UInt8 = givenNameConflict | dateOfBirthConflict
}

/// The result of comparing two records.
public struct PairScore: Sendable, Hashable {
    /// Match weight: log2 of the posterior odds that the two records are one person (prior included). 0 bits is a
    /// match probability of 0.5.
    public var score: Double
    /// Guards that forbid an automatic merge.
    public var guards: [MatchGuard]
    /// Per-field evidence; filled only when asked for.
    public var evidence: [Evidence]
    /// The match probability the score stands for.
    public var probability: Double { 1 / (1 + exp2(-score)) }
}

/// Frequencies of values in the population, for term-frequency-adjusted u-probabilities.
public protocol ValueFrequencies {
    /// How many records carry `value` in `field`.
    func count(_ field: MatchField, _ value: String) -> Int
    /// Population size used as the denominator.
    var population: Int { get }
}

/// Fields whose frequencies the model consults.
public enum MatchField: UInt8, Sendable, Hashable, CaseIterable {
    case given, family, email, phone, postcode, street, city, dob
}

/// The compared fields, in the order of `ComparisonVector` and `MatchModel.Parameters`.
public enum ComparedField: Int, Sendable, Hashable, CaseIterable, Codable {
    case given, family, dob, email, phone, postcode, street, city

    /// Level names; level 0 is "one side missing" (no evidence, weight 0), the last level is "different".
    public var levels: [String] {
        switch self {
        case .given: ["missing", "exact", "fuzzy", "similar", "initial", "different"]
        case .family: ["missing", "exact", "fuzzy", "similar", "different"]
        case .dob: ["missing", "exact", "swap-or-typo", "year-or-month", "different"]
        case .email: ["missing", "exact", "local-part", "different"]
        case .phone: ["missing", "exact", "suffix-or-typo", "different"]
        case .postcode: ["missing", "exact", "district", "different"]
        case .street: ["missing", "exact", "fuzzy", "different"]
        case .city: ["missing", "exact", "fuzzy", "different"]
        }
    }
    var name: String { String(describing: self) }
    /// The frequency table used for term-frequency adjustment of the exact level.
    var frequencyField: MatchField {
        switch self {
        case .given: .given
        case .family: .family
        case .dob: .dob
        case .email: .email
        case .phone: .phone
        case .postcode: .postcode
        case .street: .street
        case .city: .city
        }
    }
}

/// The agreement level of every compared field for one pair (0 = missing).
public struct ComparisonVector: Sendable, Hashable {
    public var levels: SIMD8<UInt8> = .zero
    /// Whether given and family names were compared crosswise (first/last swapped).
    public var swapped = false
    public subscript(_ f: ComparedField) -> Int {
        get { Int(levels[f.rawValue]) }
        set { levels[f.rawValue] = UInt8(newValue) }
    }

    /// A total order key: the eight levels, 7 bits each (levels are below 8), then `swapped`; distinct vectors
    /// have distinct keys.
    var sortKey: UInt64 {
        var k: UInt64 = 0
        for f in 0..<8 { k = k << 7 | UInt64(levels[f] & 0x7F) }
        return k << 1 | (swapped ? 1 : 0)
    }
}

/// The Fellegi-Sunter model.
///
/// For each field and agreement level the model has an m-probability (P(level | same person)) and a u-probability
/// (P(level | two random records)); a level contributes log2(m/u) bits, a missing value 0. The score adds the
/// prior log-odds log2(λ/(1-λ)), λ being the probability that two random records are one person, so a score
/// of 0 bits is a match probability of 0.5.
///
/// - u comes from random record pairs of the data (`MatchTraining`); for the exact level it is the value's own
///   relative frequency (term-frequency adjustment): "smith" held by 1% of records gives log2(m/0.01), a name
///   held by 1 in 100 000 gives far more. The denominator is at least `minimumPopulation` so the first records of
///   an empty store are not over-trusted.
/// - m and λ are estimated by expectation-maximisation on candidate pairs of the data (`MatchTraining`).
/// - Until trained, the model uses the documented priors in `Parameters.prior` (stated CRM data-quality
///   assumptions), so a fresh store resolves sensibly before it has data to learn from.
public struct MatchModel: Sendable {
    /// The learned or prior probabilities.
    public struct Parameters: Sendable, Hashable, Codable {
        /// m[field][level] (index 0, "missing", unused).
        public var m: [[Double]]
        /// u[field][level] (index 0 unused; the exact level is replaced by the value's frequency when known).
        public var u: [[Double]]
        /// Prior log2-odds that two random records are one person.
        public var priorBits: Double
        /// Log2-odds that two records with the same family name and street are one person, before their given
        /// names and birth dates are compared: learned from the data (`MatchTraining`), `nil` until trained. Where
        /// households share addresses this is low (0.6 bits on the built-in generator: a third of such pairs are
        /// two people); in a file without households it is high (9 bits on FEBRL3), and a replaced given
        /// name or birth date is then more likely an error than a second person (`MatchModel.guardMask`).
        public var sameAddressBits: Double?

        /// The priors: assumptions about CRM data before any training.
        /// m: 85% of a person's records carry the same given name key, 5% a typo, 3% an initial; family names 88%
        /// exact (marriage, typos); birth dates 93% exact, 4% day/month swap or typo; e-mail 60% the same mailbox
        /// (people use several addresses); phone 60%; postcode 75% (moves); street 70%; city 80%.
        /// u: chance agreement of two random records at each level. Prior odds 2^-20: about one duplicate per
        /// record in a population of a million.
        public static let prior = Parameters(
            m: [
                [0, 0.85, 0.05, 0.02, 0.03, 0.05],
                [0, 0.88, 0.05, 0.02, 0.05],
                [0, 0.93, 0.04, 0.01, 0.02],
                [0, 0.6, 0.1, 0.3],
                [0, 0.6, 0.05, 0.35],
                [0, 0.75, 0.05, 0.2],
                [0, 0.7, 0.1, 0.2],
                [0, 0.8, 0.02, 0.18],
            ],
            u: [
                [0, 0.01, 0.002, 0.02, 0.03, 0.938],
                [0, 0.005, 0.001, 0.01, 0.984],
                [0, 0.00004, 0.0003, 0.01, 0.98966],
                [0, 0.000001, 0.0005, 0.999499],
                [0, 0.000001, 0.00001, 0.999989],
                [0, 0.0001, 0.01, 0.9899],
                [0, 0.00001, 0.0001, 0.99989],
                [0, 0.02, 0.001, 0.979],
            ],
            priorBits: -20)
    }

    /// The probabilities in use.
    public var parameters: Parameters { didSet { levelBits = Self.levelBits(parameters) } }
    /// log2(m/u) of every field and level (`field * 8 + level`) from `parameters`, for the graph's hot path; the
    /// exact level's entry uses the average u (swapped names), term frequencies are applied per pair.
    private(set) var levelBits: [Double]
    /// Denominator floor for term frequencies.
    public var minimumPopulation: Int = 10_000
    /// Jaro-Winkler level for "fuzzy" (typo) agreement on names; "similar" is 0.8.
    public var fuzzyThreshold: Double = 0.92

    /// A model with the prior parameters.
    public init() {
        parameters = .prior
        levelBits = Self.levelBits(.prior)
    }
    /// A model with given (usually trained) parameters.
    public init(parameters: Parameters) {
        self.parameters = parameters
        levelBits = Self.levelBits(parameters)
    }

    private static func levelBits(_ p: Parameters) -> [Double] {
        var t = [Double](repeating: 0, count: 64)
        for f in 0..<min(8, p.m.count) {
            for l in 1..<max(1, min(8, p.m[f].count, p.u[f].count)) { t[f * 8 + l] = bits(p.m[f][l], p.u[f][l]) }
        }
        return t
    }

    /// Whether the model carries parameters learned from data.
    public var isTrained: Bool { parameters != .prior }

    // MARK: Comparison levels

    /// The agreement level of every field.
    public func compare(_ a: MatchFeatures, _ b: MatchFeatures) -> ComparisonVector {
        var v = ComparisonVector()
        // Names, with first/last swap detection: compare crosswise when that agrees better.
        if let ga = a.given, let gb = b.given {
            v[.given] = givenLevel(ga, gb)
            // A typo can land on a nickname ("Han" → … vs "Hans" → johannes): compare as written too.
            if v[.given] >= 3, let ta = a.givenToken, let tb = b.givenToken, ta != ga || tb != gb {
                v[.given] = min(v[.given], givenLevel(ta, tb))
            }
        }
        if let fa = a.family, let fb = b.family {
            v[.family] = familyLevel(fa, fb)
        }
        if v[.given] >= 3 || v[.family] >= 3, let ga = a.given, let fa = a.family, let gb = b.given, let fb = b.family {
            // Crosswise: a's given name against b's family name and the other way round (an initial may stand
            // for the given name on either side).
            let g = NameMatching.isInitial(ga) || NameMatching.isInitial(fb) ? givenLevel(ga, fb) : familyLevel(ga, fb)
            let f = NameMatching.isInitial(gb) || NameMatching.isInitial(fa) ? givenLevel(gb, fa) : familyLevel(fa, gb)
            let crossOK = (g <= 2 || g == 4) && (f <= 2 || f == 4) && !(g == 4 && f == 4)
            if crossOK && g + f < v[.given] + v[.family] {
                v[.given] = g
                v[.family] = f
                v.swapped = true
            }
        }
        if let x = a.dob, let y = b.dob { v[.dob] = Self.dobLevel(x, y) }
        if let x = a.email, let y = b.email {
            v[.email] = x == y ? 1 : (a.emailLocal == b.emailLocal && (a.emailLocal?.utf8.count ?? 0) >= 5 ? 2 : 3)
        }
        if let x = a.phone, let y = b.phone { v[.phone] = Self.phoneLevel(x, y) }
        if let x = a.postcode, let y = b.postcode {
            v[.postcode] = x == y ? 1 : (Self.postcodeDistrict(x).elementsEqual(Self.postcodeDistrict(y)) ? 2 : 3)
        }
        if let x = a.street, let y = b.street {
            let separator = MatchFeatures.streetLineSeparator
            if x == y {
                v[.street] = 1
            } else if a.streetNumbers.utf8.contains(separator) || b.streetNumbers.utf8.contains(separator) {
                var (x, y) = (x, y)
                v[.street] = x.withUTF8 { p in y.withUTF8 { q in Self.streetLevel(lines: p, q) } } as Int
            } else {
                v[.street] =
                    a.streetNumbers == b.streetNumbers && Similarity.jaroWinkler(x, y, atLeast: 0.85) >= 0.85 ? 2 : 3
            }
        }
        if let x = a.city, let y = b.city {
            v[.city] = x == y ? 1 : (Similarity.jaroWinkler(x, y, atLeast: 0.9) >= 0.9 ? 2 : 3)
        }
        return v
    }

    func givenLevel(_ x: String, _ y: String) -> Int {
        if x == y { return 1 }
        if NameMatching.isInitial(x) || NameMatching.isInitial(y) { return x.first == y.first ? 4 : 5 }
        let jw = Similarity.jaroWinkler(x, y, atLeast: min(fuzzyThreshold, 0.8))
        return jw >= fuzzyThreshold ? 2 : jw >= 0.8 ? 3 : 5
    }

    func familyLevel(_ x: String, _ y: String) -> Int {
        if x == y { return 1 }
        var a = x
        var b = y
        return a.withUTF8 { p in b.withUTF8 { q in familyLevel(p, q) } }
    }

    /// `familyLevel` on UTF-8 bytes.
    func familyLevel(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
        let jw = Similarity.jaroWinkler(x, y, atLeast: min(fuzzyThreshold, 0.8))
        if jw >= 1 { return 1 }
        if jw >= fuzzyThreshold { return 2 }
        // Double-barrelled or particles: one name contained in the other.
        if jw >= 0.8 || Self.oneContainsTheOther(x, y) { return 3 }
        return 4
    }

    /// Whether the shorter of two keys (at least 4 bytes) occurs inside the longer one (byte comparison).
    static func oneContainsTheOther(_ x: String, _ y: String) -> Bool {
        var a = x
        var b = y
        return a.withUTF8 { p in b.withUTF8 { q in oneContainsTheOther(p, q) } }
    }

    /// `oneContainsTheOther` on UTF-8 bytes.
    static func oneContainsTheOther(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        let (long, short) = x.count < y.count ? (y, x) : (x, y)
        let n = long.count
        let m = short.count
        guard m >= 4 else { return false }
        var i = 0
        while i + m <= n {
            if long[i] == short[0] {
                var k = 1
                while k < m && long[i + k] == short[k] { k += 1 }
                if k == m { return true }
            }
            i += 1
        }
        return false
    }

    static func dobLevel(_ x: DateOfBirth, _ y: DateOfBirth) -> Int {
        dobLevel(x.year * 10_000 + x.month * 100 + x.day, y.year * 10_000 + y.month * 100 + y.day)
    }

    /// `dobLevel` on dates packed as YYYYMMDD.
    static func dobLevel(_ x: Int, _ y: Int) -> Int {
        if x == y { return 1 }
        let (xy, xm, xd) = (x / 10_000, x / 100 % 100, x % 100)
        let (yy, ym, yd) = (y / 10_000, y / 100 % 100, y % 100)
        // Day and month swapped.
        if xy == yy && xd == ym && xm == yd && xd != xm { return 2 }
        // One mistyped digit in YYYYMMDD, or two adjacent digits transposed. Digits are read right to left:
        // `right` is the rightmost differing position, `left` the leftmost (positions count from the left).
        var a = x
        var b = y
        var count = 0
        var left = -1
        var right = -1
        var (leftA, leftB, rightA, rightB) = (0, 0, 0, 0)
        for k in 0..<8 {
            let da = a % 10
            let db = b % 10
            a /= 10
            b /= 10
            guard da != db else { continue }
            count += 1
            if right < 0 {
                right = 7 - k
                (rightA, rightB) = (da, db)
            }
            left = 7 - k
            (leftA, leftB) = (da, db)
        }
        if count == 1 { return 2 }
        if count == 2, right == left + 1, leftA == rightB, rightA == leftB { return 2 }
        if xy == yy || (xm == ym && xd == yd && abs(xy - yy) <= 10) { return 3 }
        return 4
    }

    static func phoneLevel(_ x: String, _ y: String) -> Int {
        if x == y { return 1 }
        var x = x
        var y = y
        return x.withUTF8 { a in y.withUTF8 { b in phoneLevel(a, b) } }
    }

    /// `phoneLevel` on the UTF-8 bytes of two different keys (never 1).
    static func phoneLevel(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        if a.count >= 7, b.count >= 7 {
            var same = true
            for k in 1...7 where a[a.count - k] != b[b.count - k] {
                same = false
                break
            }
            if same { return 2 }
        }
        if a.count == b.count {
            var d = 0
            for i in 0..<a.count where a[i] != b[i] { d += 1 }
            if d == 1 { return 2 }
        }
        return 3
    }

    /// The district part of a postcode: the outward code of a spaced postcode ("SW1A 1AA" → "SW1A"), otherwise
    /// all but the last two characters ("75011" → "750").
    static func postcodeDistrict(_ p: String) -> Substring.UTF8View {
        let u = p.utf8
        if let space = u.firstIndex(of: 32) { return u[..<space] }
        return u.dropLast(2)
    }

    /// Whether two postcodes (UTF-8 bytes) have the same district (`postcodeDistrict`).
    static func sameDistrict(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        func district(_ u: UnsafeBufferPointer<UInt8>) -> Slice<UnsafeBufferPointer<UInt8>> {
            if let space = u.firstIndex(of: 32) { return u[..<space] }
            return u.dropLast(2)
        }
        return district(a).elementsEqual(district(b))
    }

    // MARK: Weights

    @inline(__always) static func bits(_ m: Double, _ u: Double) -> Double { log2(max(m, 1e-9) / max(u, 1e-12)) }

    /// The u-probability of an exact agreement on `value`: its relative frequency in the population.
    func tfU(_ f: any ValueFrequencies, _ field: MatchField, _ value: String) -> Double {
        let n = Double(max(f.population, minimumPopulation))
        return max(Double(f.count(field, value)), 1) / n
    }

    /// The weight of one field's level (term-frequency adjusted for exact agreements).
    func weight(_ field: ComparedField, _ level: Int, _ a: MatchFeatures, frequencies f: any ValueFrequencies) -> Double
    {
        guard level > 0 else { return 0 }
        let m = parameters.m[field.rawValue][level]
        if level == 1, let value = a.value(of: field) {
            return Self.bits(m, tfU(f, field.frequencyField, value))
        }
        return Self.bits(m, parameters.u[field.rawValue][level])
    }

    /// Scores a pair. `explain` fills `evidence` (slower; used for audit and review, not for every candidate).
    public func score(
        _ a: MatchFeatures, _ b: MatchFeatures, frequencies f: any ValueFrequencies, explain: Bool = false
    ) -> PairScore {
        let v = compare(a, b)
        var total = parameters.priorBits
        var evidence: [Evidence] = []
        if explain { evidence.append(Evidence(field: "prior", level: "prior", weight: parameters.priorBits)) }
        for field in ComparedField.allCases {
            let level = v[field]
            guard level > 0 else { continue }
            let w: Double
            if v.swapped && level == 1 && (field == .given || field == .family) {
                // Swapped names: the exact level's frequency is the swapped value's; use the average u.
                w = Self.bits(parameters.m[field.rawValue][1], parameters.u[field.rawValue][1])
            } else {
                w = weight(field, level, a, frequencies: f)
            }
            total += w
            if explain {
                let name =
                    v.swapped && (field == .given || field == .family)
                    ? "swapped-" + field.levels[level] : field.levels[level]
                evidence.append(Evidence(field: field.name, level: name, weight: w))
            }
        }
        if v.swapped, explain { evidence.append(Evidence(field: "name", level: "swapped", weight: 0)) }
        return PairScore(score: total, guards: guards(v), evidence: evidence)
    }

    /// The street level of two street values of which at least one holds two address lines (see
    /// `MatchFeatures.street(line1:line2:)`), line by line and crosswise: exact when a line of one equals a line of
    /// the other, fuzzy when two lines have the same house numbers and a Jaro–Winkler similarity of at least 0.85,
    /// otherwise different. A single line is compared as with one line each.
    static func streetLevel(lines x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
        func numbers(_ line: UnsafeBufferPointer<UInt8>) -> String {
            MatchFeatures.streetNumbers(String(decoding: line, as: UTF8.self))
        }
        let separator = MatchFeatures.streetLineSeparator
        var level = 3
        for lineOfX in x.split(separator: separator) {
            for lineOfY in y.split(separator: separator) {
                let p = UnsafeBufferPointer(rebasing: lineOfX)
                let q = UnsafeBufferPointer(rebasing: lineOfY)
                if p.elementsEqual(q) { return 1 }
                if level == 3, numbers(p) == numbers(q), Similarity.jaroWinkler(p, q, atLeast: 0.85) >= 0.85 {
                    level = 2
                }
            }
        }
        return level
    }

    /// Guards: patterns where the fields are not independent (households share address and phone; a parent and
    /// child share names and address), so the summed weights overstate the evidence. With learned parameters, a
    /// conflict between records of one family at one address may be lifted (`guardMask(_:)`).
    func guards(_ v: ComparisonVector) -> [MatchGuard] {
        Self.guards(mask: guardMask(v))
    }

    /// The guards as written, before anything learned from the data lifts one (`guardMask(_:)`).
    static func guards(_ v: ComparisonVector) -> [MatchGuard] {
        guards(mask: writtenGuardMask(v))
    }

    private static func guards(mask: UInt8) -> [MatchGuard] {
        var g: [MatchGuard] = []
        if mask & GuardMask.givenNameConflict != 0 { g.append(.givenNameConflict) }
        if mask & GuardMask.dateOfBirthConflict != 0 { g.append(.dateOfBirthConflict) }
        if mask & GuardMask.nameOnly != 0 { g.append(.nameOnly) }
        return g
    }

    /// The guards of a pair as bits (`GuardMask`): the written rules (`writtenGuardMask`), except between two
    /// records of one family name (exact, typo or similar; not crosswise) at one street (exact or typo), where no
    /// city, e-mail or phone differs and the postcode agrees unless the city does (a mistyped postcode). There,
    /// once `sameAddressBits` is learned, the data decide: a given-name or birth-date conflict holds unless
    /// `sameAddressBits` (how often such records are one person) plus the pair's given-name and birth-date
    /// weights, where they are negative, is above 0 bits — and the written rules' exemptions for one person (a
    /// different given name with the same birth date; a different birth date on an otherwise identical record) do
    /// not apply, since in a file of households those are twins and a parent with a child of the same name. A file
    /// without households (FEBRL: every record at an address is one person) no longer keeps a record with a
    /// replaced given name or birth date apart from its person; a file with them keeps twins apart.
    @inline(__always) func guardMask(_ v: ComparisonVector) -> UInt8 {
        guard let sameAddress = parameters.sameAddressBits,
            !v.swapped, (1...3).contains(v[.family]), (1...2).contains(v[.street]),
            v[.city] != 3, v[.postcode] != 3 || (1...2).contains(v[.city]), v[.email] != 3, v[.phone] != 3
        else { return Self.writtenGuardMask(v) }
        let written = Self.writtenGuardMask(v, exemptions: false)
        guard written & GuardMask.conflict != 0 else { return written }
        // Only disagreement counts: inside one household, twins share a birth date and a child may carry a
        // parent's given name, so agreement there is weaker evidence than between strangers.
        let bits =
            sameAddress + min(0, levelBits[ComparedField.given.rawValue * 8 + v[.given]])
            + min(0, levelBits[ComparedField.dob.rawValue * 8 + v[.dob]])
        return bits > 0 ? written & ~GuardMask.conflict : written
    }

    /// The written guard rules as bits (`GuardMask`), without allocating; `exemptions: false` leaves out the two
    /// exemptions for one person (see `guardMask(_:)`).
    @inline(__always) static func writtenGuardMask(_ v: ComparisonVector, exemptions: Bool = true) -> UInt8 {
        var g: UInt8 = 0
        let dobAgrees = v[.dob] == 1 || v[.dob] == 2
        let emailAgrees = v[.email] == 1
        let phoneAgrees = v[.phone] == 1
        // Two people of one household or family differ in given name *and* birth date, or (twins) in their own
        // e-mail or mobile. A pair that differs only in the given name — same exact birth date, same address, and
        // no contact detail that tells them apart — is one person whose given name was mistyped or replaced.
        let contactDiffers = v[.email] == 3 || v[.phone] == 3
        let addressAgrees = v[.street] == 1 || v[.street] == 2 || v[.postcode] == 1
        let onlyGivenNameDiffers = exemptions && v[.dob] == 1 && addressAgrees && !contactDiffers
        if v[.given] == 5 && !(dobAgrees && (emailAgrees || phoneAgrees)) && !onlyGivenNameDiffers {
            g |= GuardMask.givenNameConflict
        }
        let nameAndAddressAgree =
            (1...2).contains(v[.given]) && (1...2).contains(v[.family])
            && (v[.street] == 1 || v[.street] == 2) && ((1...2).contains(v[.postcode]) || (1...2).contains(v[.city]))
        if v[.dob] >= 3 && !(emailAgrees && v[.given] != 5) && !(exemptions && nameAndAddressAgree && !contactDiffers) {
            g |= GuardMask.dateOfBirthConflict
        }
        let strong = emailAgrees || phoneAgrees || dobAgrees || v[.street] == 1 || v[.street] == 2 || v[.postcode] == 1
        if !strong { g |= GuardMask.nameOnly }
        return g
    }
}

extension MatchFeatures {
    /// The normalised value of a field (the key term frequencies are counted under).
    func value(of field: ComparedField) -> String? {
        switch field {
        case .given: given
        case .family: family
        case .dob: dob?.description
        case .email: email
        case .phone: phone
        case .postcode: postcode
        case .street: street
        case .city: city
        }
    }
}
