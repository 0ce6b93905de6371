import CRMConnector
import CRMDelivery
import CRMHub
import CRMIngress
import CRMKafka
import CRMModel
import CRMTestSupport
import CRMTransport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("json-webhook connector")
struct JSONWebhookConnectorTests {
    let logger = Logger(label: "test")

    @Test(
        "a json-webhook read through the registry refuses posts without its bearer token and stores the others once acknowledged by the ingress producer"
    )
    func bearerTokenAndStore() async throws {
        setenv("CRMHUB_TEST_SHOP_TOKEN", "s3cret-token", 1)
        let folder = try temporaryFolder([
            "shop.yaml": """
            name: shop
            kind: json-webhook
            path: /webhooks/shop
            topic: raw.shop
            key_field: email
            id_field: event_id
            token: ${env:CRMHUB_TEST_SHOP_TOKEN}
            """
        ])
        let connector = try ConnectorRegistry.standard.load(path: folder + "/shop.yaml")
        #expect(
            connector.kind == "json-webhook" && connector.topics == ["raw.shop"]
                && connector.ingressPaths == ["/webhooks/shop"])

        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("raw.shop", partitions: 1)
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        producerConfiguration.lingerMilliseconds = 1
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        producerConfiguration.lingerMilliseconds = 0
        producerConfiguration.client.extra["linger.ms"] = "500"
        let ingress = IngressProducer(configuration: producerConfiguration, logger: logger)
        #expect(ingress.producerIfMade == nil && ingress.configuration.lingerMilliseconds == 0)
        #expect(ingress.configuration.client.extra["linger.ms"] == nil, "kafka.properties' linger.ms is not its own")
        let context = ConnectorContext(
            name: connector.name, file: connector.file, producer: producer, ingressProducer: ingress,
            stateDirectory: folder,
            http: HTTPClient(concurrency: 1),
            masterData: nil, mappings: nil, groupPrefix: "test", state: HubState(), logger: logger,
            stateFiles: StateFiles(directory: folder)
        ) { group, topics in
            KafkaConsumerConfiguration(bootstrapServers: cluster.bootstrapServers, groupID: group, topics: topics)
        }
        let parts = try await connector.make(in: context)
        #expect(parts.ingress.map(\.path) == ["/webhooks/shop"] && parts.services.isEmpty && parts.sink == nil)
        let ingressProducer = try #require(ingress.producerIfMade, "the endpoint produces through the ingress producer")
        #expect(try ingress.producer() === ingressProducer, "one ingress producer per hub")

        let event = ByteBuffer(string: #"{"event_id": "evt-1", "email": " Ana@Example.com ", "total": 12.50}"#)
        let json: HTTPFields = [.contentType: "application/json"]
        let authorized: HTTPFields = [.contentType: "application/json", .authorization: "Bearer s3cret-token"]
        let forged: HTTPFields = [.contentType: "application/json", .authorization: "Bearer s3cret-tokeN"]
        try await Application(router: IngressServer.makeRouter(endpoints: parts.ingress, logger: logger)).test(.router)
        { client in
            try await client.execute(uri: "/webhooks/shop", method: .post, headers: json, body: event) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/webhooks/shop", method: .post, headers: forged, body: event) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(
                uri: "/webhooks/shop", method: .post, headers: authorized, body: ByteBuffer(string: "[1, 2]")
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/webhooks/shop", method: .post, headers: authorized, body: event) {
                response in
                #expect(response.status == .accepted)
                #expect(String(buffer: response.body).contains(#""id":"evt-1""#))
            }
        }
        await ingressProducer.shutdown(timeout: .seconds(5))
        await producer.shutdown(timeout: .seconds(5))
        let stored = try await KafkaTestClient.readAll(
            cluster.bootstrapServers.joined(separator: ","), topic: "raw.shop")
        #expect(stored.count == 1, "only the authorized JSON object is stored")
        #expect(stored.first.map { String(decoding: $0.key ?? [], as: UTF8.self) } == "ana@example.com")
        #expect(stored.first?.headers.text(EnvelopeHeader.id) == "evt-1")
        #expect(
            stored.first?.value == Array(#"{"event_id": "evt-1", "email": " Ana@Example.com ", "total": 12.50}"#.utf8))
        // The mock cluster outlives every client that talked to it (destroying it under a client aborts librdkafka).
        withExtendedLifetime(cluster) {}
    }
}
