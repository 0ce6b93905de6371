import CRMModel
import Testing

@testable import CRMMasterData

@Suite("Customer messages")
struct CustomerMessageTests {
    static let canonical =
        #"{"id":"crm:123","kind":"person","givenName":"Jane","familyName":"Doe","displayName":"Jane Doe","emails":["jane.doe@example.org"],"phones":["+442079460018"],"address":{"line1":"1 High St","line2":"Flat 2","city":"London","postalCode":"EC1A 1BB","country":"GB"},"lifetimeValue":1234.50,"tags":["vip"],"externalIds":{"crm":"123"}}"#

    @Test("a canonical Customer is read into the resolver's record")
    func readsCanonicalCustomer() throws {
        let m = try CustomerMessage(bytes: Array(Self.canonical.utf8))
        #expect(m.isCanonical)
        #expect(m.record.ref == RecordRef(system: "crm", externalId: "123"))
        #expect(m.record.givenName == "Jane" && m.record.familyName == "Doe")
        #expect(m.record.email == "jane.doe@example.org" && m.record.phone == "+442079460018")
        #expect(m.record.street == "1 High St" && m.record.postcode == "EC1A 1BB" && m.record.country == "GB")
        #expect(m.record.street2 == "Flat 2")
    }

    @Test("the golden id is written back without touching anything else (order, decimals)")
    func writesGoldenIdByteFaithfully() throws {
        let m = try CustomerMessage(bytes: Array(Self.canonical.utf8))
        let out = String(decoding: m.resolved(goldenId: "G1", decision: .joined), as: UTF8.self)
        #expect(out == String(Self.canonical.dropLast()) + #","goldenId":"G1"}"#)
    }

    @Test("the envelope's source system picks the cross-reference among several external ids")
    func sourceSystemPicksExternalId() throws {
        let json = #"{"id":"x","displayName":"Ann Lee","externalIds":{"erp":"100234","shop":"s-9"}}"#
        let m = try CustomerMessage(bytes: Array(json.utf8), sourceSystem: "shop")
        #expect(m.record.ref == RecordRef(system: "shop", externalId: "s-9"))
        #expect(m.record.givenName == "Ann" && m.record.familyName == "Lee")
        let n = try CustomerMessage(bytes: Array(json.utf8))
        #expect(n.record.ref == RecordRef(system: "customer", externalId: "x"))
    }

    @Test("a flat record keeps working and gets goldenId and resolution")
    func flatRecord() throws {
        let json = #"{"system":"shop","externalId":"s-1","givenName":"Jo","email":"jo@x.org"}"#
        let m = try CustomerMessage(bytes: Array(json.utf8))
        #expect(!m.isCanonical && m.record.ref == RecordRef(system: "shop", externalId: "s-1"))
        let out = String(decoding: m.resolved(goldenId: "G2", decision: .created), as: UTF8.self)
        #expect(out == String(json.dropLast()) + #","goldenId":"G2","resolution":"created"}"#)
    }

    @Test(
        "input that is not a customer is rejected with a reason free of personal data",
        arguments: [
            (#"[1,2]"#, "the value is not a JSON object"),
            (#"{"system":"crm","name":"secret person"}"#, "missing field 'externalId'"),
            (#"{"id":"c1","emails":"secret@x.org"}"#, "field 'emails' has the wrong type"),
            (
                #"{"id":"c1","givenName":42.5e1,"address":{"city":["Secretville"]}}"#,
                "field 'address.city' has the wrong type"
            ),
            (#"{"id":"c1","address":{"city":"Secretville"}}"#, "no usable field"),
            (#"{"id":"c1","#, "the value is not JSON"),
        ])
    func rejectsNonCustomers(json: String, reason: String) {
        do {
            _ = try CustomerMessage(bytes: Array(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(reason))
            #expect(!error.description.contains("secret") && !error.description.contains("Secret"))
        }
    }
}
