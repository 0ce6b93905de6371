import CRMConnector
import CRMMail
import CRMMapping
import CRMModel
import CRMTestSupport
import CRMYAML
import Foundation
import Testing

@testable import CRMDelivery

/// The decision a sink's `when:` takes for one message (pure; SupportMailboxEndToEndTests proves it through a real
/// SMTP sink).
@Suite("Sink when: conditions")
struct SinkConditionTests {
    static func condition(_ yaml: String) throws -> SinkCondition {
        try SinkCondition(compiling: try YAMLDocument.parse(yaml, file: "sink.yaml"))
    }

    @Test("a matching value is delivered, another is skipped, a missing field does not match")
    func deliverOrSkip() throws {
        let newTickets = try Self.condition("{all: [{path: status, equals: new}]}")
        #expect(newTickets.decide(Array(#"{"id":"t1","status":"new"}"#.utf8)) == .deliver)
        #expect(newTickets.decide(Array(#"{"id":"t1","status":"open"}"#.utf8)) == .skip)
        #expect(newTickets.decide(Array(#"{"id":"t1"}"#.utf8)) == .skip)
        let urgent = try Self.condition(
            "{any: [{path: severity, in: [high, urgent]}, {path: subject, matches: '(?i)refund'}]}")
        #expect(urgent.decide(Array(#"{"severity":"urgent"}"#.utf8)) == .deliver)
        #expect(urgent.decide(Array(#"{"severity":"low","subject":"REFUND please"}"#.utf8)) == .deliver)
        #expect(urgent.decide(Array(#"{"severity":"low","subject":"hello"}"#.utf8)) == .skip)
    }

    @Test("a value that is not JSON, or on which the condition fails, is rejected with a reason that holds no data")
    func rejectUnjudgeable() throws {
        let newTickets = try Self.condition("{path: status, equals: new}")
        guard case .reject(let reason) = newTickets.decide(Array("status=new; secret@example.org".utf8)) else {
            Issue.record("not rejected")
            return
        }
        #expect(reason.contains("not JSON"))
        #expect(!reason.contains("secret@example.org"))
        let positive = try Self.condition("{value: {path: total, fn: [{decimal: 2}]}, above: 0}")
        #expect(positive.decide(Array(#"{"total":"12.50"}"#.utf8)) == .deliver)
        guard case .reject(let failed) = positive.decide(Array(#"{"total":"twelve"}"#.utf8)) else {
            Issue.record("a failing expression was not rejected")
            return
        }
        #expect(failed.hasPrefix("when: condition failed"), "reason: \(failed)")
        #expect(!failed.contains("twelve"))
    }

    @Test("when: is read on every sink kind; a bad condition is refused with its line; sources refuse it")
    func parsedOnSinks() throws {
        let example = try ConnectorRegistry.standard.load(
            path: repositoryRoot.appendingPathComponent("Connectors/examples/ticket-ack-smtp.yaml").path)
        guard let settings = example.settings(as: SMTPSinkConnector.Settings.self) else {
            Issue.record("not an smtp sink")
            return
        }
        let when = try #require(settings.delivery.when)
        #expect(when.decide(Array(#"{"status":"new"}"#.utf8)) == .deliver)
        #expect(when.decide(Array(#"{"status":"open"}"#.utf8)) == .skip)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-when-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func load(_ text: String) throws -> ConfiguredConnector {
            let path = directory.appendingPathComponent("c.yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try ConnectorRegistry.standard.load(path: path)
        }
        let http = try load(
            "name: erp\nkind: http-sink\ntopic: crm.customer\nurl: https://erp.example/api\nwhen: {path: country, in: [DE, AT]}\n"
        )
        #expect(http.sinkDelivery?.when?.decide(Array(#"{"country":"AT"}"#.utf8)) == .deliver)
        let process = try load(
            "name: arch\nkind: process\nrole: sink\ncommand: [cat]\ntopic: crm.order\nwhen: {not: {path: test, equals: true}}\n"
        )
        #expect(process.sinkDelivery?.when?.decide(Array(#"{"test":true}"#.utf8)) == .skip)

        let bad = #expect(throws: YAMLError.self) {
            try load(
                "name: erp\nkind: http-sink\ntopic: crm.customer\nurl: https://erp.example/api\nwhen:\n  path: status\n  equalz: new\n"
            )
        }
        #expect((bad?.location.line ?? 0) >= 6, "\(String(describing: bad))")
        #expect(throws: YAMLError.self) {
            try load(
                "name: feed\nkind: process\nrole: source\ncommand: [cat]\ntopic: crm.order\nwhen: {path: a, equals: b}\n"
            )
        }
    }
}
