import CRMKafka
import CRMMasterData
import Foundation
import Testing

@testable import CRMDelivery

/// The `resolve: true` route step after an erasure: replays and late retries do not bring the person back.
struct ErasureLedgerRouteTests {
    static let customer = #"""
        {"system":"shop","externalId":"42","givenName":"Ada","familyName":"Byron","email":"ada@analytical.engine.uk"}
        """#

    func message(_ json: String, headers: [KafkaHeader] = []) -> ConsumerMessage {
        ConsumerMessage(
            topicPartition: TopicPartition(topic: "raw.customer", partition: 0), offset: 1, key: nil,
            value: Array(json.utf8), headers: headers)
    }

    func temporaryDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("erasure-\(UUID().uuidString).sqlite").path
    }

    @Test func theSameCustomerMessageSentAgainAfterErasureIsDroppedAndNotRecreated() async throws {
        let path = temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let resolver = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        let transform = ResolveTransform(resolver: resolver)
        guard case .produce(let first) = await transform.transform(message(Self.customer)) else {
            Issue.record("the first message should resolve")
            return
        }
        let goldenId = try #require(first.first?.headers.text("crm-golden-id"))
        try await resolver.erase(goldenId: goldenId, actor: "dpo")

        guard case .drop(let reason) = await transform.transform(message(Self.customer)) else {
            Issue.record("a replay of the erased customer should be dropped")
            return
        }
        #expect(!reason.contains("42") && !reason.contains("ada"))
        #expect(await resolver.counts.records == 0)
        #expect(await resolver.goldenId(for: RecordRef(system: "shop", externalId: "42")) == nil)
    }

    @Test func aMessageCarryingTheErasedGoldenIdUnderANewReferenceIsDropped() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let transform = ResolveTransform(resolver: resolver)
        let goldenId = try await resolver.resolve(
            CustomerRecord(system: "shop", externalId: "42", givenName: "Ada", familyName: "Byron")
        ).goldenId
        try await resolver.erase(goldenId: goldenId, actor: "dpo")
        let resent =
            #"{"system":"erp","externalId":"C-7","givenName":"Ada","familyName":"Byron","goldenId":"\#(goldenId)"}"#
        guard case .drop = await transform.transform(message(resent)) else {
            Issue.record("a message carrying the erased golden id should be dropped")
            return
        }
        #expect(await resolver.counts.records == 0)
    }

    @Test func theLedgerBlocksOnlyErasedReferencesSoANewRecordOfThePersonIsResolved() async throws {
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let goldenId = try await resolver.resolve(
            CustomerRecord(system: "shop", externalId: "42", givenName: "Ada", familyName: "Byron")
        ).goldenId
        try await resolver.erase(goldenId: goldenId, actor: "dpo")
        let again = try await resolver.resolve(
            CustomerRecord(system: "shop", externalId: "43", givenName: "Ada", familyName: "Byron"))
        #expect(again.goldenId != goldenId)
        #expect(await resolver.counts.records == 1)
    }

    @Test func theLedgerSurvivesARestartAndReachesADaemonThatFollowsTheChangeFeed() async throws {
        let path = temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record = CustomerRecord(system: "shop", externalId: "42", givenName: "Ada", familyName: "Byron")
        let daemon = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        let goldenId = try await daemon.resolve(record).goldenId

        // The CLI erases on the same store; the running daemon takes the change in.
        let cli = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        try await cli.erase(goldenId: goldenId, actor: "dpo")
        try await daemon.synchronize()
        await #expect(throws: MasterDataError.self) { try await daemon.resolve(record) }

        // A fresh start reads the ledger from the store.
        let restarted = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: path))
        #expect(await restarted.isErased(record.ref))
        await #expect(throws: MasterDataError.self) { try await restarted.resolve(record) }
        let rows = try await SQLiteMasterDataStore(path: path).load()
        #expect(rows.members.isEmpty)
        // The ledger holds hashes only, never the references themselves.
        #expect(rows.erasureLedger == Set(ErasureLedger.entries(goldenId: goldenId, records: [record.ref])))
        #expect(rows.erasureLedger.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
    }
}
