import CRMConnector
import CRMHTTPConnector
import CRMTelephony
import CRMTestSupport
import CRMYAML
import Foundation
import Testing

@testable import CRMHub

@Suite struct ConnectorConfigurationTests {
    func write(_ text: String, name: String = "c.yaml") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-connectors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theShippedHTTPSinkExampleLoadsWithItsRetryPolicy() throws {
        let path = repositoryRoot.appendingPathComponent("Connectors/examples/erp-party-http.yaml").path
        let connector = try ConnectorRegistry.standard.load(path: path)
        guard let settings = connector.settings(as: HTTPSinkConnector.Settings.self) else {
            Issue.record("not an http sink")
            return
        }
        #expect(connector.name == "erp-party")
        #expect(settings.url == .environment("ERP_URL"))
        #expect(settings.headers.first?.value == .environment("ERP_TOKEN"))
        #expect(settings.delivery.retry.retryTopicDelays == [.seconds(60), .seconds(600), .seconds(3_600)])
        #expect(settings.delivery.retryTopics == ["retry.erp-party.1", "retry.erp-party.2", "retry.erp-party.3"])
        #expect(settings.delivery.deadLetterTopic == "dlq.erp-party")
    }

    @Test func theShippedCTIExamplesLoad() throws {
        let kamailio = try ConnectorRegistry.standard.load(
            path: repositoryRoot.appendingPathComponent("Connectors/examples/cti-kamailio.yaml").path)
        guard let settings = kamailio.settings(as: CTISettings.self),
            case .kamailioEvapi(let host, let port) = settings.source
        else {
            Issue.record("not a Kamailio CTI connector")
            return
        }
        #expect(host == "127.0.0.1" && port == 8448)
        #expect(settings.interactionTopic == "crm.interaction" && settings.screenPopTopic == "cti.screenpop")
        #expect(settings.customersCSV == "Connectors/examples/cti-customers.csv")
        #expect(settings.ticketsTopic == "crm.ticket" && kamailio.topics.contains("crm.ticket"))
        let ami = try ConnectorRegistry.standard.load(
            path: repositoryRoot.appendingPathComponent("Connectors/examples/cti-ami.yaml").path)
        guard let amiSettings = ami.settings(as: CTISettings.self),
            case .asteriskAMI(let amiHost, 5038, "crmhub", let secret) = amiSettings.source
        else {
            Issue.record("not an AMI CTI connector")
            return
        }
        #expect(amiHost == "pbx.example.com")
        #expect(secret == .environment("AMI_SECRET"))
        let http = try ConnectorRegistry.standard.load(
            path: repositoryRoot.appendingPathComponent("Connectors/examples/cti-kamailio-http.yaml").path)
        guard let httpSettings = http.settings(as: CTISettings.self),
            case .kamailioHTTP("/cti/kamailio") = httpSettings.source
        else {
            Issue.record("not a Kamailio HTTP CTI connector")
            return
        }
    }

