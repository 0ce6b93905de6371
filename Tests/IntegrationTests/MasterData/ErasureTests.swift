import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Testing

@testable import CRMMasterData

/// Erasure against a real broker (Tansu): what reaches the golden-record topic and the customer-keyed topics.
@Suite("Erasure", .timeLimit(.minutes(3)))
struct ErasureTests {
    func temporaryDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("mdm-erase-\(UUID().uuidString).sqlite").path
    }

    @Test("erasing a person publishes the erase event and tombstones for the golden id and every source record key")
    func eraseEventAndTombstonesReachTheCompactedTopics() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let events = "crm.golden.customer"
        let customers = "crm.customer"
        try await KafkaTestClient.createTopics(broker.bootstrap, [events, customers], partitions: 1)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let path = temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let resolver = try await MasterDataResolver(
            store: try SQLiteMasterDataStore(path: path),
            sink: KafkaMasterDataEventSink(
                topic: events, producer: producer, erasure: ErasureTombstones(topics: [customers])))
        let a = try await resolver.resolve(
            person("1", "Ann", "Lee", email: "ann.lee@web.de", dob: "1980-01-02", system: "crm"))
        let b = try await resolver.resolve(
            person("C-7", "Ann", "Lee", email: "ann.lee@web.de", dob: "1980-01-02", system: "erp"))
        #expect(a.goldenId == b.goldenId)

        try await resolver.erase(goldenId: a.goldenId, actor: "dpo")
        _ = await producer.flush(timeout: .seconds(10))
        await producer.shutdown()

        let onEvents = try await KafkaTestClient.readAll(broker.bootstrap, topic: events)
        let erasedEvent = try #require(
            onEvents.first { $0.headers.text("crm-event") == "golden-customer-erased" })
        #expect(erasedEvent.keyText == a.goldenId)
        let text = String(decoding: erasedEvent.value, as: UTF8.self)
        #expect(text.contains(a.goldenId) && text.contains("C-7"))
        #expect(!text.contains("ann.lee") && !text.contains("Lee"))
        let last = try #require(onEvents.last)
        #expect(last.isTombstone && last.keyText == a.goldenId)
        #expect(onEvents.filter(\.isTombstone).count == 1)

        let tombstones = try await KafkaTestClient.readAll(broker.bootstrap, topic: customers)
        #expect(tombstones.allSatisfy { $0.isTombstone })
        #expect(Set(tombstones.compactMap(\.keyText)) == [a.goldenId, "crm:1", "erp:C-7"])
    }
}
