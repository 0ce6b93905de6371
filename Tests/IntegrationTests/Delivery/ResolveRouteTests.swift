import CRMAdminHTTP
import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceLifecycle
import Testing

@testable import CRMHub

/// A route with `resolve: true` on a real broker: the same person from two systems gets one golden id, and the
/// golden-record change events are on their topic.
@Suite(.timeLimit(.minutes(3)))
struct ResolveRouteTests {
    let logger = Logger(label: "test")

    @Test(arguments: ["sqlite", "postgres"])
    func customersFromTwoSystemsGetOneGoldenIdAndChangeEventsArePublished(_ storeKind: String) async throws {
        let store =
            storeKind == "postgres"
            ? "kind: postgres\n  url: \"\(try await offPool { try PostgresServer.shared().createDatabase() })\""
            : "path: md.sqlite"
        let broker = try TansuBroker()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-resolve-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          topic_partitions: 1
        store:
          \(store)
        routes:
          - name: customers
            from: raw.customer
            to: crm.customer
            resolve: true
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try HubConfiguration.load(path: path)
        let runtime = HubRuntime(configuration: configuration, logger: logger)
        try await runtime.preflight()
        let hub = try await runtime.makeServices { _ in IdentityTransform() }
        let group = ServiceGroup(services: hub.services, logger: logger)
        let running = Task { try await group.run() }

        let input = try KafkaTestClient.producer(broker.bootstrap)
        let records = [
            #"{"system":"shop","externalId":"s-1","givenName":"Jonathan","familyName":"Smithson","email":"Jon.Smithson+shop@gmail.com","phone":"+44 20 7946 0018","country":"GB","postcode":"SW1A 1AA"}"#,
            #"{"system":"erp","externalId":"100234","givenName":"Jonathan","familyName":"Smithson","email":"jonsmithson@gmail.com","phone":"+44 20 7946 0018","country":"GB","postcode":"SW1A1AA"}"#,
            #"{"system":"crm","externalId":"c-9","givenName":"Maria","familyName":"Garcia","email":"maria.garcia@example.es","country":"ES"}"#,
            #"{"system":"crm","name":"no external id"}"#,
        ]
        for record in records {
            try await input.send(ProducerMessage(topic: "raw.customer", value: Array(record.utf8)))
        }

        let output = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.customer", count: 3, timeout: .seconds(60))
        let golden = output.map { $0.headers.text("crm-golden-id") }
        #expect(output.count == 3)
        #expect(golden[0] != nil && golden[0] == golden[1], "shop and ERP records are one person")
        #expect(golden[2] != nil && golden[2] != golden[0])
        let body = try #require(try JSONSerialization.jsonObject(with: Data(output[1].value)) as? [String: Any])
        #expect(body["goldenId"] as? String == golden[1])
        #expect(body["resolution"] as? String == "joined")

        let events = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.golden.customer", count: 3, timeout: .seconds(30))
        #expect(
            events.map { $0.headers.text("crm-event") } == [
                "golden-customer-created", "golden-customer-updated", "golden-customer-created",
            ])
        let parked = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.customers", count: 1, timeout: .seconds(30))
        #expect(DeadLetter(try #require(parked.first)).reason == "not a customer record: missing field 'externalId'")

        // The admin API answers lookups from the same master data (what a CTI screen-pop asks).
        let resolver = try #require(hub.resolver)
        let app = Application(
            router: AdminServer.makeRouter(
                state: HubState(), routes: [], registry: PrometheusCollectorRegistry(), masterData: resolver,
                token: Array("admin-token".utf8)))
        let admin: HTTPFields = [.authorization: "Bearer admin-token"]
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/mdm/customers?email=JonSmithson%40googlemail.com", method: .get, headers: admin
            ) {
                response in
                #expect(response.status == .ok)
                let found = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]
                #expect(found?.first?["id"] as? String == golden[0])
            }
            try await client.execute(uri: "/mdm/customers?system=erp&external_id=100234", method: .get, headers: admin)
            { response in
                #expect(String(buffer: response.body).contains(golden[1] ?? "-"))
            }
            try await client.execute(uri: "/mdm/customers/\(golden[2] ?? "-")", method: .get, headers: admin) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/mdm/customers/nobody", method: .get, headers: admin) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/mdm/customers", method: .get, headers: admin) {
                #expect($0.status == .badRequest)
            }
        }

        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }
}
