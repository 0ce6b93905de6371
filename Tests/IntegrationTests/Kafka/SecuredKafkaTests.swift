import CRMHub
import CRMKafka
import CRMTestSupport
import Foundation
import Logging
import Testing

/// `kafka.security.protocol: ssl` against a real TLS listener: stunnel with a CA and server certificate made by the
/// test, in front of Tansu, whose metadata advertises the stunnel port (clients reconnect to what metadata says).
@Suite(.timeLimit(.minutes(3)))
struct SecuredKafkaTests {
    let logger = Logger(label: "test")

    struct TLSCluster {
        let certificates: TestCertificates
        let broker: TansuBroker
        let proxy: TLSProxy

        init() throws {
            certificates = try TestCertificates()
            let tlsPort = try freePort()
            broker = try TansuBroker(advertisedPort: tlsPort)
            proxy = try TLSProxy(port: tlsPort, targetPort: broker.port, certificates: certificates)
        }

        /// A hub configuration with `kafka.security` over TLS trusting `caFile`.
        func configuration(caFile: String) throws -> HubConfiguration {
            let folder = try temporaryFolder([
                "hub.yaml": """
                kafka:
                  brokers: ["127.0.0.1:\(proxy.port)"]
                  session_timeout_ms: 6000
                  heartbeat_interval_ms: 500
                  connect_timeout_seconds: 5
                  topic_partitions: 1
                  security:
                    protocol: ssl
                    tls:
                      ca_file: \(caFile)
                routes:
                  - name: secured
                    from: raw.secured
                    to: crm.secured
                """
            ])
            return try HubConfiguration.load(path: "\(folder)/hub.yaml")
        }
    }

    @Test func aMessageGoesThroughATLSListenerTrustingTheConfiguredCA() async throws {
        let cluster = try TLSCluster()
        let runtime = HubRuntime(
            configuration: try cluster.configuration(caFile: cluster.certificates.caFile), logger: logger)
        try await runtime.preflight()  // metadata and topic creation over TLS

        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: runtime.configuration.kafka.brokers)
        producerConfiguration.client = runtime.clientConfiguration
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let report = try await producer.send(
            ProducerMessage(topic: "raw.secured", key: Array("k".utf8), value: Array("over tls".utf8)))
        #expect(report.offset == 0)

        let consumer = try KafkaConsumer(
            configuration: runtime.consumerConfiguration(groupID: "crmhub.secured-test", topics: ["raw.secured"]),
            logger: logger)
        var iterator = consumer.makeAsyncIterator()
        let message = try #require(await iterator.next())
        #expect(message.value == Array("over tls".utf8))
        await consumer.close()
        await producer.shutdown()
    }

    @Test func aWrongCAFailsAtStartWithTheCertificateError() async throws {
        let cluster = try TLSCluster()
        let runtime = HubRuntime(
            configuration: try cluster.configuration(caFile: cluster.certificates.otherCAFile), logger: logger)
        let error = await #expect(throws: HubRuntime.StartupError.self) { try await runtime.preflight() }
        let text = error?.description ?? ""
        #expect(text.contains("cannot reach Kafka at 127.0.0.1:\(cluster.proxy.port)"), "\(text)")
        #expect(text.contains("certificate verify failed"), "\(text)")
    }
}