    @Test func twoConnectorsServingTheSameIngressPathAreRefused() throws {
        let form = try write("name: contact\nkind: webform\npath: /in/calls\ntopic: raw.form\n", name: "a.yaml")
        let folder = URL(fileURLWithPath: form).deletingLastPathComponent()
        try
            ("name: pbx\nkind: cti-kamailio\nhttp_path: /in/calls\ninteraction_topic: a\nscreen_pop_topic: b\n"
            + "auth: none\n").write(to: folder.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        var problems = ProblemCollector()
        let connectors = ConnectorRegistry.standard.loadAll(directory: folder.path, problems: &problems)
        #expect(connectors.map(\.name) == ["contact"])
        #expect(problems.problems.count == 1)
        #expect(problems.problems.first?.message.contains("'/in/calls' is also served by") == true)
        #expect(problems.problems.first?.location.file.hasSuffix("b.yaml") == true)
    }

    @Test func aKamailioConnectorTakesEitherEvapiOrAnHTTPPath() throws {
        let both = try write(
            "name: k\nkind: cti-kamailio\nhttp_path: /cti\nevapi: 127.0.0.1:8448\ninteraction_topic: a\nscreen_pop_topic: b\n"
        )
        let bothError = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: both) }
        #expect(bothError?.message.contains("not both") == true)
        #expect(bothError?.location.line == 4)
        let relative = try write(
            "name: k\nkind: cti-kamailio\nhttp_path: cti\ninteraction_topic: a\nscreen_pop_topic: b\n")
        let relativeError = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: relative) }
        #expect(relativeError?.location.line == 3)
    }

    @Test func anInlineAMISecretAndABadEvapiAddressAreRefused() throws {
        let inline = try write(
            "name: pbx\nkind: cti-ami\nami: pbx:5038\nusername: u\nsecret: hunter2\ninteraction_topic: a\nscreen_pop_topic: b\n"
        )
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: inline) }
        #expect(error?.location.line == 5)
        let address = try write(
            "name: k\nkind: cti-kamailio\nevapi: localhost\ninteraction_topic: a\nscreen_pop_topic: b\n")
        let addressError = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: address) }
        #expect(addressError?.message.contains("host:port") == true)
    }

    @Test func anInlineCredentialIsRefusedWithItsLine() throws {
        let path = try write(
            """
            name: erp
            kind: http-sink
            topic: t
            url: https://erp.example.com/api
            headers:
              Authorization: Bearer abc123
            """)
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: path) }
        #expect(error?.location.line == 6)
        #expect(error?.message.contains("never inline") == true)
    }

    @Test func credentialsInTheURLAreRefused() throws {
        let path = try write("name: erp\nkind: http-sink\ntopic: t\nurl: https://user:pw@erp.example.com/api\n")
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: path) }
        #expect(error?.location.line == 4)
    }

    @Test func aBadRetryDelayNamesTheValue() throws {
        let path = try write(
            "name: erp\nkind: http-sink\ntopic: t\nurl: http://127.0.0.1:1/x\nretry:\n  topics: [1m, soon]\n")
        let error = #expect(throws: YAMLError.self) { try ConnectorRegistry.standard.load(path: path) }
        #expect(error?.message.contains("'soon' is not a delay") == true)
    }

    @Test func secretReferencesResolveFromTheEnvironmentAndFiles() throws {
        #expect(try SecretValue.environment("TOKEN").resolve(environment: ["TOKEN": "s3cr3t"]) == "s3cr3t")
        #expect(throws: SecretError.self) { try SecretValue.environment("MISSING").resolve(environment: [:]) }
        let path = try write("  file-secret\n", name: "secret.txt")
        #expect(try SecretValue.file(path).resolve() == "file-secret")
        #expect(SecretValue.environment("TOKEN").description == "${env:TOKEN}")
    }

    @Test func routeDeliveryKeysAreRead() throws {
        let path = try write(
            """
            kafka:
              brokers: ["127.0.0.1:9092"]
            routes:
              - name: r1
                from: a
                to: b
                delivery: exactly_once
                dead_letter_topic: parked.r1
              - name: r2
                from: c
                to: d
                dead_letter_topic: c
            """, name: "hub.yaml")
        let error = #expect(throws: ConfigurationError.self) { try HubConfiguration.load(path: path) }
        #expect(error?.problems.count == 1)
        #expect(error?.problems.first?.location.line == 12)
        let valid = try write(
            "kafka:\n  brokers: [\"127.0.0.1:9092\"]\nroutes:\n  - name: r1\n    from: a\n    to: b\n    delivery: exactly_once\n",
            name: "hub.yaml")
        let route = try #require(try HubConfiguration.load(path: valid).routes.first)
        #expect(route.delivery == .exactlyOnce)
        #expect(route.deadLetterTopic == "dlq.r1")
    }
}
