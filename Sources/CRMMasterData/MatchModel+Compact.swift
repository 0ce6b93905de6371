// CRMMasterData — the model's comparisons on interned features (the graph's hot path). Same levels, weights and
// guards as `compare`/`score` on `MatchFeatures`: exact agreement is an id comparison, everything else reads the
// pooled bytes (no `String` is made) and calls the byte versions of the same level functions.

extension MatchModel {
    @inline(__always) private func givenLevel(
        _ x: UInt32, _ y: UInt32, _ s: FeatureStore, _ memo: inout some NameLevels
    ) -> Int {
        if x == y { return 1 }
        if s.nameIsInitial[Int(x)] || s.nameIsInitial[Int(y)] {
            return s.nameFirst[Int(x)] == s.nameFirst[Int(y)] ? 4 : 5
        }
        return memo.level(family: false, x, y) {
            let floor = min(fuzzyThreshold, 0.8)
            let jw = s.names.withBytes(x) { p in
                s.names.withBytes(y) { q in Similarity.jaroWinkler(p, q, atLeast: floor) }
            }
            return jw >= fuzzyThreshold ? 2 : jw >= 0.8 ? 3 : 5
        }
    }

    @inline(__always) private func familyLevel(
        _ x: UInt32, _ y: UInt32, _ s: FeatureStore, _ memo: inout some NameLevels
    ) -> Int {
        if x == y { return 1 }
        return memo.level(family: true, x, y) {
            s.names.withBytes(x) { p in s.names.withBytes(y) { q in familyLevel(p, q) } }
        }
    }

    /// The given- and family-name levels of `compare` (0: a side is missing), crosswise when that agrees better
    /// (a first/last swap). Shared by `compare` and `scoreBound`.
    @inline(__always) private func nameLevels(
        _ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore, _ memo: inout some NameLevels
    ) -> (given: Int, family: Int, swapped: Bool) {
        var given = 0
        var family = 0
        let ga = a.given
        let gb = b.given
        if ga != 0, gb != 0 {
            given = givenLevel(ga, gb, s, &memo)
            let ta = a.givenToken
            let tb = b.givenToken
            if given >= 3, ta != 0, tb != 0, ta != ga || tb != gb {
                given = min(given, givenLevel(ta, tb, s, &memo))
            }
        }
        let fa = a.family
        let fb = b.family
        if fa != 0, fb != 0 { family = familyLevel(fa, fb, s, &memo) }
        if given >= 3 || family >= 3, ga != 0, fa != 0, gb != 0, fb != 0 {
            let initial = s.nameIsInitial
            let g = initial[Int(ga)] || initial[Int(fb)] ? givenLevel(ga, fb, s, &memo) : familyLevel(ga, fb, s, &memo)
            let f = initial[Int(gb)] || initial[Int(fa)] ? givenLevel(gb, fa, s, &memo) : familyLevel(fa, gb, s, &memo)
            let crossOK = (g <= 2 || g == 4) && (f <= 2 || f == 4) && !(g == 4 && f == 4)
            if crossOK && g + f < given + family { return (g, f, true) }
        }
        return (given, family, false)
    }

    /// `compare` on interned features.
    func compare(_ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore) -> ComparisonVector {
        var memo = NameLevelsComputed()
        return compare(a, b, s, &memo)
    }

    /// `compare` on interned features, name-pair levels through `memo`.
    func compare(
        _ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore, _ memo: inout some NameLevels
    ) -> ComparisonVector {
        var v = ComparisonVector()
        let names = nameLevels(a, b, s, &memo)
        v[.given] = names.given
        v[.family] = names.family
        v.swapped = names.swapped
        if a.dob != 0, b.dob != 0 {
            v[.dob] = a.dob == b.dob ? 1 : Self.dobLevel(Int(s.dobs[a.dob]), Int(s.dobs[b.dob]))
        }
        if a.email != 0, b.email != 0 {
            v[.email] =
                a.email == b.email ? 1 : (a.emailLocal == b.emailLocal && s.localIsLong[Int(a.emailLocal)] ? 2 : 3)
        }
        if a.phone != 0, b.phone != 0 {
            v[.phone] =
                a.phone == b.phone
                ? 1 : s.phones.withBytes(a.phone) { p in s.phones.withBytes(b.phone) { q in Self.phoneLevel(p, q) } }
        }
        if a.postcode != 0, b.postcode != 0 {
            // Same district: equal district ids (`FeatureStore.postcodeDistrict`), as `sameDistrict` on the bytes.
            let district = s.postcodeDistrict
            v[.postcode] =
                a.postcode == b.postcode ? 1 : district[Int(a.postcode)] == district[Int(b.postcode)] ? 2 : 3
        }
        if a.street != 0, b.street != 0 {
            v[.street] =
                a.street == b.street
                ? 1
                : s.twoLineNumbers[Int(a.streetNumbers)] || s.twoLineNumbers[Int(b.streetNumbers)]
                    ? memo.level(kind: NameLevelKind.street, a.street, b.street) {
                        s.streets.withBytes(a.street) { p -> Int in
                            s.streets.withBytes(b.street) { q -> Int in Self.streetLevel(lines: p, q) }
                        }
                    }
                    : a.streetNumbers != b.streetNumbers
                        ? 3
                        : memo.level(kind: NameLevelKind.street, a.street, b.street) {
                            s.streets.withBytes(a.street) { p in
                                s.streets.withBytes(b.street) { q in Similarity.jaroWinkler(p, q, atLeast: 0.85) }
                            } >= 0.85 ? 2 : 3
                        }
        }
        if a.city != 0, b.city != 0 {
            v[.city] =
                a.city == b.city
                ? 1
                : memo.level(kind: NameLevelKind.city, a.city, b.city) {
                    s.cities.withBytes(a.city) { p in
                        s.cities.withBytes(b.city) { q in Similarity.jaroWinkler(p, q, atLeast: 0.9) }
                    } >= 0.9 ? 2 : 3
                }
        }
        return v
    }

