import CRMConnector
import CRMMail
import Foundation
import Testing

@testable import CRMHub

@Suite("imap-source connector settings")
struct IMAPSourceConfigurationTests {
    @Test("without dead_letter_topic unreadable mail goes to dlq.<name>; the limits have their defaults and bounds")
    func defaults() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-imap-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func load(_ extra: String) throws -> ConfiguredConnector {
            let path = directory.appendingPathComponent("inbox.yaml").path
            let text =
                "name: inbox\nkind: imap-source\nurl: imap://mail.example:143\ntopic: crm.ticket\nmapping: inbound-email\n"
                + extra
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try ConnectorRegistry.standard.load(path: path)
        }
        guard let settings = try load("").settings(as: IMAPSourceConnector.Settings.self) else {
            Issue.record("not an imap source")
            return
        }
        #expect(settings.deadLetterTopic == "dlq.inbox")
        #expect(settings.maxMessageBytes == 10 << 20)
        #expect(settings.maxInFlight == 32)
        #expect(try load("").topics == ["crm.ticket", "dlq.inbox"])
        guard
            let tuned = try load("max_message_bytes: 65536\nmax_in_flight: 1\n").settings(
                as: IMAPSourceConnector.Settings.self)
        else { return }
        #expect(tuned.maxMessageBytes == 65_536 && tuned.maxInFlight == 1)
        #expect(throws: (any Error).self) { try load("max_message_bytes: 100\n") }
        #expect(throws: (any Error).self) { try load("when: {path: a, equals: b}\n") }
    }
}
