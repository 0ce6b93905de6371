import CRMMapping
import CRMMasterData
import CRMModel
import Foundation
import Testing

@testable import CRMDelivery

/// `golden-by-email`, `golden-by-phone` and `golden-by-ref` answered from a resolver's master data (SQLite).
@Suite struct MasterDataMappingLookupTests {
    func resolver() async throws -> MasterDataResolver {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-lookup-\(UUID()).sqlite").path
        return try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
    }

    func person(
        _ system: String, _ id: String, _ given: String, _ family: String, email: String?, phone: String?
    )
        -> CustomerRecord
    {
        var record = CustomerRecord(system: system, externalId: id)
        record.givenName = given
        record.familyName = family
        record.email = email
        record.phone = phone
        record.country = "GB"
        return record
    }

    @Test func answersTheGoldenIdByEmailPhoneAndSourceRecord() async throws {
        let resolver = try await resolver()
        let ada = try await resolver.resolve(
            person(
                "shop", "s-1", "Ada", "Byron", email: "ada.byron@analytical-engines.co.uk", phone: "+44 20 7946 0018"))
        let lookup = MasterDataMappingLookup()
        lookup.attach(resolver.index)

        #expect(
            try lookup.lookup(table: "golden-by-email", key: "Ada.Byron@ANALYTICAL-ENGINES.co.uk")
                == .string(ada.goldenId))
        #expect(try lookup.lookup(table: "golden-by-phone", key: "020 7946 0018") == .string(ada.goldenId))
        #expect(try lookup.lookup(table: "golden-by-ref", key: "shop/s-1") == .string(ada.goldenId))
        #expect(try lookup.lookup(table: "golden-by-email", key: "nobody@analytical-engines.co.uk") == nil)
        #expect(try lookup.lookup(table: "golden-by-ref", key: "shop/s-2") == nil)
    }

    @Test func anAddressSharedByTwoCustomersAnswersNoGoldenIdRatherThanAStrangers() async throws {
        let resolver = try await resolver()
        let first = try await resolver.resolve(
            person("crm", "1", "Tom", "Jones", email: "family@jones-patel.co.uk", phone: nil))
        let second = try await resolver.resolve(
            person("crm", "2", "Priya", "Patel", email: "family@jones-patel.co.uk", phone: nil))
        #expect(first.goldenId != second.goldenId)
        let lookup = MasterDataMappingLookup()
        lookup.attach(resolver.index)
        #expect(try lookup.lookup(table: "golden-by-email", key: "family@jones-patel.co.uk") == nil)
    }

    @Test func answersNullWithoutMasterDataAndRefusesUnknownServicesAndMalformedReferences() async throws {
        let lookup = MasterDataMappingLookup()
        #expect(try lookup.lookup(table: "golden-by-email", key: "a@b.example") == nil, "no master data: no golden id")
        lookup.attach(try await resolver().index)
        #expect(throws: MasterDataLookupError.self) { try lookup.lookup(table: "owners", key: "x") }
        #expect(throws: MasterDataLookupError.self) { try lookup.lookup(table: "golden-by-ref", key: "no-slash") }
        #expect(throws: MasterDataLookupError.self) { try lookup.lookup(table: "golden-by-ref", key: "/42") }
    }

    @Test func aMappingTestCaseCanStandInForLookupServicesAndTheMappingNamesTheServicesItUses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-lookup-map-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try """
        name: order
        input: test
        output: OrderPaymentStatus
        key: id
        fields:
          orderRef: {path: id, required: true}
          status: {const: paid}
          goldenId: {path: email, fn: [email], lookup: {service: golden-by-email, optional: true}}
        tests:
          - name: known customer
            lookups: {golden-by-email: {a@b.example: G-1}}
            input: {id: O-1, email: A@B.example}
            expect: {OrderPaymentStatus: {orderRef: O-1, status: paid, goldenId: G-1}}
          - name: no stand-in answers null
            input: {id: O-2, email: a@b.example}
            expect: {OrderPaymentStatus: {orderRef: O-2, status: paid}}
        """.write(to: directory.appendingPathComponent("order.yaml"), atomically: true, encoding: .utf8)
        let library = try MappingLibrary.load(directory: directory.path)
        let mapping = try #require(library.mapping(named: "order"))
        #expect(mapping.services == ["golden-by-email"])
        let outcomes = mapping.runTests()
        #expect(outcomes.count == 2)
        #expect(outcomes.filter { !$0.passed }.map(\.detail) == [])
    }
}
