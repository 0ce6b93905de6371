import CRMDelivery
import CRMHub
import CRMKafka
import CRMMail
import CRMTestSupport
import CRMTransport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMWorkflow

/// The whole escalation path on real peers, wired as `crmhub run` wires it: tickets and customers on Tansu → the
/// escalation rule's scheduled check → the escalation topic → an `smtp-sink` with the shipped escalation templates →
/// postfix → the service manager's Maildir.
@Suite(.timeLimit(.minutes(3)))
struct EscalationMailTests {
    let logger = Logger(label: "test")

    @Test("an old, severe ticket of a valuable customer reaches the service manager's mailbox once; the others do not")
    func escalationIsMailedOnce() async throws {
        let mail = try await offPool { try MailServer(users: ["manager"]) }
        let broker = try TansuBroker()
        let directory = try temporaryFolder([
            "hub.yaml": """
            kafka:
              brokers: ["\(broker.bootstrap)"]
              session_timeout_ms: 2000
              heartbeat_interval_ms: 500
              topic_partitions: 1
              create_topics: true
            connectors: connectors
            rules: rules
            routes: []
            """,
            "escalate.yaml": """
            name: escalate
            kind: escalation
            customers: crm.customer
            to: crm.ticket.escalation
            notify: "Service Manager <\(MailServer.address("manager"))>"
            schedule: {every: 1s}
            when:
              all:
                - {path: age.hours, at_least: 24}
                - {path: ticket.severity, in: [high, urgent]}
                - {path: customer.tier, in: [gold]}
            """,
            "escalation-mail.yaml": """
            name: escalation-mail
            kind: smtp-sink
            topic: crm.ticket.escalation
            url: \(mail.smtpURL)
            security: none
            from: "crmhub <crmhub@\(MailServer.domain)>"
            to: "{{notify}}"
            template: ticket-escalation
            templates_dir: \(repositoryRoot.appendingPathComponent("Connectors/templates").path)
            message_id_domain: hub.test
            headers: {Auto-Submitted: auto-generated}
            """,
        ])
        for (file, folder) in [("escalate.yaml", "rules"), ("escalation-mail.yaml", "connectors")] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: "\(directory)/\(file)", toPath: "\(directory)/\(folder)/\(file)")
        }
        let configuration = try HubConfiguration.load(path: directory + "/hub.yaml")
        let workflow = try Workflow(configuration: configuration)
        let runtime = HubRuntime(configuration: configuration, logger: logger)
        try await runtime.preflight(additionalTopics: workflow.topics)

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let old = Date().addingTimeInterval(-30 * 3_600).formatted(.iso8601)
        let records = [
            ("crm.customer", "C1", #"{"id":"C1","kind":"organisation","displayName":"Gold Ltd","tier":"gold"}"#),
            ("crm.customer", "C2", #"{"id":"C2","kind":"person","displayName":"Bronze","tier":"bronze"}"#),
            (
                "crm.ticket", "T1",
                #"{"id":"T1","subject":"Outage at HQ","channel":"phone","severity":"urgent","status":"open","createdAt":"\#(old)","customerRef":"C1"}"#
            ),
            (
                "crm.ticket", "T2",
                #"{"id":"T2","subject":"Slow portal","channel":"web","severity":"urgent","status":"open","createdAt":"\#(old)","customerRef":"C2"}"#
            ),
            (
                "crm.ticket", "T3",
                #"{"id":"T3","subject":"Question","channel":"email","severity":"normal","status":"open","createdAt":"\#(old)","customerRef":"C1"}"#
            ),
        ]
        for (topic, key, value) in records {
            _ = try await producer.send(ProducerMessage(topic: topic, key: Array(key.utf8), value: Array(value.utf8)))
        }

        let hub = try await runtime.makeServices { _ in IdentityTransform() }
        let escalations = try workflow.escalationServices(runtime: runtime, producer: hub.producer, logger: logger)
        let group = ServiceGroup(services: hub.services + escalations.map { $0 as any Service }, logger: logger)
        let running = Task { try await group.run() }
        let delivered = try await mail.waitForMessages("manager", count: 1, timeout: 60)
        try await Task.sleep(for: .seconds(4))  // several more checks: nothing else is sent
        let finally = mail.deliveredMessages("manager")
        await group.triggerGracefulShutdown()
        try await running.value
        broker.stop()
        mail.stop()

        #expect(finally.count == 1)
        let message = ParsedMail.parse(Array(try Data(contentsOf: delivered[0])))
        #expect(message.subject == "[Escalation] urgent ticket T1 open 30.0 h: Outage at HQ")
        #expect(message.messageID == "escalation/escalate/T1@hub.test")
        #expect(message.header("Auto-Submitted") == "auto-generated")
        #expect(message.text?.contains("Customer:  Gold Ltd, tier gold") == true, "\(message.text ?? "")")
    }
}
