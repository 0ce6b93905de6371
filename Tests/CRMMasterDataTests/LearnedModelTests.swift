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
}
