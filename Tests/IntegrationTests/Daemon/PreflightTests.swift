import CRMKafka
import CRMTestSupport
import Foundation
import Logging
import Testing

@testable import CRMHub

/// The start-up check against a real broker when the hub may not create topics.
@Suite(.timeLimit(.minutes(2)))
struct PreflightTests {
    let logger = Logger(label: "test")

    @Test func withoutTopicCreationASinksMissingParkedKeysTopicIsNamedWithItsCompactionUntilItExists() async throws {
        let broker = try TansuBroker()
        defer { broker.stop() }
        let directory = URL(fileURLWithPath: try temporaryFolder([:], prefix: "crmhub-preflight"))
        let connectors = directory.appendingPathComponent("connectors")
        try FileManager.default.createDirectory(at: connectors, withIntermediateDirectories: true)
        try """
        name: erp-party
        kind: http-sink
        topic: sink.erp.party
        url: http://127.0.0.1:9/party
        retry: {in_place_attempts: 2, initial_backoff_ms: 100, max_backoff_ms: 200, topics: [1m]}
        """.write(to: connectors.appendingPathComponent("erp-party.yaml"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          create_topics: false
        connectors: connectors
        routes:
          - {name: parties, from: raw.party, to: sink.erp.party}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let runtime = HubRuntime(configuration: try HubConfiguration.load(path: path), logger: logger)
        // Everything the route and the sink read or write exists; the parked-keys topic does not.
        try await KafkaTestClient.createTopics(
            broker.bootstrap, ["raw.party", "dlq.parties", "sink.erp.party", "dlq.erp-party", "retry.erp-party.1"],
            partitions: 1)

        let refused = await #expect(throws: HubRuntime.StartupError.self) { try await runtime.preflight() }
        let message = refused?.description ?? ""
        #expect(message.contains("'parked.erp-party' (sink erp-party's parked keys: cleanup.policy=compact"), "\(message)")
        #expect(!message.contains("raw.party"), "only what is missing is named: \(message)")

        try await KafkaTestClient.createTopics(broker.bootstrap, ["parked.erp-party"], partitions: 1)
        try await runtime.preflight()
    }
}
