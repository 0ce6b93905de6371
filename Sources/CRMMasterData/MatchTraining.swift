// CRMMasterData — learning the match model from the records being resolved (unsupervised: no labels).

import CRMNormalize
import Foundation

/// Estimates `MatchModel.Parameters` from a population of records, Fellegi-Sunter style:
///
/// 1. **u** (chance agreement) from random record pairs: almost all random pairs are different people, so the
///    share of random pairs at each level is P(level | different people).
/// 2. **m** (agreement among true matches) by expectation-maximisation on candidate pairs, once per *training
///    rule* — pairs that agree exactly on the rule's fields (birth date; e-mail; phone; given + family name;
///    postcode). Inside a rule's pairs the rule's own fields always agree, so they carry no information and are
///    left out; the other fields' m are estimated, u is held at the random-pair values. Each field's m is the
///    mean of its estimates over the rules that could estimate it.
/// 3. **λ** (prior probability that two random records match): every rule's EM yields the expected number of
///    matches among its pairs; divided by the share of true pairs the rule can find (both values present and
///    equal: presence² × m_exact) this estimates all matching pairs; the median over rules, divided by the number
///    of record pairs, is λ.
///
/// 4. **How often one family at one address is one person** (`MatchModel.Parameters.sameAddressBits`): on pairs
///    agreeing exactly on family name and street, the share of two-person pairs is estimated by EM over given-name
///    and birth-date levels, the two-person class (a household) held at the random-pair u, since household
///    members' given names and birth dates agree no more often than strangers' (`sameAddressBits(_:params:)`).
///
/// Deterministic for a given input (fixed-seed sampling). Runs of more than `maxRunSize` records sharing a rule
/// key (placeholder birth dates, switchboard numbers) are skipped.
public struct MatchTraining: Sendable {
    /// Random pairs for u.
    public var randomPairs = 100_000
    /// Sampled candidate pairs per rule for EM.
    public var pairsPerRule = 50_000
    /// Members sampled from one run of records sharing a rule key (pairs within them are weighted up).
    public var membersPerRun = 24
    /// Runs larger than this are ignored (frequent placeholder values).
    public var maxRunSize = 1_000
    /// EM iterations (stops earlier when m moves less than 1e-5).
    public var iterations = 40
    /// Fewer records than this: keep the priors (not enough data to learn from).
    public var minimumRecords = 500
    /// Fewer same-family, same-street pairs than this: `sameAddressBits` stays unlearned (the guards as written).
    public var minimumSameAddressPairs = 50.0
    /// Larger populations are trained on a uniform random sample of this many records (`sampleIndices`).
    /// Sampling records uniformly scales matching and non-matching pairs alike, so m, u and λ are unbiased;
    /// 200 000 records still hold tens of thousands of matching pairs.
    public var maximumSample = 200_000

    public init() {}

    /// `maximum` of the indices `0..<count` (all of them when `count <= maximum`), chosen uniformly at random
    /// without replacement with a fixed seed (the same sample on every run), in increasing order.
    ///
    /// Random, not evenly spaced: files often hold one person's records next to each other, and every k-th row
    /// then keeps almost no matching pair, so EM learns its "match" class from strangers. (It did: on 1M
    /// records of the built-in generator, every 5th row gave m(family different) 0.46 and m(phone exact) 0,
    /// and pairwise precision fell to 0.91.) A uniform sample keeps every pair with the same probability
    /// whatever the file order.
    public static func sampleIndices(count: Int, maximum: Int) -> [Int] {
        guard count > maximum else { return Array(0..<count) }
        var rng = SplitMix64(seed: 0x5A3F_1E5D)
        var out: [Int] = []
        out.reserveCapacity(maximum)
        var needed = maximum
        // Selection sampling (Knuth's Algorithm S): index i is kept with probability needed / (count - i).
        for i in 0..<count where needed > 0 {
            if Int(rng.next() % UInt64(count - i)) < needed {
                out.append(i)
                needed -= 1
            }
        }
        return out
    }

