import CRMKafka
import CRMMapping
import CRMModel
import Foundation
import Testing

@testable import CRMDelivery

/// Mappings in routes: applied per message, reloaded only when the whole folder compiles.
@Suite struct MappingRegistryTests {
    func folder(_ mapping: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-mappings-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try mapping.write(to: directory.appendingPathComponent("greeting.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    func mapping(field: String) -> String {
        """
        name: greeting
        input: test
        outputs:
          - entity: Customer
            key: {path: id}
            fields:
              id: {path: id, required: true}
              kind: {const: person}
              displayName: {path: name, fn: [trim], required: true}
              \(field): {path: name, fn: [trim]}
        """
    }

    func message(_ json: String) -> ConsumerMessage {
        ConsumerMessage(
            topicPartition: TopicPartition(topic: "in", partition: 0), offset: 7, key: nil, value: Array(json.utf8),
            headers: [],
            timestampMilliseconds: nil)
    }

    @Test func aBrokenEditIsRefusedWhileTheOldMappingKeepsRunningAndAFixedOneIsSwappedIn() async throws {
        let directory = try folder(mapping(field: "givenName"))
        let registry = try MappingRegistry(directory: directory.path)
        let before = try #require(registry.transform(named: "greeting"))
        guard case .produce(let records) = await before.transform(message(#"{"id":"c1","name":"  Ada "}"#)) else {
            Issue.record("expected output")
            return
        }
        #expect(String(decoding: records[0].value, as: UTF8.self).contains(#""givenName":"Ada""#))
        #expect(records[0].output == "customer")
        #expect(records[0].headers.text("crm-mapping") == "greeting@\(registry.versions["greeting"]!)")

        try "name: greeting\noutputs: [".write(
            to: directory.appendingPathComponent("greeting.yaml"), atomically: true, encoding: .utf8)
        guard case .failure(let problems) = registry.reload() else {
            Issue.record("a broken folder must be refused")
            return
        }
        #expect(problems.problems.first?.location.file.hasSuffix("greeting.yaml") == true)
        #expect(
            registry.transform(named: "greeting")?.mapping.version == before.mapping.version,
            "the old mapping keeps running")

        try mapping(field: "familyName").write(
            to: directory.appendingPathComponent("greeting.yaml"), atomically: true, encoding: .utf8)
        guard case .success(let versions) = registry.reload() else {
            Issue.record("a fixed folder must load")
            return
        }
        #expect(versions["greeting"] != before.mapping.version)
        let after = try #require(registry.transform(named: "greeting"))
        guard case .produce(let reloaded) = await after.transform(message(#"{"id":"c1","name":"Ada"}"#)) else {
            Issue.record("expected output")
            return
        }
        #expect(String(decoding: reloaded[0].value, as: UTF8.self).contains(#""familyName":"Ada""#))
    }

    @Test func aMappingErrorBecomesADeadLetterReasonWithoutTheValue() async throws {
        let registry = try MappingRegistry(directory: try folder(mapping(field: "givenName")).path)
        let transform = try #require(registry.transform(named: "greeting"))
        guard
            case .failure(let reason, let errorClass) = await transform.transform(message(#"{"name":"Grace Hopper"}"#))
        else {
            Issue.record("expected a failure")
            return
        }
        #expect(errorClass.hasPrefix("mapping-"))
        #expect(reason.contains("id"))
        #expect(!reason.contains("Grace"), "personal data is not in the reason: \(reason)")
    }
}
