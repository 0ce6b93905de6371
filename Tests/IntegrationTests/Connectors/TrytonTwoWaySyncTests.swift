import CRMKafka
import CRMModel
import CRMTestSupport
import CRMTransport
import CRMTryton
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Testing

@testable import CRMHub

/// Two-way ERP sync in the running daemon against real trytond: parties come in through the party source and the
/// shipped tryton-party mapping (origin erp), customers go out through customer-to-erp-party and the party sink, and
/// nothing echoes.
@Suite(.timeLimit(.minutes(10)))
struct TrytonTwoWaySyncTests {
    let logger = Logger(label: "test")

    @Test func aPartyMadeInTrytonReachesTheCRMOnceAndACRMChangeReachesTrytonOnceWithoutEchoes() async throws {
        let server = try await TrytonServer.start()
        defer { server.stop() }
        let broker = try TansuBroker()
        defer { broker.stop() }
        let http = HTTPClient(concurrency: 4)
        let tryton = TrytonClient(endpoint: TrytonConnectorTests.endpoint(server), http: http, logger: logger)

        // A party made in Tryton before the hub starts.
        _ = try await tryton.create(
            "party.party",
            [
                .object([
                    ("code", "T-100"), ("name", "Grace Hopper"),
                    (
                        "contact_mechanisms",
                        [["create", [.object([("type", "email"), ("value", "grace@cobol-navy.us")])]]]
                    ),
                ])
            ])

        let directory = URL(fileURLWithPath: try temporaryFolder([:], prefix: "crmhub-tryton-sync"))
        let connectors = directory.appendingPathComponent("connectors")
        try FileManager.default.createDirectory(at: connectors, withIntermediateDirectories: true)
        let passwordFile = directory.appendingPathComponent("tryton-password")
        try TrytonServer.password.write(to: passwordFile, atomically: true, encoding: .utf8)
        let connection = """
            url: \(server.url)
            allow_plaintext_credentials: true
            database: \(TrytonServer.database)
            user: \(TrytonServer.user)
            password: ${file:\(passwordFile.path)}
            """
        try """
        name: erp-party
        kind: tryton-party-sink
        topic: sink.erp.party
        \(connection)
        retry: {in_place_attempts: 3, initial_backoff_ms: 200, max_backoff_ms: 1000, topics: []}
        """.write(to: connectors.appendingPathComponent("erp-party.yaml"), atomically: true, encoding: .utf8)
        try """
        name: erp-parties
        kind: tryton-party-source
        topic: erp.tryton.party
        \(connection)
        poll_interval_ms: 300
        """.write(to: connectors.appendingPathComponent("erp-parties.yaml"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["\(broker.bootstrap)"]
          session_timeout_ms: 2000
          heartbeat_interval_ms: 500
          topic_partitions: 1
        store: {path: md.sqlite}
        state_dir: state
        mappings: \(repositoryRoot.appendingPathComponent("Mappings").path)
        connectors: connectors
        http: {host: 127.0.0.1, port: \(try freePort())}
        routes:
          - {name: erp-parties, from: erp.tryton.party, mapping: tryton-party, to: raw.customer}
          - {name: forms, from: raw.webform, mapping: web-form, to: {customer: raw.customer, ticket: crm.ticket}}
          - {name: customers, from: raw.customer, to: crm.customer, resolve: true}
          - {name: customer-to-erp, from: crm.customer, mapping: customer-to-erp-party, to: sink.erp.party}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let daemon = try await HubDaemon.make(
            configuration: try HubConfiguration.load(path: path), metrics: PrometheusCollectorRegistry(),
            logger: logger)
        let group = ServiceGroup(services: daemon.services, logger: logger)
        let running = Task { try await group.run() }
        let input = try KafkaTestClient.producer(broker.bootstrap)

        // Tryton's party reaches the CRM, marked as coming from the ERP (next to the company party Tryton's
        // database was set up with).
        var grace: JSONValue?
        let arrived = await eventually(timeout: .seconds(90), poll: .milliseconds(500)) {
            let customers =
                (try? await KafkaTestClient.collect(
                    broker.bootstrap, topic: "crm.customer", count: 2, timeout: .seconds(2))) ?? []
            grace = customers.compactMap { try? JSONValue.parse($0.value) }.first {
                $0["displayName"] == "Grace Hopper"
            }
            return grace != nil
        }
        #expect(arrived, "Tryton's party reached the CRM")
        #expect(grace?["origin"] == "erp")
        #expect(grace?["goldenId"]?.stringValue != nil)

        // A customer made on the CRM side (a web form) reaches Tryton, then changes (a phone number).
        let ada =
            #"{"submission_id": 1, "first_name": "Ada", "last_name": "Byron", "email": "ada@engines-analytical.co.uk""#
        try await input.send(ProducerMessage(topic: "raw.webform", value: Array((ada + "}").utf8)))
        let created = await eventually(timeout: .seconds(60), poll: .milliseconds(300)) {
            ((try? await self.parties(tryton, email: "ada@engines-analytical.co.uk"))?.count ?? 0) >= 1
        }
        #expect(created, "the web customer reached Tryton")
        try await input.send(
            ProducerMessage(
                topic: "raw.webform",
                value: Array((ada + #", "submission_id": 2, "phone": "+44 7700 900123"}"#).utf8)))
        let updated = await eventually(timeout: .seconds(60), poll: .milliseconds(300)) {
            guard let party = try? await self.parties(tryton, email: "ada@engines-analytical.co.uk").first,
                let id = party["id"]?.scalarText.flatMap({ Int($0) })
            else { return false }
            return ((try? await self.mechanisms(tryton, party: id)) ?? []).contains("+447700900123")
        }
        #expect(updated, "the CRM-side change reached Tryton")

        // Let the party source see Tryton's writes and the routes settle (many poll cycles), then count.
        try await Task.sleep(for: .seconds(6))
        #expect(try await parties(tryton, email: "grace@cobol-navy.us").count == 1, "Tryton's party not re-created")
        #expect(try await parties(tryton, email: "ada@engines-analytical.co.uk").count == 1, "one party for Ada")
        let outbound = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "sink.erp.party", count: 10, timeout: .seconds(5))
        let codes = try outbound.map { try JSONValue.parse($0.value)["code"]?.stringValue ?? "" }
        #expect(outbound.count == 2, "Ada created and changed, nothing echoed: \(codes)")
        #expect(Set(codes).count == 1, "one party code (the golden id) for both")
        let fromTryton = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "erp.tryton.party", count: 20, timeout: .seconds(3))
        let names = fromTryton.map { (try? JSONValue.parse($0.value))?["name"]?.stringValue ?? "" }
        #expect(names.filter { $0 == "Grace Hopper" }.count == 1, "Grace read once: \(names)")
        #expect(
            (1...2).contains(names.filter { $0 == "Ada Byron" }.count), "Ada created and changed, no loop: \(names)")

        await group.triggerGracefulShutdown()
        try await running.value
        await input.shutdown()
    }

    /// Parties having a contact mechanism with this e-mail.
    func parties(_ client: TrytonClient, email: String) async throws -> [JSONValue] {
        let mechanisms = try await client.searchRead(
            "party.contact_mechanism", domain: [["type", "=", "email"], ["value", "=", .string(email)]],
            fields: ["party"])
        let ids = Set(mechanisms.compactMap { $0["party"]?.scalarText.flatMap { Int($0) } })
        return try await client.read("party.party", ids: ids.sorted(), fields: ["id", "code", "name"])
    }

    func mechanisms(_ client: TrytonClient, party: Int) async throws -> Set<String> {
        let records = try await client.searchRead(
            "party.contact_mechanism", domain: [["party", "=", .number(String(party))]], fields: ["value"])
        return Set(records.compactMap { $0["value"]?.stringValue?.replacingOccurrences(of: " ", with: "") })
    }
}
