import Testing

@testable import CRMMasterData

func person(
    _ id: String, _ given: String?, _ family: String?, email: String? = nil, phone: String? = nil,
    street: String? = nil, street2: String? = nil,
    city: String? = nil, postcode: String? = nil, country: String? = "GB", dob: String? = nil, system: String = "crm",
    updatedAt: Int64? = nil
) -> CustomerRecord {
    CustomerRecord(
        system: system, externalId: id, givenName: given, familyName: family, email: email, phone: phone,
        street: street, street2: street2,
        city: city, postcode: postcode, country: country, dateOfBirth: dob, updatedAt: updatedAt)
}

struct NoFrequencies: ValueFrequencies {
    var population = 1_000_000
    var counts: [String: Int] = [:]
    func count(_ field: MatchField, _ value: String) -> Int { counts[value] ?? 1 }
}

@Suite("Pairwise scoring")
struct MatchingTests {
    let model = MatchModel()
    let config = ResolverConfiguration()

    @Test("phone keys: placeholders of one or two repeated digits have none, real numbers keep their last nine digits")
    func phoneKeys() {
        #expect(PhoneKey.key("+44 20 7946 0018", defaultRegion: "GB") == "079460018")
        #expect(PhoneKey.key("1212121", defaultRegion: nil) == nil)
        #expect(PhoneKey.key("0101 0101 01", defaultRegion: nil) == nil)
        #expect(PhoneKey.key("5555555", defaultRegion: nil) == nil)
        #expect(PhoneKey.key("1212123", defaultRegion: nil) == "1212123")
        #expect(PhoneKey.key("123456", defaultRegion: nil) == nil)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let digits = ArraySlice((0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 48...51, using: &rng) })
            #expect(PhoneKey.atMostTwoDistinct(digits) == (Set(digits).count <= 2))
        }
    }

    @Test("one person across systems scores above the merge threshold without guards")
    func samePerson() {
        let a = MatchFeatures(
            person("1", "William", "Smith", email: "will.smith@gmail.com", phone: "+44 7700 900123", dob: "1980-03-07"))
        let b = MatchFeatures(
            person(
                "2", "Bill", "SMITH", email: "WillSmith+shop@googlemail.com", phone: "07700900123", dob: "07.03.1980"))
        let s = model.score(a, b, frequencies: NoFrequencies(), explain: true)
        #expect(s.score >= config.mergeThreshold)
        #expect(s.guards.isEmpty)
        #expect(s.evidence.contains { $0.field == "email" && $0.level == "exact" })
    }

    @Test("household members at one address and phone are guarded against merging")
    func household() {
        let a = MatchFeatures(
            person(
                "1", "John", "Smith", phone: "01632 960001", street: "1 High Street", postcode: "SW1A 1AA",
                dob: "1970-01-05"))
        let b = MatchFeatures(
            person(
                "2", "Mary", "Smith", phone: "01632 960001", street: "1 High St", postcode: "SW1A1AA", dob: "1972-06-11"
            ))
        let s = model.score(a, b, frequencies: NoFrequencies())
        #expect(s.guards.contains(.givenNameConflict))
        #expect(s.guards.contains(.dateOfBirthConflict))
    }

    @Test("twins at one address are held apart by their own e-mail addresses")
    func twinsWithOwnMailboxes() {
        let a = MatchFeatures(
            person("1", "Oliver", "Hart", email: "oliver.hart@mail.co.uk", street: "4 Mill Lane", postcode: "OX1 2JD",
                dob: "1994-03-02"))
        let b = MatchFeatures(
            person("2", "Harry", "Hart", email: "h.hart@post.co.uk", street: "4 Mill Lane", postcode: "OX1 2JD",
                dob: "1994-03-02"))
        #expect(model.score(a, b, frequencies: NoFrequencies()).guards.contains(.givenNameConflict))
    }

    @Test("a record whose given name alone differs (same birth date and address, no contact details) is not a household")
    func replacedGivenName() {
        let a = MatchFeatures(person("1", "Renee", "White", street: "19 Bock Place", postcode: "2137", dob: "1905-04-15"))
        let b = MatchFeatures(person("2", "Callum", "Whiye", street: "19 Bock Place", postcode: "2137", dob: "1905-04-15"))
        #expect(!model.score(a, b, frequencies: NoFrequencies()).guards.contains(.givenNameConflict))
    }

    @Test("a wrong birth date on an otherwise identical record is not a conflict; parent and child with own phones are")
    func wrongBirthDate() {
        let a = MatchFeatures(
            person("1", "Ellen", "Dixon", street: "69 Litchfield Place", city: "Mill Park", postcode: "4053",
                dob: "1971-01-29"))
        let b = MatchFeatures(
            person("2", "Ellen", "Dixon", street: "69 Litchfield Place", city: "Mill Park", postcode: "4053",
                dob: "1928-11-10"))
        #expect(!model.score(a, b, frequencies: NoFrequencies()).guards.contains(.dateOfBirthConflict))
        let parent = MatchFeatures(
            person("3", "Ellen", "Dixon", phone: "07700 900123", street: "69 Litchfield Place", city: "Mill Park",
                postcode: "4053", dob: "1971-01-29"))
        let child = MatchFeatures(
            person("4", "Ellen", "Dixon", phone: "07700 900987", street: "69 Litchfield Place", city: "Mill Park",
                postcode: "4053", dob: "1928-11-10"))
        #expect(model.score(parent, child, frequencies: NoFrequencies()).guards.contains(.dateOfBirthConflict))
    }

    @Test("same-name strangers with nothing else in common do not reach the merge threshold")
    func sameNameStrangers() {
        let a = MatchFeatures(person("1", "John", "Smith", email: "js@a.com", postcode: "SW1A 1AA", dob: "1970-01-05"))
        let b = MatchFeatures(person("2", "John", "Smith", email: "john@b.com", postcode: "M1 1AE", dob: "1991-09-23"))
        var f = NoFrequencies()
        f.counts = ["john": 30_000, "smith": 12_000]
        let s = model.score(a, b, frequencies: f)
        #expect(s.score < config.mergeThreshold)
        let c = MatchFeatures(person("3", "John", "Smith"))
        #expect(
            model.score(c, MatchFeatures(person("4", "John", "Smith")), frequencies: NoFrequencies()).guards.contains(
                .nameOnly))
    }

    @Test("a match on a frequent name is weaker than on a rare one (term frequency)")
    func termFrequency() {
        let a = MatchFeatures(person("1", "John", "Smith"))
        let b = MatchFeatures(person("2", "Xavier", "Quenneville"))
        var f = NoFrequencies()
        f.counts = ["john": 30_000, "smith": 12_000, "xavier": 40, "quenneville": 3]
        #expect(model.score(a, a, frequencies: f).score + 10 < model.score(b, b, frequencies: f).score)
    }

    @Test("swapped first and last names still score as names")
    func swapped() {
        let a = MatchFeatures(person("1", "Keller", "Annika", email: "ak@web.de"))
        let b = MatchFeatures(person("2", "Annika", "Keller", email: "ak@web.de"))
        let s = model.score(a, b, frequencies: NoFrequencies(), explain: true)
        #expect(s.evidence.contains { $0.level == "swapped" })
        #expect(!s.guards.contains(.givenNameConflict))
    }

    @Test("day/month swaps of the birth date are evidence, not a conflict")
    func dobSwap() {
        let a = MatchFeatures(person("1", "Ann", "Lee", dob: "1980-03-07"))
        let b = MatchFeatures(person("2", "Ann", "Lee", dob: "1980-07-03"))
        let s = model.score(a, b, frequencies: NoFrequencies())
        #expect(!s.guards.contains(.dateOfBirthConflict))
    }

    @Test("two address lines are compared line by line and crosswise, the same on text and interned features")
    func twoAddressLines() {
        func record(_ line1: String?, _ line2: String?) -> CustomerRecord {
            person("x", "Kai", "White", street: line1, street2: line2, city: "Parramatta", postcode: "4179")
        }
        let original = record("8 Cockcroft Avenue", "Allunga")
        let cases: [(CustomerRecord, level: Int)] = [
            (record("8 Cockcroft Avenue", "Allunga"), 1),
            (record("Allunga", "8 Cockcroft Avenue"), 1),  // lines swapped
            (record(nil, "Allunga"), 1),  // the first line left empty
            (record("8 Cockcroft Ave", nil), 1),  // one line, abbreviated: the same street key
            (record("8 Cockcrofqt Avenue", nil), 2),  // mistyped
            (record("Alunga", "9 Cockcroft Avenue"), 2),  // the building mistyped, another house number
            (record("9 Cockcroft Avenue", nil), 3),  // another house number
            (record("12 Heard Street", "Summerset"), 3),
        ]
        var store = FeatureStore()
        let compactOriginal = store.intern(MatchFeatures(original))
        for (other, level) in cases {
            let text = model.compare(MatchFeatures(original), MatchFeatures(other))
            let compact = model.compare(compactOriginal, store.intern(MatchFeatures(other)), store)
            #expect(text[.street] == level, "\(other.street ?? "-") / \(other.street2 ?? "-")")
            #expect(compact[.street] == level, "\(other.street ?? "-") / \(other.street2 ?? "-")")
        }
        // One line only: no separator in the value, so records without a second line compare as before.
        #expect(MatchFeatures(record("8 Cockcroft Avenue", nil)).street == "8 cockcroft ave")
        #expect(MatchFeatures(record("8 Cockcroft Avenue", "8 Cockcroft Ave")).street == "8 cockcroft ave")
    }

    @Test("Jaro-Winkler matches the textbook values")
    func jaroWinkler() {
        #expect(abs(Similarity.jaroWinkler("martha", "marhta") - 0.9611) < 0.001)
        #expect(abs(Similarity.jaroWinkler("dixon", "dicksonx") - 0.8133) < 0.001)
        #expect(Similarity.jaroWinkler("", "abc") == 0)
        #expect(Similarity.jaroWinkler("abc", "abc") == 1)
    }

    @Test("the score bound that lets the graph skip hopeless clusters is never below the score")
    func scoreBoundIsAnUpperBound() {
        let rows = SyntheticCustomers(seed: 5).generate(count: 2_000)
        var store = FeatureStore()
        // Two address lines (the generator writes one): equal, swapped and different lines; phones one digit apart.
        let lines = [("8 Cockcroft Avenue", "Allunga"), ("Allunga", "8 Cockcroft Avenue"), ("9 Heard St", "Allunga")]
        let twoLines = lines.enumerated().map { n, line in
            person(
                "l\(n)", "Kai", "White", phone: "+44 7700 90012\(n)", street: line.0, street2: line.1,
                city: "Parramatta", postcode: "4179")
        }
        let features = (rows.map(\.record) + twoLines).map { store.intern(MatchFeatures($0)) }
        for f in features { store.add(f) }
        let trained = MatchModel(parameters: MatchTraining().train(rows.map { MatchFeatures($0.record) }).parameters)
        // Every pair of one person's records (typos, swaps, moves: every level), each record with the next 20
        // (mostly strangers) and every pair among the two-line records.
        var recordsOf: [Int: [Int]] = [:]
        for (i, row) in rows.enumerated() { recordsOf[row.personId, default: []].append(i) }
        var pairs: [(Int, Int)] = recordsOf.values.flatMap { r in r.indices.flatMap { x in r[..<x].map { (r[x], $0) } } }
        for i in features.indices { pairs += (i + 1..<min(i + 21, features.count)).map { (i, $0) } }
        pairs += (rows.count..<features.count).flatMap { i in (rows.count..<features.count).map { (i, $0) } }
        for model in [MatchModel(), trained] {
            var memo = NameLevelMemo()
            var violations = 0
            for (i, j) in pairs {
                let exact = model.exactBits(features[i], store)
                let score = model.score(features[i], features[j], store, &memo, exact: exact).score
                let bound = model.scoreBound(features[i], features[j], store, &memo, exact: exact)
                if bound < score { violations += 1 }
            }
            #expect(violations == 0, "\(violations) of \(pairs.count) pairs scored above their bound")
        }
    }
}