    /// A training rule: pairs agreeing exactly on `fields`.
    struct Rule {
        var fields: [ComparedField]
    }

    static let rules: [Rule] = [
        Rule(fields: [.dob]), Rule(fields: [.email]), Rule(fields: [.phone]), Rule(fields: [.given, .family]),
        Rule(fields: [.postcode]),
    ]

    /// What training found, for the documentation and the benchmark log.
    public struct Report: Sendable, CustomStringConvertible {
        public var records: Int
        public var parameters: MatchModel.Parameters
        /// Estimated matching pairs in the population, per rule that had data.
        public var estimatedMatches: [String: Double] = [:]
        public var description: String {
            var s = "trained on \(records) records: prior=\(String(format: "%.2f", parameters.priorBits)) bits"
            for f in ComparedField.allCases {
                let levels = f.levels.indices.dropFirst().map {
                    String(
                        format: "%@ m=%.3f u=%.5f", f.levels[$0], parameters.m[f.rawValue][$0],
                        parameters.u[f.rawValue][$0])
                }
                s += "\n  \(f.name): " + levels.joined(separator: "; ")
            }
            if let bits = parameters.sameAddressBits {
                s += "\n  same family name and street: " + String(format: "%.2f bits (one person)", bits)
            }
            return s
        }
    }

    /// Learns parameters from `features` (entries where `active` is false are skipped). Returns the priors when
    /// there are too few records.
    public func train(
        _ features: [MatchFeatures], active: [Bool]? = nil, model: MatchModel = MatchModel()
    ) -> Report {
        train(records: features, active: active, model: model)
    }

    /// `train` on any form of the records (text features, or interned rows: `InternedTrainingRecords`).
    func train(records features: some TrainingRecords, active: [Bool]? = nil, model: MatchModel) -> Report {
        var index = (0..<features.count).filter { active?[$0] ?? true }
        if index.count > maximumSample {
            index = Self.sampleIndices(count: index.count, maximum: maximumSample).map { index[$0] }
        }
        let n = index.count
        var params = MatchModel.Parameters.prior
        guard n >= minimumRecords else { return Report(records: n, parameters: params) }
        var rng = SplitMix64(seed: 0x5EED)

        // 1. u from random pairs.
        var uCounts = [[Double]](repeating: [], count: ComparedField.allCases.count)
        for f in ComparedField.allCases { uCounts[f.rawValue] = [Double](repeating: 0, count: f.levels.count) }
        for _ in 0..<randomPairs {
            let i = index[Int(rng.next() % UInt64(n))]
            let j = index[Int(rng.next() % UInt64(n))]
            if i == j { continue }
            let v = features.compare(i, j, model)
            for f in ComparedField.allCases { uCounts[f.rawValue][v[f]] += 1 }
        }
        for f in ComparedField.allCases {
            let c = uCounts[f.rawValue]
            let present = c.dropFirst().reduce(0, +)
            guard present >= 1_000 else { continue }  // field (nearly) absent: keep the prior
            for l in 1..<c.count { params.u[f.rawValue][l] = max(c[l], 0.5) / present }
        }

        // Presence of each field (for the rules' recall).
        var presence = [Double](repeating: 0, count: ComparedField.allCases.count)
        for i in index {
            for f in ComparedField.allCases where features.isPresent(i, f) { presence[f.rawValue] += 1 }
        }
        for k in presence.indices { presence[k] /= Double(n) }

        // 2. m by EM per rule.
        var mSums = params.m.map { $0.map { _ in 0.0 } }
        var mCounts = [Double](repeating: 0, count: ComparedField.allCases.count)
        var results: [(rule: Rule, lambda: Double, fullPairs: Double, m: [[Double]])] = []
        for rule in Self.rules {
            guard let sample = samplePairs(rule, features, index, model, &rng), sample.vectors.count >= 20 else {
                continue
            }
            let fields = ComparedField.allCases.filter { !rule.fields.contains($0) }
            let (m, lambda) = em(sample.vectors, fields: fields, params: params)
            guard lambda > 0 else { continue }
            results.append((rule, lambda, sample.fullPairs, m))
            for f in ComparedField.allCases where !rule.fields.contains(f) {
                for l in 1..<m[f.rawValue].count { mSums[f.rawValue][l] += m[f.rawValue][l] }
                mCounts[f.rawValue] += 1
            }
        }
        for f in ComparedField.allCases where mCounts[f.rawValue] > 0 {
            for l in 1..<params.m[f.rawValue].count {
                params.m[f.rawValue][l] = mSums[f.rawValue][l] / mCounts[f.rawValue]
            }
        }

        // 3. λ from the rules' expected matches.
        var report = Report(records: n, parameters: params)
        var totals: [Double] = []
        for r in results {
            var recall = 1.0
            for f in r.rule.fields { recall *= presence[f.rawValue] * presence[f.rawValue] * params.m[f.rawValue][1] }
            guard recall > 0.01 else { continue }
            let total = r.lambda * r.fullPairs / recall
            report.estimatedMatches[r.rule.fields.map(\.name).joined(separator: "+")] = total
            totals.append(total)
        }
        if !totals.isEmpty {
            let median = totals.sorted()[totals.count / 2]
            let allPairs = Double(n) * Double(n - 1) / 2
            let lambda = min(max(median / allPairs, 1e-12), 0.5)
            params.priorBits = log2(lambda / (1 - lambda))
        }
        // 4. How often two records of one family name at one street are one person.
        if let sample = samplePairs(Self.sameAddressRule, features, index, model, &rng) {
            params.sameAddressBits = sameAddressBits(sample.vectors, params: params)
        }
        report.parameters = params
        return report
    }

