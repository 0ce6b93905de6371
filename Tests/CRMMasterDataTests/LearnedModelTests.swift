import Foundation
import Testing

@testable import CRMMasterData

@Suite("Learned match model")
struct LearnedModelTests {
    @Test("EM learns m-probabilities and a prior from unlabelled records that are close to the generator's truth")
    func learnsFromUnlabelledData() {
        let rows = SyntheticCustomers(seed: 21).generate(count: 20_000)
        let features = rows.map { MatchFeatures($0.record) }
        let report = MatchTraining().train(features)
        let p = report.parameters
        #expect(p != MatchModel.Parameters.prior)
        // Most records of one person carry the same family name and birth date; strangers rarely do.
        #expect(p.m[ComparedField.family.rawValue][1] > 0.8)
        #expect(p.m[ComparedField.dob.rawValue][1] > 0.85)
        #expect(p.u[ComparedField.dob.rawValue][1] < 0.001)
        // The prior is the share of matching pairs among all pairs, within a factor of four of the truth.
        var sizes: [Int: Int] = [:]
        for r in rows { sizes[r.personId, default: 0] += 1 }
        let truePairs = Double(sizes.values.reduce(0) { $0 + $1 * ($1 - 1) / 2 })
        let trueBits = log2(truePairs / (Double(rows.count) * Double(rows.count - 1) / 2))
        #expect(abs(p.priorBits - trueBits) < 2, "prior \(p.priorBits) vs \(trueBits)")
    }

    @Test("too few records keep the documented priors")
    func fewRecordsKeepPriors() {
        let features = SyntheticCustomers(seed: 3).generate(count: 100).map { MatchFeatures($0.record) }
        #expect(MatchTraining().train(features).parameters == .prior)
    }