    /// `score` on interned features, without evidence: the match weight and the guards as `GuardMask` bits.
    /// Term frequencies are `s`'s value counts.
    func score(_ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore) -> (score: Double, guards: UInt8) {
        var memo = NameLevelsComputed()
        return score(a, b, s, &memo)
    }

    /// `score(_:_:_:)` with name-pair levels through `memo`.
    func score(
        _ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore, _ memo: inout some NameLevels
    ) -> (score: Double, guards: UInt8) {
        score(a, b, s, &memo, exact: exactBits(a, s))
    }

    /// The weight of an exact agreement on each of `a`'s values (term-frequency adjusted, `ComparedField`
    /// order): the same for every record `a` is compared with while the value counts do not change.
    func exactBits(_ a: CompactFeatures, _ s: FeatureStore) -> SIMD8<Double> {
        var bits = SIMD8<Double>()
        let n = Double(max(s.population, minimumPopulation))
        for f in 0..<min(8, parameters.m.count) where parameters.m[f].count > 1 {
            bits[f] = Self.bits(parameters.m[f][1], max(Double(s.count(ComparedField(rawValue: f)!, a)), 1) / n)
        }
        return bits
    }

    /// `score(_:_:_:_:)` with `a`'s exact-agreement weights computed ahead (`exactBits(a, s)`).
    func score(
        _ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore, _ memo: inout some NameLevels,
        exact: SIMD8<Double>
    ) -> (score: Double, guards: UInt8) {
        let v = compare(a, b, s, &memo)
        var total = parameters.priorBits
        let table = levelBits
        // Fields in `ComparedField` order (the order `score` adds them in, so the sums are the same).
        for f in 0..<8 {
            let level = Int(v.levels[f])
            guard level > 0 else { continue }
            if level == 1 && !(v.swapped && (f == ComparedField.given.rawValue || f == ComparedField.family.rawValue)) {
                total += exact[f]
            } else {
                total += table[f * 8 + level]
            }
        }
        return (total, guardMask(v))
    }

    /// A number never below `score(a, b, s, &memo, exact: exact).score`, without the costly comparisons: the names
    /// (through `memo`), birth date, e-mail and postcode are weighed exactly as `score` weighs them; phone, street
    /// and city, when they differ, add the largest weight of a level they could reach (no byte comparison, no
    /// Jaro-Winkler). Every term is at least `score`'s term for that field and they are added in the same order,
    /// so the bound is at least the score (rounding is monotonic): a pair bounded below a threshold scores below it.
    func scoreBound(
        _ a: CompactFeatures, _ b: CompactFeatures, _ s: FeatureStore, _ memo: inout some NameLevels,
        exact: SIMD8<Double>
    ) -> Double {
        let table = levelBits
        var total = parameters.priorBits
        /// `score`'s weight of a field at a level.
        func weight(_ f: ComparedField, _ level: Int, swapped: Bool = false) -> Double {
            level == 1 && !swapped ? exact[f.rawValue] : table[f.rawValue * 8 + level]
        }
        /// The largest weight among the levels `levels` of a field.
        func largest(_ f: ComparedField, _ levels: ClosedRange<Int>) -> Double {
            var w = weight(f, levels.lowerBound)
            for level in levels.dropFirst() { w = max(w, weight(f, level)) }
            return w
        }
        let names = nameLevels(a, b, s, &memo)
        if names.given > 0 { total += weight(.given, names.given, swapped: names.swapped) }
        if names.family > 0 { total += weight(.family, names.family, swapped: names.swapped) }
        if a.dob != 0, b.dob != 0 {
            total += weight(.dob, a.dob == b.dob ? 1 : Self.dobLevel(Int(s.dobs[a.dob]), Int(s.dobs[b.dob])))
        }
        if a.email != 0, b.email != 0 {
            let level =
                a.email == b.email ? 1 : (a.emailLocal == b.emailLocal && s.localIsLong[Int(a.emailLocal)] ? 2 : 3)
            total += weight(.email, level)
        }
        if a.phone != 0, b.phone != 0 {
            // Different phone keys are never level 1 (`phoneLevel`).
            total += a.phone == b.phone ? weight(.phone, 1) : largest(.phone, 2...3)
        }
        if a.postcode != 0, b.postcode != 0 {
            let district = s.postcodeDistrict
            total += weight(
                .postcode,
                a.postcode == b.postcode ? 1 : district[Int(a.postcode)] == district[Int(b.postcode)] ? 2 : 3)
        }
        if a.street != 0, b.street != 0 {
            if a.street == b.street {
                total += weight(.street, 1)
            } else if s.twoLineNumbers[Int(a.streetNumbers)] || s.twoLineNumbers[Int(b.streetNumbers)] {
                // Two address lines: one line of each may be equal (level 1).
                total += largest(.street, 1...3)
            } else {
                total += a.streetNumbers != b.streetNumbers ? weight(.street, 3) : largest(.street, 2...3)
            }
        }
        if a.city != 0, b.city != 0 { total += a.city == b.city ? weight(.city, 1) : largest(.city, 2...3) }
        return total
    }
}
