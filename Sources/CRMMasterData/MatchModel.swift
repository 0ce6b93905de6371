// CRMMasterData — pairwise scoring: a Fellegi-Sunter model with term-frequency adjustment and guards.

/// One piece of evidence in a pairwise comparison: a field, the agreement level seen and its weight in bits.
public struct Evidence: Sendable, Hashable, Codable {
    public var field: String
    public var level: String
    public var weight: Double
}

/// Why a pair must not merge automatically, however high its score.
public enum MatchGuard: String, Sendable, Hashable, Codable {
    /// Both given names present and different (not nickname, typo, initial or swap): household members.
    case givenNameConflict
    /// Both dates of birth present and different (not a day/month swap or one-digit day typo): parent and child
    /// of one name, same-name strangers.
    case dateOfBirthConflict
    /// Only names agree; no e-mail, phone, date of birth or street: same-name strangers.
    case nameOnly
    /// Family names differ (not a typo or swap) and neither e-mail nor phone agrees: a stranger who shares a
    /// given name and birth date. (A married name change usually keeps an e-mail or phone.)
    case familyNameConflict
}

/// The result of comparing two records.
public struct PairScore: Sendable, Hashable {
    /// Sum of log2 likelihood ratios (bits).
    public var score: Double
    /// Guards that forbid an automatic merge.
    public var guards: [MatchGuard]
    /// Per-field evidence; filled only when asked for.
    public var evidence: [Evidence]
}

/// Frequencies of values in the population, for term-frequency-adjusted u-probabilities.
public protocol ValueFrequencies {
    /// How many records carry `value` in `field`.
    func count(_ field: MatchField, _ value: String) -> Int
    /// Population size used as the denominator.
    var population: Int { get }
}

/// Fields whose frequencies the model consults.
public enum MatchField: UInt8, Sendable, Hashable {
    case given, family, email, phone, postcode, street
}

/// The Fellegi-Sunter model.
///
/// For each field the model has an m-probability (P(agreement level | same person)) and a u-probability
/// (P(agreement level | different people)); a level contributes log2(m/u) bits. Missing values contribute 0.
///
/// Where the numbers come from:
/// - u for exact agreement on given name, family name, e-mail, phone and postcode is the observed relative
///   frequency of the value in the store (term-frequency adjustment): "smith" shared by 1% of records gives
///   log2(0.85/0.01) ≈ 6.4 bits, a name held by 1 in 100 000 gives ≈ 16 bits. The denominator is at least
///   `MatchModel.minimumPopulation` so that the first records of an empty store are not over-trusted, and u
///   never drops below 1/population. Shared switchboard numbers and family e-mails thus weigh little.
/// - u for fuzzy levels and dates is a documented prior: two random people share a birth date with
///   probability ≈ 1/(365 × 70); a Jaro-Winkler ≥ 0.9 name by chance ≈ 1–2%. Streets agree only with the
///   same house numbers; their u is the street's frequency, at least 0.05%.
/// - m comes from stated CRM data-quality assumptions (per-field rates of typos, nicknames, moves, several
///   e-mail addresses per person), listed next to each constant. `crmhub mdm evaluate` measures how they
///   perform on labelled synthetic data generated with an independent seed; the thresholds were chosen on
///   seed 1 and are evaluated on other seeds.
public struct MatchModel: Sendable {
    /// Denominator floor for term frequencies.
    public var minimumPopulation: Int = 10_000
    /// Jaro-Winkler level for "fuzzy agreement" on names and streets.
    public var fuzzyThreshold: Double = 0.9

    public init() {}

    // m-probabilities (same person) — assumptions, see the type documentation.
    static let mEmail = 0.55  // people use several addresses across systems
    static let mPhone = 0.5  // mobile vs landline vs work
    static let mGivenExact = 0.82, mGivenFuzzy = 0.1, mGivenInitial = 0.03, mGivenNone = 0.05
    static let uGivenFuzzy = 0.02, uGivenInitial = 0.06, uGivenNone = 0.92
    static let mFamilyExact = 0.85, mFamilyFuzzy = 0.09, mFamilyNone = 0.06  // marriage, typos
    static let uFamilyFuzzy = 0.01, uFamilyNone = 0.99
    static let mSwapped = 0.03, uSwapped = 0.000_05  // first/last swapped (both fields at once)
    static let mDobExact = 0.93, mDobSwap = 0.02, mDobTypo = 0.02, mDobNone = 0.03
    static let uDobExact = 1.0 / (365.25 * 70), uDobTypo = 1.0 / (12 * 70)
    static let mPostcode = 0.75  // 25% moved
    static let mStreet = 0.7, uStreet = 0.000_5
    static let mCity = 0.8, uCity = 0.02

    @inline(__always) static func bits(_ m: Double, _ u: Double) -> Double { log2(m / u) }