    @Test("records with names, address and birth date only still link; a household member does not")
    func linksWithoutEmailOrPhone() {
        var g = IdentityGraph()
        let a = g.resolve(
            person(
                "1", "Hans-Theo", "Capecchi", street: "Schwitalring 167", city: "Rochlitz", postcode: "41018",
                country: "DE", dob: "04.11.1994"))
        let b = g.resolve(
            person(
                "2", "Han-Theo", "Capecchi", street: "Schwitarling 167", city: "Rochlitz", postcode: "41018",
                country: "DE", dob: "1994-11-04"))
        let c = g.resolve(
            person(
                "3", "Giulia", "Capecchi", street: "Schwitalring 167", city: "Rochlitz", postcode: "41018",
                country: "DE", dob: "1996-02-17"))
        #expect(
            b.goldenId == a.goldenId,
            "\(g.explain(b.ref, against: a.ref).map { "\($0.score) \($0.guards) \($0.evidence)" } ?? "")")
        #expect(c.goldenId != a.goldenId && c.decision == .created)
    }

    @Test("a record that matches two fragments of one person bridges them into one golden record")
    func bridgesFragments() {
        var g = IdentityGraph()
        let a = g.resolve(
            person("1", "Cameron", "Nolan", street: "206 Nicholls Unions", postcode: "S2W 3HB", dob: "24.07.1935"))
        let b = g.resolve(
            person("2", "Cameron", "Nolan", street: "215 Kieran Branch", city: "Marshallport", postcode: "G20 6DU"))
        #expect(a.goldenId != b.goldenId)
        let c = g.resolve(
            person(
                "3", "Cameron", "Nolan", street: "215 Kieran Branch", city: "Marshallport", postcode: "G20 6DU",
                dob: "1935-07-24"))
        #expect(c.decision == .joined && c.absorbed.count == 1)
        #expect(g.goldenId(for: a.ref) == g.goldenId(for: b.ref))
        #expect(g.goldenCount == 1)
    }

    @Test("swapped names with an initial on one side are still one person")
    func swappedWithInitial() {
        let m = MatchModel()
        let v = m.compare(MatchFeatures(person("1", "A.", "Hussain")), MatchFeatures(person("2", "Hussain", "Amelia")))
        #expect(v.swapped && v[.given] == 4 && v[.family] == 1)
        #expect(!MatchModel.guards(v).contains(.givenNameConflict))
    }

    /// Two records per person, each person at an address of their own; one in five second records carries a
    /// replaced given name and one in seven a replaced birth date. With `households`, every other address also
    /// holds a second person of the same family name (own given name and birth date, two records).
    private func sameAddressPopulation(households: Bool) -> [MatchFeatures] {
        let givenNames = [
            "Amelia", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Katja",
            "Liam", "Mara", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tara",
        ]
        let syllables = ["bar", "ken", "dol", "mir", "tus", "fen", "gar", "lon", "pes", "rik"]
        func word(_ i: Int) -> String {
            let w = syllables[i % 10] + syllables[i / 10 % 10] + syllables[i / 100 % 10]
            return w.prefix(1).uppercased() + w.dropFirst()
        }
        var records: [MatchFeatures] = []
        func add(_ id: String, _ given: String, _ family: String, _ address: Int, _ dob: String) {
            records.append(
                MatchFeatures(
                    person(
                        id, given, family, street: "\(address % 90 + 1) \(word(address + 7)) Road",
                        city: word(address / 3), postcode: String(1000 + address), dob: dob)))
        }
        for i in 0..<700 {
            let family = word(i)
            let dob = "19\(50 + i % 40)-0\(1 + i % 9)-1\(i % 10)"
            add("\(i)a", givenNames[i % 20], family, i, dob)
            add(
                "\(i)b", givenNames[(i % 5 == 0 ? i + 7 : i) % 20], family, i,
                i % 7 == 0 ? "19\(50 + (i + 11) % 40)-0\(1 + (i + 4) % 9)-2\(i % 10)" : dob)
            if households && i % 2 == 0 {
                let housemateDob = "19\(50 + (i + 23) % 40)-1\(i % 3)-0\(1 + i % 9)"
                add("\(i)c", givenNames[(i + 13) % 20], family, i, housemateDob)
                add("\(i)d", givenNames[(i + 13) % 20], family, i, housemateDob)
            }
        }
        return records
    }

    @Test("how often one family at one address is one person is learned: high without households, low with them")
    func learnsSameAddressShare() throws {
        let alone = try #require(MatchTraining().train(sameAddressPopulation(households: false)).parameters.sameAddressBits)
        let shared = try #require(MatchTraining().train(sameAddressPopulation(households: true)).parameters.sameAddressBits)
        #expect(alone > 6, "\(alone)")
        #expect(shared < 2, "\(shared)")
        #expect(MatchModel.Parameters.prior.sameAddressBits == nil)
    }

    @Test("a given-name conflict at one family address is lifted only where the data say such pairs are one person")
    func sameAddressConflictLift() {
        func record(
            _ id: String, _ given: String, _ family: String = "Spratt", phone: String? = nil, dob: String? = nil,
            city: String = "Shoalwater", postcode: String = "2587"
        ) -> MatchFeatures {
            MatchFeatures(
                person(
                    id, given, family, phone: phone, street: "16 Bastow Circuit", city: city, postcode: postcode,
                    dob: dob))
        }
        func conflict(_ a: MatchFeatures, _ b: MatchFeatures, sameAddressBits: Double?) -> Bool {
            var parameters = MatchModel.Parameters.prior
            parameters.sameAddressBits = sameAddressBits
            let model = MatchModel(parameters: parameters)
            return model.guardMask(model.compare(a, b)) & GuardMask.givenNameConflict != 0
        }
        let campbell = record("1", "Campbell")
        let isabelle = record("2", "Isabelle")
        #expect(conflict(campbell, isabelle, sameAddressBits: nil))  // not learned: the written rule
        #expect(!conflict(campbell, isabelle, sameAddressBits: 9))  // no households in the data
        #expect(conflict(campbell, isabelle, sameAddressBits: 1))  // a third of such pairs are two people
        // A family name one letter off and a mistyped postcode are still one family at one address; a postcode
        // that differs in another town is not.
        #expect(!conflict(record("7", "Joel", "Reid"), record("8", "Karen", "Reif", postcode: "2857"), sameAddressBits: 9))
        #expect(conflict(campbell, record("9", "Isabelle", city: "Dunkeld", postcode: "3300"), sameAddressBits: 9))
        // Twins: the same birth date and different given names. One person with a replaced given name by the
        // written rule; where the data show households, the learned share decides, and keeps them apart.
        let twin = record("10", "Campbell", dob: "1980-03-12")
        let other = record("11", "Isabelle", dob: "1980-03-12")
        #expect(!conflict(twin, other, sameAddressBits: nil))
        #expect(conflict(twin, other, sameAddressBits: 1))
        #expect(!conflict(twin, other, sameAddressBits: 9))
        // A phone that differs tells two people apart, whatever the data say about addresses.
        #expect(conflict(record("3", "Campbell", phone: "0400 111 222"), record("4", "Isabelle", phone: "0400 333 444"), sameAddressBits: 9))
        // Agreement does not count for the lift (twins share a birth date): a typo-close birth date does not
        // outweigh the given name, though it would for two strangers.
        #expect(conflict(record("5", "Campbell", dob: "1980-03-12"), record("6", "Isabelle", dob: "1980-03-21"), sameAddressBits: 3))
    }
}
