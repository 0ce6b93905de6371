import CRMDelivery
import Foundation
import Logging
import Testing

@testable import CRMHub

/// `store.erasure` in the top configuration file.
struct ErasureConfigurationTests {
    func load(_ store: String) throws -> HubConfiguration {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-erasure-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("hub.yaml").path
        try """
        kafka:
          brokers: ["127.0.0.1:9092"]
        store:
        \(store)
        routes:
          - {name: r1, from: raw.customer, to: crm.customer, resolve: true}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return try HubConfiguration.load(path: path)
    }

    @Test func tombstoneTopicsAndKeyKindsAreReadAndTheTopicsAreChecked() throws {
        let configuration = try load("  erasure: {tombstone_topics: [crm.customer, crm.party], keys: [record]}")
        #expect(
            configuration.store.erasure == ErasureTombstones(topics: ["crm.customer", "crm.party"], keys: [.record]))
        let runtime = HubRuntime(configuration: configuration, logger: Logger(label: "test"))
        #expect(runtime.routeTopics.contains("crm.party"))
    }

    @Test func withoutErasureSettingsNoCustomerTopicIsTombstonedAndBothKeyKindsApply() throws {
        let configuration = try load("  path: data/x.sqlite")
        #expect(configuration.store.erasure == ErasureTombstones(topics: [], keys: [.goldenId, .record]))
    }

    @Test func anUnknownKeyKindIsRefusedNamingIt() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try load("  erasure: {tombstone_topics: [crm.customer], keys: [email]}")
        }
        #expect(error?.problems.first?.message.contains("email") == true)
    }
}