    /// Pairs of records of one family name at one street: one person, or a household.
    static let sameAddressRule = Rule(fields: [.family, .street])

    /// Log2-odds that a pair agreeing on `sameAddressRule`'s fields is one person, or nil with fewer than
    /// `minimumSameAddressPairs` pairs.
    ///
    /// EM on the pairs' given-name and birth-date levels (e-mail and phone are left out: households share them),
    /// two classes: one person, with its own level probabilities learned here (starting from `params.m`), and two
    /// people, fixed at the random-pair u — household members' given names and birth dates agree no more often than
    /// strangers'. The one-person class is learned afresh because the rules' m (step 2) saw pairs with a replaced
    /// given name *and* birth date only as non-matches (the guards), so it would call every such pair here a
    /// household. With one class fixed and the other a product of two fields, the share is identified: records that
    /// disagree independently are one person, disagreement on both fields together beyond that is households. The
    /// share gets half a pair of each class as a prior (`priorPairs: 1`), so a file where every such pair is one
    /// person gives a finite, data-sized estimate.
    func sameAddressBits(_ vectors: [ComparisonVector: Double], params: MatchModel.Parameters) -> Double? {
        let total = vectors.values.reduce(0, +)
        guard total >= minimumSameAddressPairs else { return nil }
        let onePerson = em(
            vectors, fields: [.given, .dob], params: params, guardedApart: false, lambda: 0.5, priorPairs: 1
        )
        .lambda
        return log2(onePerson / (1 - onePerson))
    }

