import CRMTestSupport
import Foundation
import Logging
import MetricsTestKit
import Testing

@testable import CRMKafka

/// `kafka.security` as librdkafka properties, and errors that name a property but never show its value.
@Suite(.timeLimit(.minutes(2)))
struct KafkaSecurityTests {
    let logger = Logger(label: "test")

    @Test func saslSSLMapsToLibrdkafkaPropertiesWithSecretsKeptApart() throws {
        let security = KafkaSecurity(
            securityProtocol: .saslSSL,
            tls: .init(
                caFile: "/etc/ca.pem", certificateFile: "/etc/client.pem", keyFile: "/etc/client.key",
                keyPassword: .value("key-pass")),
            sasl: .init(mechanism: .scramSHA512, username: "crmhub", password: .value("sasl-pass")))
        #expect(security.problems.isEmpty)
        let properties = Dictionary(uniqueKeysWithValues: security.properties)
        #expect(
            properties == [
                "security.protocol": "sasl_ssl", "ssl.ca.location": "/etc/ca.pem",
                "ssl.certificate.location": "/etc/client.pem", "ssl.key.location": "/etc/client.key",
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "crmhub",
            ])
        let secrets = try security.secretProperties.map { ($0.0, try $0.1.resolve()) }
        #expect(secrets.map(\.0) == ["ssl.key.password", "sasl.password"])
        #expect(secrets.map(\.1) == ["key-pass", "sasl-pass"])

        var client = KafkaClientConfiguration(bootstrapServers: ["b:9093"])
        client.security = security
        #expect(!client.properties.contains { $0.1.contains("pass") }, "secrets are not plain properties")
        #expect(client.properties.contains { $0 == ("security.protocol", "sasl_ssl") })
    }

    @Test func thePlaintextDefaultSetsOnlyTheProtocol() {
        #expect(KafkaSecurity().properties.map(\.0) == ["security.protocol"])
        #expect(KafkaSecurity().secretProperties.isEmpty)
    }

    @Test(arguments: [
        (
            KafkaSecurity(
                securityProtocol: .ssl, sasl: .init(mechanism: .plain, username: "u", password: .value("p"))),
            "sasl is set but protocol is ssl"
        ),
        (KafkaSecurity(securityProtocol: .saslPlaintext), "protocol sasl_plaintext needs sasl settings"),
        (KafkaSecurity(securityProtocol: .plaintext, tls: .init(caFile: "/ca")), "does not use TLS"),
        (KafkaSecurity(securityProtocol: .ssl, tls: .init(certificateFile: "/c")), "needs tls.key_file"),
        (KafkaSecurity(securityProtocol: .ssl, tls: .init(keyFile: "/k")), "needs tls.certificate_file"),
    ])
    func contradictionsAreReported(security: KafkaSecurity, problem: String) {
        #expect(security.problems.contains { $0.contains(problem) }, "\(security.problems)")
    }

    @Test func aRefusedPropertyIsNamedWithoutItsValue() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.client.extra["security.protocol"] = "hunter2-not-a-protocol"
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: configuration, logger: logger)
        }
        #expect(error.description.contains("'security.protocol'"))
        #expect(!error.description.contains("hunter2"), "\(error)")
    }

    @Test func aRefusedSecretPropertyIsNamedWithoutItsValue() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.client.secretExtra["security.protocol"] = .value("s3cr3t-protocol")
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: configuration, logger: logger)
        }
        #expect(error.description.contains("'security.protocol'"))
        #expect(!error.description.contains("s3cr3t"), "\(error)")
    }

    @Test func anUnsetSecretNamesThePropertyAndItsReference() throws {
        var configuration = KafkaClientConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.security = KafkaSecurity(
            securityProtocol: .saslPlaintext,
            sasl: .init(
                mechanism: .plain, username: "u",
                password: KafkaSecret(reference: "${env:CRMHUB_TEST_UNSET}") {
                    throw TestFailure("environment variable CRMHUB_TEST_UNSET is not set")
                }))
        let error = try #require(throws: KafkaError.self) {
            _ = try KafkaPartitionReader(configuration: configuration, logger: logger)
        }
        #expect(error.description.contains("'sasl.password' (${env:CRMHUB_TEST_UNSET})"))
    }

    @Test func aSASLFailureIsReportedWithoutThePassword() async throws {
        // librdkafka's mock cluster has no SASL handshake, so authentication fails: the error must not carry the
        // password.
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.client.security = KafkaSecurity(
            securityProtocol: .saslPlaintext,
            sasl: .init(mechanism: .plain, username: "crmhub", password: .value("pw-never-shown")))
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        // The producer's last error alternates between the SASL failure and "brokers are down": collect them.
        var seen: Set<String> = []
        let failed = await eventually(timeout: .seconds(10), poll: .milliseconds(10)) {
            if let error = producer.lastError { seen.insert(error) }
            return seen.contains { $0.contains("SASL") }
        }
        #expect(failed, "\(seen)")
        #expect(!seen.contains { $0.contains("pw-never-shown") })
        await producer.shutdown(timeout: .seconds(1))
        withExtendedLifetime(cluster) {}
    }

    @Test func consumerLagIsLabelledWithTheConsumerGroup() throws {
        let metrics = TestMetrics()
        func statistics(lag: Int) -> String {
            """
            {"name":"rdkafka#consumer-1","type":"consumer","msg_cnt":0,
             "topics":{"crm.customer":{"partitions":{"0":{"consumer_lag":\(lag)},"-1":{"consumer_lag":-1}}}}}
            """
        }
        KafkaStatistics.publish(json: statistics(lag: 7), client: "consumer", group: "crmhub.a", factory: metrics)
        KafkaStatistics.publish(json: statistics(lag: 2), client: "consumer", group: "crmhub.b", factory: metrics)
        let first = try metrics.expectGauge(
            "crmhub_kafka_consumer_lag", [("group", "crmhub.a"), ("topic", "crm.customer"), ("partition", "0")])
        let second = try metrics.expectGauge(
            "crmhub_kafka_consumer_lag", [("group", "crmhub.b"), ("topic", "crm.customer"), ("partition", "0")])
        #expect(first.lastValue == 7)
        #expect(second.lastValue == 2)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
