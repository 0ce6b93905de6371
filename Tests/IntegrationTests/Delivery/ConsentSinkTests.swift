import CRMDelivery
import CRMHTTPConnector
import CRMKafka
import CRMMasterData
import CRMModel
import CRMTestSupport
import CRMTransport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// A sink that serves a purpose (`purpose: marketing`) delivers only to customers who granted it, checked at every
/// delivery: against a real broker (Tansu) and a real HTTP target (the recording server).
@Suite(.timeLimit(.minutes(3)))
struct ConsentSinkTests {
    /// Keeps every log line (message and metadata) so the test can check that no personal data was logged.
    final class CapturedLogs: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func append(_ line: String) { lines.withLock { $0.append(line) } }

        struct Handler: LogHandler {
            let logs: CapturedLogs
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                let all = metadata.merging(event.metadata ?? [:]) { $1 }
                logs.append("\(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })")
            }
        }
    }

    @Test func aMarketingSinkSuppressesCustomersWithoutConsentDeliversAfterAGrantAndStopsAfterARevocation()
        async throws
    {
        let broker = try TansuBroker()
        let target = try RecordingHTTPServer()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let logs = CapturedLogs()
        let logger = Logger(label: "consent-test") { _ in CapturedLogs.Handler(logs: logs) }

        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let ada = try await resolver.resolve(
            CustomerRecord(
                system: "shop", externalId: "1", givenName: "Ada", familyName: "Byron",
                email: "ada.byron@analytical.engine.uk"))

        var configuration = SinkService.Configuration(name: "newsletter", topic: "in.newsletter")
        configuration.purpose = "marketing"
        configuration.consentChannel = .email
        try await KafkaTestClient.createTopics(broker.bootstrap, configuration.topics, partitions: 1)
        let sink = SinkService(
            configuration: configuration,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.sink.newsletter", topics: []),
            producer: producer,
            target: HTTPSinkTarget(
                settings: HTTPSinkTarget.Settings(url: "\(target.url)/mail"), client: HTTPClient(concurrency: 2)),
            store: try DeliveryStateStore(path: nil), state: HubState(), logger: logger,
            consent: ConsentGate(purpose: "marketing", channel: .email, resolver: resolver))
        let group = ServiceGroup(services: [sink], logger: Logger(label: "group"))
        let running = Task { try await group.run() }

        func offer(_ n: Int) async throws {
            try await producer.send(
                ProducerMessage(
                    topic: "in.newsletter", key: Array("ada.byron@analytical.engine.uk".utf8),
                    value: Array(#"{"email":"ada.byron@analytical.engine.uk","subject":"Offer \#(n)"}"#.utf8)))
        }
        func subjects() -> [String] {
            target.records().compactMap { record in
                (record["body"] as? String).flatMap { body in
                    (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["subject"] as? String
                }
            }
        }
        let now = Int64(Date().timeIntervalSince1970 * 1_000)

        // 1. No consent statement yet: unknown means no.
        try await offer(1)
        await eventually(timeout: .seconds(60)) { sink.suppressedCount == 1 }
        #expect(target.records().isEmpty)

        // 2. Granted (e.g. a newsletter form): the next offer is delivered.
        try await resolver.recordConsents([
            Consent(
                goldenId: ada.goldenId, purpose: "marketing", channel: .email, status: .granted, source: "web", at: now)
        ])
        try await offer(2)
        await eventually(timeout: .seconds(60)) { sink.deliveredCount == 1 }
        #expect(subjects() == ["Offer 2"])

        // 3. Revoked later: suppressed again, checked at delivery time.
        try await resolver.recordConsents([
            Consent(
                goldenId: ada.goldenId, purpose: "marketing", channel: .any, status: .revoked, source: "crm",
                at: now + 1)
        ])
        try await offer(3)
        await eventually(timeout: .seconds(60)) { sink.suppressedCount == 2 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(subjects() == ["Offer 2"])
        #expect(sink.deliveredCount == 1)

        let suppressions = logs.all.filter { $0.contains("no consent for the sink's purpose") }
        #expect(suppressions.count == 2)
        #expect(suppressions.allSatisfy { $0.contains("keyFingerprint=") && $0.contains("offset=") })
        #expect(suppressions.contains { $0.contains("consent=unknown") })
        #expect(suppressions.contains { $0.contains("consent=revoked") })
        #expect(
            !logs.all.contains { $0.lowercased().contains("ada.byron@analytical.engine.uk") },
            "no e-mail address in any log line")

        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
        target.stop()
    }

    @Test func messagesQueuedForATargetBeforeAnErasureAreNotDeliveredAfterIt() async throws {
        let broker = try TansuBroker()
        let target = try RecordingHTTPServer()
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let logs = CapturedLogs()
        let logger = Logger(label: "erasure-test") { _ in CapturedLogs.Handler(logs: logs) }
        let resolver = try await MasterDataResolver(store: InMemoryMasterDataStore())
        let ada = try await resolver.resolve(
            CustomerRecord(
                system: "shop", externalId: "1", givenName: "Ada", familyName: "Byron",
                email: "ada.byron@analytical.engine.uk"))
        let bo = try await resolver.resolve(
            CustomerRecord(
                system: "shop", externalId: "2", givenName: "Bo", familyName: "Chen", email: "bo.chen@lantern-works.co.uk"))
        let configuration = SinkService.Configuration(name: "erp-party", topic: "sink.erp.party")
        try await KafkaTestClient.createTopics(broker.bootstrap, configuration.topics, partitions: 1)

        // Queued for the ERP while its sink lags: Ada's party by golden id, Ada by her shop record key, Bo's party.
        func party(_ key: String, goldenId: String?, _ body: String) async throws {
            try await producer.send(
                ProducerMessage(
                    topic: "sink.erp.party", key: Array(key.utf8), value: Array(body.utf8),
                    headers: goldenId.map { [KafkaHeader(key: EnvelopeHeader.goldenID, text: $0)] } ?? []))
        }
        try await party(ada.goldenId, goldenId: ada.goldenId, #"{"code":"\#(ada.goldenId)","name":"Ada Byron"}"#)
        try await party("shop:1", goldenId: nil, #"{"name":"Ada Byron","email":"ada.byron@analytical.engine.uk"}"#)
        try await party(bo.goldenId, goldenId: bo.goldenId, #"{"code":"\#(bo.goldenId)","name":"Bo Chen"}"#)
        try await resolver.erase(goldenId: ada.goldenId, actor: "dpo")

        let sink = SinkService(
            configuration: configuration,
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "hub.sink.erp-party", topics: []),
            producer: producer,
            target: HTTPSinkTarget(
                settings: HTTPSinkTarget.Settings(url: "\(target.url)/party"), client: HTTPClient(concurrency: 2)),
            store: try DeliveryStateStore(path: nil), state: HubState(), logger: logger,
            erasure: ErasureGate(resolver: resolver))
        let group = ServiceGroup(services: [sink], logger: Logger(label: "group"))
        let running = Task { try await group.run() }

        await eventually(timeout: .seconds(60)) { sink.deliveredCount + sink.suppressedCount == 3 }
        #expect(sink.deliveredCount == 1)
        #expect(sink.suppressedCount == 2, "both of Ada's messages are held back")
        let names = target.records().compactMap { record in
            (record["body"] as? String).flatMap { body in
                (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["name"] as? String
            }
        }
        #expect(names == ["Bo Chen"])
        let lines = logs.all.filter { $0.contains("message about an erased person") }
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("keyFingerprint=") })
        #expect(!logs.all.contains { $0.contains("Ada") || $0.contains("ada.byron") || $0.contains("shop:1") })

        await group.triggerGracefulShutdown()
        try await running.value
        await producer.shutdown()
        target.stop()
    }
}