    /// Weighted comparison vectors of pairs agreeing on a rule's fields, and the number of such pairs in full.
    func samplePairs(
        _ rule: Rule, _ features: some TrainingRecords, _ index: [Int], _ model: MatchModel,
        _ rng: inout SplitMix64
    ) -> (vectors: [ComparisonVector: Double], fullPairs: Double)? {
        var keyed: [(UInt64, Int32)] = []
        keyed.reserveCapacity(index.count)
        for i in index {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            var complete = true
            for f in rule.fields {
                guard features.hashValue(i, f, into: &h) else {
                    complete = false
                    break
                }
                h ^= 0x1F
                h = h &* 0x0000_0100_0000_01B3
            }
            if complete { keyed.append((h, Int32(i))) }
        }
        guard keyed.count >= 2 else { return nil }
        keyed.sort { $0.0 < $1.0 }
        var runs: [Range<Int>] = []
        var fullPairs = 0.0
        var start = 0
        for k in 1...keyed.count where k == keyed.count || keyed[k].0 != keyed[start].0 {
            let size = k - start
            if size >= 2 && size <= maxRunSize {
                runs.append(start..<k)
                fullPairs += Double(size * (size - 1) / 2)
            }
            start = k
        }
        guard !runs.isEmpty else { return nil }
        // Runs in random order so an early stop is a random subset of them; weights scale to the full pair count.
        for k in stride(from: runs.count - 1, to: 0, by: -1) { runs.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
        var vectors: [ComparisonVector: Double] = [:]
        var sampled = 0
        var coveredPairs = 0.0
        for run in runs {
            var members = Array(run)
            let size = members.count
            if size > membersPerRun {
                for k in 0..<membersPerRun { members.swapAt(k, k + Int(rng.next() % UInt64(size - k))) }
                members.removeLast(size - membersPerRun)
            }
            let weight = Double(size * (size - 1)) / Double(members.count * (members.count - 1))
            for x in 0..<members.count {
                for y in (x + 1)..<members.count {
                    let v = features.compare(Int(keyed[members[x]].1), Int(keyed[members[y]].1), model)
                    vectors[v, default: 0] += weight
                    sampled += 1
                }
            }
            coveredPairs += Double(size * (size - 1) / 2)
            if sampled >= pairsPerRule { break }
        }
        // Scale the weights to the runs not visited.
        let scale = fullPairs / max(coveredPairs, 1)
        if scale != 1 { for (k, w) in vectors { vectors[k] = w * scale } }
        return (vectors, fullPairs)
    }

    /// Whether the guards forbid merging a pair with this vector whatever its score.
    func forcedApart(_ v: ComparisonVector) -> Bool {
        let g = MatchModel.guards(v)
        return g.contains(.givenNameConflict) || g.contains(.dateOfBirthConflict)
    }

    /// EM for m (of `fields`) and λ on weighted vectors, u fixed.
    ///
    /// - Parameters:
    ///   - guardedApart: pairs the written guards keep apart are fixed as non-matches (the rules' EM).
    ///   - priorPairs: pseudo-pairs added to λ's estimate, half to each class (`(x + p/2) / (n + p)`).
    func em(
        _ vectors: [ComparisonVector: Double], fields: [ComparedField], params: MatchModel.Parameters,
        guardedApart: Bool = true, lambda start: Double = 0.3, priorPairs: Double = 0
    ) -> (m: [[Double]], lambda: Double) {
        // In a fixed order (a `Dictionary`'s follows the per-process hash seed): the sums, and so m and λ, are
        // then the same to the last bit in every process.
        let items = vectors.sorted { $0.key.sortKey < $1.key.sortKey }
        let total = items.reduce(0) { $0 + $1.value }
        var m = params.m
        var lambda = start
        for _ in 0..<iterations {
            var mNum = m.map { $0.map { _ in 0.0 } }
            var matched = 0.0
            for (v, w) in items {
                // Pairs the guards keep apart (households, parent and child) can never merge automatically: they
                // are fixed as non-matches, so m describes the pairs the model actually decides about.
                if guardedApart && forcedApart(v) { continue }
                var lm = 1.0
                var lu = 1.0
                for f in fields {
                    let l = v[f]
                    guard l > 0 else { continue }
                    lm *= m[f.rawValue][l]
                    lu *= params.u[f.rawValue][l]
                }
                let pm = lambda * lm
                let pu = (1 - lambda) * lu
                let p = pm + pu > 0 ? pm / (pm + pu) : 0
                matched += p * w
                for f in fields { mNum[f.rawValue][v[f]] += p * w }
            }
            var moved = 0.0
            for f in fields {
                let present = mNum[f.rawValue].dropFirst().reduce(0, +)
                guard present > 1e-9 else { continue }
                for l in 1..<m[f.rawValue].count {
                    // A small floor keeps every level possible (a level never seen among matches is not impossible).
                    let new = max(mNum[f.rawValue][l] / present, 1e-4)
                    moved = max(moved, abs(new - m[f.rawValue][l]))
                    m[f.rawValue][l] = new
                }
            }
            lambda = min(max((matched + priorPairs / 2) / (total + priorPairs), 1e-9), 1 - 1e-9)
            if moved < 1e-5 { break }
        }
        return (m, lambda)
    }
}

/// What training reads from the records it learns from. Two forms give the same answers: text features
/// (`[MatchFeatures]`) and interned rows with their pools (`InternedTrainingRecords`, what bulk runs and the graph
/// hold, so training needs no `String`s).
protocol TrainingRecords {
    var count: Int { get }
    /// The comparison vector of records `i` and `j`.
    func compare(_ i: Int, _ j: Int, _ model: MatchModel) -> ComparisonVector
    /// Whether record `i` has a value in `field`.
    func isPresent(_ i: Int, _ field: ComparedField) -> Bool
    /// Feeds the UTF-8 bytes of record `i`'s value in `field` (as `MatchFeatures.value(of:)` spells it) into the
    /// FNV-1a hash `h`; false (and `h` unchanged) when the value is missing.
    func hashValue(_ i: Int, _ field: ComparedField, into h: inout UInt64) -> Bool
}

extension TrainingRecords {
    @inline(__always) static func fnv(_ bytes: some Sequence<UInt8>, _ h: inout UInt64) {
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
    }
}

extension Array: TrainingRecords where Element == MatchFeatures {
    func compare(_ i: Int, _ j: Int, _ model: MatchModel) -> ComparisonVector { model.compare(self[i], self[j]) }
    func isPresent(_ i: Int, _ field: ComparedField) -> Bool { self[i].value(of: field) != nil }
    func hashValue(_ i: Int, _ field: ComparedField, into h: inout UInt64) -> Bool {
        guard let v = self[i].value(of: field) else { return false }
        Self.fnv(v.utf8, &h)
        return true
    }
}

/// Interned rows and the store their ids refer to, as training records.
struct InternedTrainingRecords: TrainingRecords {
    var rows: [CompactFeatures]
    var store: FeatureStore

