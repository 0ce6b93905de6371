import CRMKafka
import CRMTestSupport
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Testing

@testable import CRMHub

/// Mapping lookups against the master data in the running daemon: tickets and orders mapped by the shipped mappings
/// carry the golden id of the customer that a resolving route made.
@Suite(.timeLimit(.minutes(3)))
struct GoldenIdLookupTests {
    let logger = Logger(label: "test")

    @Test func ticketsFromTheWebAndFromMailCarryTheGoldenIdOfTheResolvedCustomer() async throws {
        let broker = try TansuBroker()
        let directory = URL(fileURLWithPath: try temporaryFolder([:], prefix: "crmhub-golden-lookup"))
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          topic_partitions: 1
        store:
          path: md.sqlite
        state_dir: state
        mappings: \(repositoryRoot.appendingPathComponent("Mappings").path)
        connectors: connectors
        http: {host: 127.0.0.1, port: \(try freePort())}
        routes:
          - name: forms
            from: raw.webform
            mapping: web-form
            to: {customer: raw.customer, ticket: crm.ticket}
          - name: mail
            from: raw.mail
            mapping: inbound-email
            to: crm.ticket
          - name: customers
            from: raw.customer
            to: crm.customer
            resolve: true
        """.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("connectors"), withIntermediateDirectories: true)
        let configuration = try HubConfiguration.load(path: path)
        let daemon = try await HubDaemon.make(
            configuration: configuration, metrics: PrometheusCollectorRegistry(), logger: logger)
        let group = ServiceGroup(services: daemon.services, logger: logger)
        let running = Task { try await group.run() }
        let input = try KafkaTestClient.producer(broker.bootstrap)

        // The first form makes the customer (its own ticket is mapped before the customer is resolved).
        try await input.send(
            ProducerMessage(
                topic: "raw.webform",
                value: Array(
                    #"{"submission_id": 1, "first_name": "Ada", "last_name": "Byron", "email": "Ada.Byron@Analytical-Engines.co.uk"}"#
                        .utf8)))
        let customer = try #require(
            try await KafkaTestClient.collect(broker.bootstrap, topic: "crm.customer", count: 1, timeout: .seconds(60))
                .first)
        let goldenId = try #require(customer.headers.text("crm-golden-id"))

        // Later contacts from the same address: a second form with a message, and an e-mail.
        try await input.send(
            ProducerMessage(
                topic: "raw.webform",
                value: Array(
                    #"{"submission_id": 2, "first_name": "Ada", "last_name": "Byron", "email": "ada.byron@analytical-engines.co.uk", "message": "Call me"}"#
                        .utf8)))
        try await input.send(
            ProducerMessage(
                topic: "raw.mail",
                value: Array(
                    #"{"message_id": "<m1@x>", "from": "Ada Byron <ADA.BYRON@analytical-engines.co.uk>", "subject": "Hello", "text": "Hi", "received_at": "2026-12-01T10:00:00Z"}"#
                        .utf8)))
        // And a stranger's mail: no golden id rather than a wrong one.
        try await input.send(
            ProducerMessage(
                topic: "raw.mail",
                value: Array(
                    #"{"message_id": "<m2@x>", "from": "someone@elsewhere.co.uk", "subject": "Hi", "text": "Hi", "received_at": "2026-12-01T10:01:00Z"}"#
                        .utf8)))
        let tickets = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.ticket", count: 3, timeout: .seconds(60))
        let byId = Dictionary(
            try tickets.map { message -> (String, [String: Any]) in
                let body = try #require(try JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])
                return (body["id"] as? String ?? "", body)
            }, uniquingKeysWith: { a, _ in a })
        #expect(byId["web-2"]?["goldenId"] as? String == goldenId)
        #expect(byId["email-m1@x"]?["goldenId"] as? String == goldenId)
        #expect(byId["email-m2@x"] != nil)
        #expect(byId["email-m2@x"]?["goldenId"] == nil)

        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }
}
