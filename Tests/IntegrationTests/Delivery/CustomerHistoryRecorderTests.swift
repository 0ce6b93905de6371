import CRMDelivery
import CRMKafka
import CRMMasterData
import CRMModel
import CRMTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The contact history fed from the stream (Tansu): orders, tickets and consent messages become entries and
/// statements on the golden customer, a redelivery adds nothing, and `crmhub mdm timeline` pages through them.
@Suite(.timeLimit(.minutes(3)))
struct CustomerHistoryRecorderTests {
    @Test func streamedOrdersTicketsAndConsentReachTheTimelineOnceAndTheCLIPrintsItInPages() async throws {
        let broker = try TansuBroker()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-history-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("mdm.sqlite").path
        let resolver = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: db))
        let ann = try await resolver.resolve(
            CustomerRecord(
                system: "erp", externalId: "P-1", givenName: "Ann", familyName: "Lee", email: "ann.lee@mailbox.co.uk"))

        let topics: [String: HistoryTopicKind] = ["crm.order": .order, "crm.ticket": .ticket, "crm.consent": .consent]
        try await KafkaTestClient.createTopics(broker.bootstrap, topics.keys.sorted(), partitions: 1)
        let recorder = CustomerHistoryRecorder(
            resolver: resolver, topics: topics,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.history", topics: []),
            logger: Logger(label: "history"))
        let group = ServiceGroup(services: [recorder], logger: Logger(label: "group"))
        let running = Task { try await group.run() }

        let order =
            #"{"id":"SO-1","customerRef":"erp:P-1","currency":"EUR","total":"10.00","status":"confirmed","orderedOn":"2026-07-01"}"#
        let ticket =
            #"{"id":"email-9","subject":"Invoice question","body":"long text","channel":"email","customerRef":"email:ann.lee@mailbox.co.uk","receivedAt":"2026-07-02T10:00:00Z"}"#
        let consent =
            #"{"email":"ann.lee@mailbox.co.uk","purpose":"marketing","channel":"email","status":"granted","at":"2026-07-03T10:00:00Z","source":"web"}"#
        for (topic, value) in [
            ("crm.order", order), ("crm.ticket", ticket), ("crm.consent", consent), ("crm.order", order),
            ("crm.ticket", ticket),
        ] {
            try await producer.send(ProducerMessage(topic: topic, key: nil, value: Array(value.utf8)))
        }
        await eventually(timeout: .seconds(60)) {
            let entries = (try? await resolver.timeline(goldenId: ann.goldenId, limit: 10).entries) ?? []
            let consents = (try? await resolver.consents(goldenId: ann.goldenId)) ?? []
            return entries.count >= 2 && !consents.isEmpty
        }
        try await Task.sleep(for: .seconds(1))  // the redelivered copies must add nothing
        let page = try await resolver.timeline(goldenId: ann.goldenId, limit: 10)
        #expect(page.entries.map(\.ref) == ["email-9", "SO-1#confirmed"])
        #expect(page.entries.map(\.kind) == ["email", "order"])
        #expect(
            try await resolver.consent(goldenId: ann.goldenId, purpose: "marketing", channel: .email).allows)
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()

        // The CLI: one entry per page, then the next page from the printed cursor.
        let (status, first) = try ChildProcess.run(
            try crmhubBinary(), ["mdm", "timeline", ann.goldenId, "--db", db, "--limit", "1"], errorPath: "/dev/null",
            timeout: 120)
        #expect(status == 0)
        let lines = first.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("inbound\temail\temail\tcrm.ticket/email-9\tInvoice question") == true)
        let cursor = try #require(lines.last?.hasPrefix("next: ") == true ? lines.last?.dropFirst(6) : nil)
        let (_, second) = try ChildProcess.run(
            try crmhubBinary(),
            ["mdm", "timeline", ann.goldenId, "--db", db, "--limit", "1", "--before", String(cursor)],
            errorPath: "/dev/null", timeout: 120)
        #expect(second.contains("crm.order/SO-1#confirmed\tOrder SO-1 confirmed, 10.00 EUR"))
        #expect(!second.contains("next:"))
    }

    @Test func aTicketThatArrivesBeforeItsCustomerIsResolvedIsAttributedWithinTheGrace() async throws {
        let broker = try TansuBroker()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-history-\(UUID()).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: db) }
        let resolver = try await MasterDataResolver(store: try SQLiteMasterDataStore(path: db))
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.ticket"], partitions: 1)
        let recorder = CustomerHistoryRecorder(
            resolver: resolver, topics: ["crm.ticket": .ticket],
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.history", topics: []),
            attributionGrace: .seconds(20), logger: Logger(label: "history"))
        let group = ServiceGroup(services: [recorder], logger: Logger(label: "group"))
        let running = Task { try await group.run() }

        // The recorder is consuming: a known customer's ticket is recorded.
        let ann = try await resolver.resolve(
            CustomerRecord(
                system: "erp", externalId: "P-1", givenName: "Ann", familyName: "Lee", email: "ann.lee@mailbox.co.uk"))
        let known = #"{"id":"email-1","subject":"Hello","channel":"email","customerRef":"email:ann.lee@mailbox.co.uk"}"#
        try await producer.send(ProducerMessage(topic: "crm.ticket", key: nil, value: Array(known.utf8)))
        try #require(
            await eventually(timeout: .seconds(60), poll: .milliseconds(100)) {
                ((try? await resolver.timeline(goldenId: ann.goldenId, limit: 10).entries) ?? []).count == 1
            })

        // A first-time visitor's form: its ticket is read before the resolving route made the customer.
        let ticket =
            #"{"id":"web-1","subject":"Website enquiry","channel":"web","customerRef":"web:bo.chen@lantern-works.co.uk"}"#
        try await producer.send(ProducerMessage(topic: "crm.ticket", key: nil, value: Array(ticket.utf8)))
        try await Task.sleep(for: .seconds(2))
        let bo = try await resolver.resolve(
            CustomerRecord(
                system: "web", externalId: "1", givenName: "Bo", familyName: "Chen",
                email: "bo.chen@lantern-works.co.uk"))
        let recorded = await eventually(timeout: .seconds(30), poll: .milliseconds(200)) {
            ((try? await resolver.timeline(goldenId: bo.goldenId, limit: 10).entries) ?? []).map(\.ref) == ["web-1"]
        }
        #expect(recorded, "the form is on the timeline of the customer resolved after it")
        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
    }
}