    var count: Int { rows.count }

    func compare(_ i: Int, _ j: Int, _ model: MatchModel) -> ComparisonVector {
        model.compare(rows[i], rows[j], store)
    }

    private func id(_ i: Int, _ field: ComparedField) -> UInt32 {
        let r = rows[i]
        switch field {
        case .given: return r.given
        case .family: return r.family
        case .dob: return r.dob
        case .email: return r.email
        case .phone: return r.phone
        case .postcode: return r.postcode
        case .street: return r.street
        case .city: return r.city
        }
    }

    func isPresent(_ i: Int, _ field: ComparedField) -> Bool { id(i, field) != 0 }

    func hashValue(_ i: Int, _ field: ComparedField, into h: inout UInt64) -> Bool {
        let v = id(i, field)
        guard v != 0 else { return false }
        let s = store
        var hash = h
        switch field {
        case .given, .family: s.names.withBytes(v) { Self.fnv($0, &hash) }
        case .email: s.emails.withBytes(v) { Self.fnv($0, &hash) }
        case .phone: s.phones.withBytes(v) { Self.fnv($0, &hash) }
        case .postcode: s.postcodes.withBytes(v) { Self.fnv($0, &hash) }
        case .street: s.streets.withBytes(v) { Self.fnv($0, &hash) }
        case .city: s.cities.withBytes(v) { Self.fnv($0, &hash) }
        case .dob:
            // Stored dates were valid `DateOfBirth`s, so the date always rebuilds.
            let d = Int(s.dobs[v])
            guard let date = DateOfBirth(year: d / 10_000, month: d / 100 % 100, day: d % 100) else { return false }
            Self.fnv(date.description.utf8, &hash)
        }
        h = hash
        return true
    }
}
