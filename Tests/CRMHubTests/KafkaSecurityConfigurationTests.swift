import CRMDelivery
import CRMKafka
import CRMTestSupport
import Foundation
import Testing

@testable import CRMHub

/// `kafka.security` and `kafka.properties` in the hub configuration: typed settings, secrets only as references,
/// contradictions refused with the field named and never a secret's value.
@Suite struct KafkaSecurityConfigurationTests {
    func load(_ kafka: String, files: [String: String] = [:]) throws -> HubConfiguration {
        let folder = try temporaryFolder(
            files.merging(
                [
                    "hub.yaml": """
                    kafka:
                      brokers: ["127.0.0.1:9093"]
                    \(kafka)
                    routes:
                      - name: r1
                        from: a
                        to: b
                    """
                ], uniquingKeysWith: { $1 }))
        return try HubConfiguration.load(path: "\(folder)/hub.yaml")
    }

    func problems(_ kafka: String) -> String {
        do {
            _ = try load(kafka)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func saslSSLSettingsBecomeTheClientsProperties() throws {
        let configuration = try load(
            """
              security:
                protocol: sasl_ssl
                tls:
                  ca_file: certs/ca.pem
                sasl:
                  mechanism: SCRAM-SHA-256
                  username: crmhub
                  password: ${env:CRMHUB_TEST_KAFKA_PASSWORD}
              properties:
                socket.keepalive.enable: "true"
                sasl.oauthbearer.client.secret: ${file:/run/secrets/oauth}
            """)
        let security = configuration.kafka.security
        #expect(security.securityProtocol == .saslSSL)
        #expect(security.tls?.caFile?.hasSuffix("/certs/ca.pem") == true, "relative to the configuration file")
        #expect(security.sasl?.mechanism == .scramSHA256)
        #expect(security.sasl?.password.reference == "${env:CRMHUB_TEST_KAFKA_PASSWORD}")
        let client = HubRuntime(configuration: configuration, logger: .init(label: "test")).clientConfiguration
        #expect(client.security.securityProtocol == .saslSSL)
        #expect(client.extra == ["socket.keepalive.enable": "true"])
        #expect(client.secretExtra["sasl.oauthbearer.client.secret"]?.reference == "${file:/run/secrets/oauth}")
    }

    @Test func aPropertyReferenceIsReadWhenTheClientIsMade() throws {
        let folder = try temporaryFolder(["value": "4242\n"])
        let configuration = try load("  properties:\n    socket.timeout.ms: ${file:\(folder)/value}")
        let client = HubRuntime(configuration: configuration, logger: .init(label: "test")).clientConfiguration
        #expect(try client.secretExtra["socket.timeout.ms"]?.resolve() == "4242")
    }

    @Test(arguments: [
        (
            "    sasl:\n      mechanism: PLAIN\n      username: u\n      password: inline-pw-1",
            "kafka.security.sasl.password"
        ),
        ("    tls:\n      key_password: inline-pw-1", "kafka.security.tls.key_password"),
    ])
    func anInlinePasswordIsRefusedNamingTheFieldNotTheValue(section: String, field: String) {
        let text = problems("  security:\n    protocol: sasl_ssl\n\(section)")
        #expect(text.contains("\(field) is a credential"), "\(text)")
        #expect(!text.contains("inline-pw-1"))
    }

    @Test func anInlinePasswordInPropertiesIsRefusedNamingThePropertyNotTheValue() {
        let text = problems("  properties:\n    sasl.password: inline-pw-2")
        #expect(text.contains("kafka property sasl.password is a credential"), "\(text)")
        #expect(!text.contains("inline-pw-2"))
    }

    @Test(arguments: [
        (
            "    protocol: ssl\n    sasl:\n      mechanism: PLAIN\n      username: u\n      password: ${env:P}",
            "sasl is set but protocol is ssl"
        ),
        ("    protocol: sasl_ssl", "protocol sasl_ssl needs sasl settings"),
        ("    protocol: plaintext\n    tls:\n      ca_file: ca.pem", "does not use TLS"),
        ("    protocol: ssl\n    tls:\n      certificate_file: c.pem", "tls.certificate_file needs tls.key_file"),
        ("    protocol: tls", "'tls' is not one of: plaintext, ssl, sasl_plaintext, sasl_ssl"),
        (
            "    protocol: sasl_ssl\n    sasl:\n      mechanism: GSSAPI\n      username: u\n      password: ${env:P}",
            "GSSAPI"
        ),
    ])
    func contradictionsAreRefused(security: String, problem: String) {
        let text = problems("  security:\n\(security)")
        #expect(text.contains(problem), "\(text)")
        #expect(text.contains("kafka.security"), "names the section: \(text)")
    }

    @Test func aPropertyTheSecuritySectionSetsIsRefusedInProperties() {
        let text = problems("  security:\n    protocol: ssl\n  properties:\n    security.protocol: plaintext")
        #expect(text.contains("security.protocol is set by kafka.security"), "\(text)")
    }

    @Test func validationReportsTLSFilesThatCannotBeRead() throws {
        let configuration = try load(
            "  security:\n    protocol: ssl\n    tls:\n      ca_file: ca.pem\n      certificate_file: missing.pem\n      key_file: key.pem",
            files: ["ca.pem": "x", "key.pem": "y"])
        let problems = HubValidation.kafkaProblems(configuration)
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.contains("kafka.security.tls.certificate_file") == true)
        #expect(problems.first?.contains("missing.pem does not exist") == true)
    }
}
