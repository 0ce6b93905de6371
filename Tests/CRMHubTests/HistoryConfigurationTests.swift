import CRMDelivery
import Foundation
import Logging
import Testing

@testable import CRMHub

/// `store.history_topics` in the top configuration file, and when the hub opens the master data.
struct HistoryConfigurationTests {
    func write(_ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-history-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("hub.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func historyTopicsAreReadAndMakeTheHubOpenTheMasterDataAndCheckThoseTopics() throws {
        let configuration = try HubConfiguration.load(
            path: write(
                """
                kafka:
                  brokers: ["127.0.0.1:9092"]
                store:
                  history_topics: {crm.order: order, crm.consent: consent, sink.mail.out: email-out}
                routes:
                  - {name: r1, from: a, to: b}
                """))
        #expect(
            configuration.store.historyTopics == [
                "crm.order": .order, "crm.consent": .consent, "sink.mail.out": .emailOut,
            ])
        let runtime = HubRuntime(configuration: configuration, logger: Logger(label: "test"))
        #expect(runtime.usesMasterData)
        #expect(Set(["crm.order", "crm.consent", "crm.golden.customer"]).isSubset(of: runtime.routeTopics))
    }

    @Test func withoutResolveRoutesPurposeSinksOrHistoryTopicsTheMasterDataStaysClosed() throws {
        let configuration = try HubConfiguration.load(
            path: write("kafka:\n  brokers: [\"127.0.0.1:9092\"]\nroutes:\n  - {name: r1, from: a, to: b}\n"))
        let runtime = HubRuntime(configuration: configuration, logger: Logger(label: "test"))
        #expect(!runtime.usesMasterData)
        #expect(!runtime.routeTopics.contains("crm.golden.customer"))
    }

    @Test func anUnknownHistoryKindIsRefusedAtItsLine() throws {
        let path = try write(
            """
            kafka:
              brokers: ["127.0.0.1:9092"]
            store:
              history_topics:
                crm.order: orders
            routes: []
            """)
        let error = #expect(throws: ConfigurationError.self) { try HubConfiguration.load(path: path) }
        let problem = try #require(error?.problems.first)
        #expect(problem.location.line == 5, "\(problem)")
        #expect(problem.message.contains("orders"), "\(problem)")
    }
}