    func u(_ f: any ValueFrequencies, _ field: MatchField, _ value: String) -> Double {
        let n = Double(max(f.population, minimumPopulation))
        return max(Double(f.count(field, value)), 1) / n
    }

    /// Scores a pair. `explain` fills `evidence` (slower; used for audit and review, not for every candidate).
    public func score(
        _ a: MatchFeatures, _ b: MatchFeatures, frequencies f: any ValueFrequencies, explain: Bool = false
    ) -> PairScore {
        var total = 0.0
        var guards: [MatchGuard] = []
        var evidence: [Evidence] = []
        var strong = false  // non-name evidence agreed
        @inline(__always) func add(_ field: String, _ level: String, _ w: Double) {
            total += w
            if explain { evidence.append(Evidence(field: field, level: level, weight: w)) }
        }

        // Identifiers.
        if let x = a.email, let y = b.email {
            if x == y {
                add("email", "exact", Self.bits(Self.mEmail, u(f, .email, x)))
                strong = true
            } else {
                add("email", "different", Self.bits(1 - Self.mEmail, 1))
            }
        }
        if let x = a.phone, let y = b.phone {
            if x == y {
                add("phone", "exact", Self.bits(Self.mPhone, u(f, .phone, x)))
                strong = true
            } else {
                add("phone", "different", Self.bits(1 - Self.mPhone, 1))
            }
        }

        // Names, with first/last swap detection.
        var givenConflict = false, familyConflict = false
        let identifierAgrees = strong
        if let ga = a.given, let fa = a.family, let gb = b.given, let fb = b.family, ga != gb || fa != fb,
            similar(ga, fb), similar(fa, gb)
        {
            add("name", "swapped", Self.bits(Self.mSwapped, Self.uSwapped))
        } else {
            if let x = a.given, let y = b.given {
                if x == y {
                    add("given", "exact", Self.bits(Self.mGivenExact, u(f, .given, x)))
                } else if similar(x, y) {
                    add("given", "fuzzy", Self.bits(Self.mGivenFuzzy, Self.uGivenFuzzy))
                } else if NameMatching.initialCompatible(x, y) {
                    add("given", "initial", Self.bits(Self.mGivenInitial, Self.uGivenInitial))
                } else {
                    add("given", "different", Self.bits(Self.mGivenNone, Self.uGivenNone))
                    givenConflict = true
                }
            }
            if let x = a.family, let y = b.family {
                if x == y {
                    add("family", "exact", Self.bits(Self.mFamilyExact, u(f, .family, x)))
                } else if similar(x, y) {
                    add("family", "fuzzy", Self.bits(Self.mFamilyFuzzy, Self.uFamilyFuzzy))
                } else {
                    add("family", "different", Self.bits(Self.mFamilyNone, Self.uFamilyNone))
                    familyConflict = true
                }
            }
        }
        if givenConflict { guards.append(.givenNameConflict) }
        if familyConflict && !identifierAgrees { guards.append(.familyNameConflict) }

        // Date of birth.
        if let x = a.dob, let y = b.dob {
            if x == y {
                add("dob", "exact", Self.bits(Self.mDobExact, Self.uDobExact))
                strong = true
            } else if x.isDayMonthSwap(of: y) {
                add("dob", "day-month-swap", Self.bits(Self.mDobSwap, Self.uDobExact))
                strong = true
            } else if x.year == y.year && x.month == y.month && x.day % 10 == y.day % 10 {
                add("dob", "day-typo", Self.bits(Self.mDobTypo, Self.uDobTypo))
            } else {
                add("dob", "different", Self.bits(Self.mDobNone, 1))
                guards.append(.dateOfBirthConflict)
            }
        }

        // Address.
        if let x = a.postcode, let y = b.postcode {
            if x == y {
                add("postcode", "exact", Self.bits(Self.mPostcode, u(f, .postcode, x)))
            } else {
                add("postcode", "different", Self.bits(1 - Self.mPostcode, 1))
            }
        }
        if let x = a.street, let y = b.street {
            if x == y || (a.streetNumbers == b.streetNumbers && Similarity.jaroWinkler(x, y) >= fuzzyThreshold) {
                let u = max(Self.uStreet, u(f, .street, x))
                add("street", x == y ? "exact" : "fuzzy", Self.bits(Self.mStreet, u))
                strong = true
            } else {
                add("street", "different", Self.bits(1 - Self.mStreet, 1))
            }
        }
        if let x = a.city, let y = b.city {
            add("city", x == y ? "exact" : "different", x == y ? Self.bits(Self.mCity, Self.uCity) : Self.bits(1 - Self.mCity, 1))
        }
        if !strong { guards.append(.nameOnly) }
        return PairScore(score: total, guards: guards, evidence: evidence)
    }

    @inline(__always) func similar(_ x: String, _ y: String) -> Bool {
        x == y || NameMatching.sameCanonicalGiven(x, y) || Similarity.jaroWinkler(x, y) >= fuzzyThreshold
    }
}

import CRMNormalize
import Foundation
