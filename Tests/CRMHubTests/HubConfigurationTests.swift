import CRMRedaction
import CRMTestSupport
import CRMYAML
import Foundation
import Testing

@testable import CRMHub

@Suite struct HubConfigurationTests {
    func write(_ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("hub.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    let valid = """
        kafka:
          brokers: ["127.0.0.1:9092"]
        http:
          port: 8081
        routes:
          - name: r1
            from: a
            to: b
        """

    @Test func theDemoConfigurationLoads() throws {
        let path = repositoryRoot.appendingPathComponent("deploy/demo/crmhub.yaml").path
        let configuration = try HubConfiguration.load(path: path)
        #expect(
            configuration.routes.map(\.name) == [
                "webform-to-customer", "resolve-customers", "customer-to-erp", "assign-leads",
            ])
        #expect(configuration.routes.last?.rule == "assign-leads")
        #expect(configuration.rulesDirectory.hasSuffix("/deploy/demo/rules"))
        #expect(configuration.kafka.brokers == ["127.0.0.1:19092"])
        #expect(configuration.mappingsDirectory.hasSuffix("/Mappings"))
    }

    @Test func aConfiguredRedactionKeyIsReadFromItsFileAndKeysTheFingerprints() throws {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-key-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        try "installation-secret\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let configuration = try HubConfiguration.load(
            path: write(valid + "\nlog: {format: text, redaction_key: \"${file:\(keyFile)}\"}\n"))
        #expect(configuration.log.redactionKey?.description == "${file:\(keyFile)}")
        let value = "zelda.quux@example-private.org"
        #expect(
            try configuration.redactionPolicy().fingerprint(value)
                == RedactionPolicy(key: Array("installation-secret".utf8)).fingerprint(value))
        #expect(!FileManager.default.fileExists(atPath: configuration.stateDirectory + "/" + RedactionKey.fileName))
    }

    @Test func withoutARedactionKeyOneIsGeneratedInTheStateFolderAndKeptAcrossStarts() throws {
        let configuration = try HubConfiguration.load(path: write(valid))
        #expect(configuration.log.redactionKey == nil)
        let value = "+44 7700 900461"
        let first = try configuration.redactionPolicy().fingerprint(value)
        #expect(FileManager.default.fileExists(atPath: configuration.stateDirectory + "/" + RedactionKey.fileName))
        #expect(try configuration.redactionPolicy().fingerprint(value) == first)
    }

    @Test func defaultsApplyWhenSectionsAreOmitted() throws {
        let configuration = try HubConfiguration.load(path: write(valid))
        #expect(configuration.http.port == 8081)
        #expect(configuration.http.host == "127.0.0.1")
        #expect(configuration.kafka.createTopics)
        #expect(configuration.routes.first?.to == .topic("b"))
        #expect(configuration.shutdownTimeoutSeconds == 30)
        #expect(configuration.ingress.lingerMilliseconds == 2, "ingress replies wait 2 ms at most for a batch to fill")
    }

    @Test("http.token and metrics_port, and the ingress bounds, are read; unset bounds keep their defaults")
    func adminTokenMetricsPortAndIngressBounds() throws {
        let configuration = try HubConfiguration.load(
            path: write(
                """
                kafka:
                  brokers: ["127.0.0.1:9092"]
                http:
                  port: 8081
                  token: ${env:CRMHUB_ADMIN_TOKEN}
                  metrics_port: 9100
                ingress:
                  port: 8091
                  read_timeout: 2s
                  idle_timeout: 15s
                  max_connections: 50
                  max_concurrent_requests: 4
                  max_header_bytes: 8192
                  linger_ms: 3
                routes:
                  - name: r1
                    from: a
                    to: b
                """))
        #expect(configuration.http.token == .environment("CRMHUB_ADMIN_TOKEN"))
        #expect(configuration.http.metricsPort == 9100)
        let limits = configuration.ingress.limits
        #expect(configuration.ingress.port == 8091)
        #expect(limits.readTimeout == .seconds(2) && limits.idleTimeout == .seconds(15))
        #expect(limits.maxConnections == 50 && limits.maxConcurrentRequestsPerEndpoint == 4)
        #expect(limits.maxHeaderBytes == 8_192)
        #expect(limits.requestTimeout == .seconds(30) && limits.maxHeaderFields == 100)
        #expect(configuration.ingress.lingerMilliseconds == 3)
    }

    @Test(arguments: [
        ("kafka:\n  brokers: [\"h:1\"]\nhttp:\n  token: letmein\nroutes: []\n", 4, "never inline"),
        ("kafka:\n  brokers: [\"h:1\"]\nhttp:\n  port: 9000\n  metrics_port: 9000\nroutes: []\n", 5, "must differ"),
        ("kafka:\n  brokers: [\"h:1\"]\ningress:\n  read_timeout: soon\nroutes: []\n", 4, "is not a delay"),
        ("kafka:\n  brokers: [\"h:1\"]\nroutse: []\n", 3, "unknown key 'routse' (did you mean 'routes'?)"),
        ("kafka:\n  brokers: [\"h:1\"]\nhttp:\n  port: 99999\nroutes: []\n", 4, "http.port: 99999 is out of range"),
        ("kafka:\n  brokers: [\"nohost\"]\nroutes: []\n", 2, "is not host:port"),
        ("kafka:\n  brokers: [\"h:1\"]\nroutes:\n  - name: r\n    from: a\n", 4, "missing required key 'to'"),
        (
            "kafka:\n  brokers: [\"h:1\"]\nroutes:\n  - name: r\n    from: a\n    to: a\n", 6,
            "cannot write to the topic it reads"
        ),
        (
            "kafka:\n  brokers: [\"h:1\"]\nroutes:\n  - name: r\n    from: 'bad topic'\n    to: b\n", 5,
            "not a valid Kafka topic name"
        ),
        ("kafka:\n  brokers: [\"h:1\"]\n", 1, "missing required key 'routes'"),
        ("kafka: [\n", 2, "invalid YAML"),
    ])
    func badConfigurationsNameTheLineAndTheProblem(text: String, line: Int, message: String) throws {
        let path = try write(text)
        let error = #expect(throws: ConfigurationError.self) { try HubConfiguration.load(path: path) }
        let problem = try #require(error?.problems.first)
        #expect(problem.location.file == path)
        #expect(problem.location.line == line, "\(problem)")
        #expect(problem.message.contains(message), "\(problem)")
    }

    @Test func everyBadRouteIsReportedInOneRun() throws {
        let path = try write(
            """
            kafka:
              brokers: ["h:1"]
            routes:
              - name: one
                from: a
                to: x
              - name: three
                from: e
              - name: two
                from: b
                to: b
              - name: one
                from: c
                to: d
            """)
        let error = #expect(throws: ConfigurationError.self) { try HubConfiguration.load(path: path) }
        #expect(error?.problems.count == 3)
        #expect(error?.problems.last?.message.contains("duplicate route name 'one'") == true)
    }
}
