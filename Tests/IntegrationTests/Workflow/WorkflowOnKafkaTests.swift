import CRMDelivery
import CRMHub
import CRMKafka
import CRMModel
import CRMTelephony
import CRMTestSupport
import CRMViews
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CRMWorkflow

/// The workflow rules on a real broker (Tansu): the escalation service reads the ticket and customer topics and
/// escalates on its schedule; the lead-assignment rule runs as a route step of the daemon's own runtime.
@Suite(.timeLimit(.minutes(3)))
struct WorkflowOnKafkaTests {
    let logger = Logger(label: "test")

    private func produce(_ producer: KafkaProducer, _ topic: String, key: String, _ value: String) async throws {
        _ = try await producer.send(ProducerMessage(topic: topic, key: Array(key.utf8), value: Array(value.utf8)))
    }

    private func ticket(
        _ id: String, severity: String, status: String = "open", hoursOld: Double, customer: String
    ) -> String {
        let opened = Date().addingTimeInterval(-hoursOld * 3_600).formatted(.iso8601)
        return
            #"{"id":"\#(id)","subject":"Line down","channel":"phone","severity":"\#(severity)","status":"\#(status)","createdAt":"\#(opened)","customerRef":"\#(customer)"}"#
    }

    /// Runs `service` until `body` returns, then shuts it down gracefully.
    private func running<T>(_ service: EscalationService, _ body: () async throws -> T) async throws -> T {
        let group = ServiceGroup(services: [service], logger: logger)
        let task = Task { try await group.run() }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await task.value
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw error
        }
    }

    @Test("the escalation rule fires once on the qualifying ticket, not on the others, and not again after a restart")
    func escalatesOnlyQualifyingTicketsOnce() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(
            broker.bootstrap, ["crm.ticket", "crm.customer", "crm.ticket.escalation"], partitions: 1)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        try await produce(
            producer, "crm.customer", key: "C1",
            #"{"id":"C1","kind":"organisation","displayName":"BigCo","emails":["ceo@bigco.example"],"lifetimeValue":"250000.00"}"#
        )
        try await produce(
            producer, "crm.customer", key: "C2",
            #"{"id":"C2","kind":"person","displayName":"Small","emails":["small@example.org"],"lifetimeValue":80}"#)
        try await produce(
            producer, "crm.ticket", key: "T1",
            ticket("T1", severity: "urgent", hoursOld: 50, customer: "email:CEO@BigCo.example"))
        try await produce(
            producer, "crm.ticket", key: "T2", ticket("T2", severity: "urgent", hoursOld: 2, customer: "C1"))
        try await produce(
            producer, "crm.ticket", key: "T3", ticket("T3", severity: "normal", hoursOld: 72, customer: "C1"))
        try await produce(
            producer, "crm.ticket", key: "T4",
            ticket("T4", severity: "urgent", hoursOld: 72, customer: "email:small@example.org"))
        try await produce(
            producer, "crm.ticket", key: "T5", ticket("T5", severity: "high", hoursOld: 72, customer: "C1"))
        try await produce(
            producer, "crm.ticket", key: "T5",
            ticket("T5", severity: "high", status: "solved", hoursOld: 72, customer: "C1"))
        try await produce(
            producer, "crm.ticket", key: "T6",
            ticket("T6", severity: "urgent", hoursOld: 72, customer: "email:nobody@example.net"))
        try await produce(producer, "crm.ticket", key: "X", "not json")

        var rule = try #require(
            try WorkflowRules.load(directory: repositoryRoot.appendingPathComponent("deploy/demo/rules").path)
                .escalations.first)
        rule.check = .every(.milliseconds(500))
        let statePath = try temporaryFolder([:]) + "/escalation.sqlite"
        func service() throws -> EscalationService {
            EscalationService(
                rule: rule, consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "", topics: []),
                groupPrefix: "test",
                producer: producer, store: try TicketViewStore(path: statePath), logger: logger)
        }

        let firstSeen = try await running(try service()) {
            let escalated = try await KafkaTestClient.collect(
                broker.bootstrap, topic: "crm.ticket.escalation", count: 1, timeout: .seconds(45))
            try await Task.sleep(for: .seconds(3))  // six more checks, which must not escalate anything else
            return escalated
        }
        #expect(firstSeen.count == 1)
        let first = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.ticket.escalation", count: 2, timeout: .seconds(10))
        #expect(first.count == 1, "only T1 is old, severe, open and of a valuable customer")
        let escalation = try #require(first.first)
        #expect(escalation.keyText == "T1")
        #expect(escalation.headers.text(EnvelopeHeader.id) == "escalation/escalate-vip-tickets/T1")
        let body = try JSONValue.parse(escalation.value)
        #expect(body["ticketId"]?.stringValue == "T1")
        #expect(body["customerName"]?.stringValue == "BigCo")
        #expect(body["notify"]?.stringValue == "Service Manager <service-manager@example.com>")
        #expect((body["ageHours"]?.doubleValue ?? 0) >= 50)

        // Restart on the same state: T1 is not escalated again; T3 becomes urgent and is escalated once.
        try await produce(
            producer, "crm.ticket", key: "T3", ticket("T3", severity: "urgent", hoursOld: 72, customer: "C1"))
        _ = try await running(try service()) {
            _ = try await KafkaTestClient.collect(
                broker.bootstrap, topic: "crm.ticket.escalation", count: 2, timeout: .seconds(45))
            try await Task.sleep(for: .seconds(3))
        }
        let all = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.ticket.escalation", count: 3, timeout: .seconds(10))
        #expect(all.map(\.keyText) == ["T1", "T3"])
        let counts = try await TicketViewStore(path: statePath).counts()
        #expect(counts.escalated == 2 && counts.tickets == 6)
        broker.stop()
    }

    @Test(
        "a route with rule: assigns leads through the daemon's runtime; leads it cannot place go to the route's DLQ with the reason"
    )
    func leadRouteAssignsAndDeadLetters() async throws {
        let broker = try TansuBroker()
        let directory = try temporaryFolder([
            "hub.yaml": """
            kafka:
              brokers: ["\(broker.bootstrap)"]
              session_timeout_ms: 2000
              heartbeat_interval_ms: 500
              topic_partitions: 1
              create_topics: true
            rules: rules
            routes:
              - {name: assign-leads, from: crm.lead, to: crm.lead.assigned, rule: leads}
            """
        ])
        try FileManager.default.createDirectory(atPath: directory + "/rules", withIntermediateDirectories: true)
        try "territory,country,postal_prefix,owners\nlondon,GB,E|EC|W,alice|bob\nuk,GB,,carol\n"
            .write(toFile: directory + "/rules/territories.csv", atomically: true, encoding: .utf8)
        try "name: leads\nkind: lead-assignment\nterritories: territories.csv\n".write(
            toFile: directory + "/rules/leads.yaml", atomically: true, encoding: .utf8)

        let configuration = try HubConfiguration.load(path: directory + "/hub.yaml")
        let workflow = try Workflow(configuration: configuration)
        let runtime = HubRuntime(configuration: configuration, logger: logger)
        try await runtime.preflight(additionalTopics: workflow.topics)
        let hub = try await runtime.makeServices { route in
            workflow.transform(for: route, logger: logger) ?? IdentityTransform()
        }
        let group = ServiceGroup(services: hub.services, logger: logger)
        let task = Task { try await group.run() }

        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let leads = [
            ("L1", "GB", "EC1A 1BB"), ("L2", "GB", "W1A 0AX"), ("L3", "GB", "M1 1AE"), ("L4", "GB", "E1 6AN"),
            ("L5", "FR", "75001"),
        ]
        for (id, country, postal) in leads {
            try await produce(
                producer, "crm.lead", key: id,
                #"{"id":"\#(id)","status":"new","country":"\#(country)","postalCode":"\#(postal)"}"#)
        }
        try await produce(producer, "crm.lead", key: "L6", "{broken")
        let assigned = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "crm.lead.assigned", count: 4, timeout: .seconds(60))
        let dead = try await KafkaTestClient.collect(
            broker.bootstrap, topic: "dlq.assign-leads", count: 2, timeout: .seconds(30))
        await group.triggerGracefulShutdown()
        try await task.value
        broker.stop()

        let owners = try assigned.map { message in try JSONValue.parse(message.value)["owner"]?.stringValue ?? "-" }
        #expect(assigned.map(\.keyText) == ["L1", "L2", "L3", "L4"])
        #expect(owners == ["alice", "bob", "carol", "alice"])
        let reasons = dead.map { DeadLetter($0).reason }
        #expect(dead.map(\.keyText) == ["L5", "L6"])
        #expect(reasons.first?.contains("no territory of rule 'leads'") == true)
        #expect(reasons.last == "not a JSON object")
    }
}

/// Screen-pops list the caller's open tickets from the ticket topic's view.
@Suite(.timeLimit(.minutes(2)))
struct ScreenPopTicketTests {
    @Test(
        "the caller's open tickets come from the ticket topic: newest version wins, solved ones and other customers' are left out"
    )
    func openTicketsFromTheTicketTopic() async throws {
        let broker = try TansuBroker()
        try await KafkaTestClient.createTopics(broker.bootstrap, ["crm.ticket"], partitions: 1)
        let producer = try KafkaTestClient.producer(broker.bootstrap)
        let tickets = [
            ("T1", "open", "C-1001", "Router keeps rebooting"), ("T2", "solved", "C-1001", "Old invoice"),
            ("T3", "new", "phone:+442079460018", "Called about delivery"), ("T4", "open", "C-2002", "Someone else's"),
            ("T1", "pending", "C-1001", "Router keeps rebooting"),
        ]
        for (id, status, customer, subject) in tickets {
            let value =
                #"{"id":"\#(id)","status":"\#(status)","customerRef":"\#(customer)","subject":"\#(subject)","severity":"normal","channel":"phone"}"#
            _ = try await producer.send(
                ProducerMessage(topic: "crm.ticket", key: Array(id.utf8), value: Array(value.utf8)))
        }
        let store = try TicketViewStore(path: nil)
        let view = TicketView(
            name: "cti.test", ticketsTopic: "crm.ticket", customersTopic: nil,
            openStatuses: ["new", "open", "pending"],
            consumer: KafkaTestClient.consumerConfiguration(broker.bootstrap, group: "", topics: []),
            groupPrefix: "test", store: store,
            logger: KafkaTestClient.logger)
        let group = ServiceGroup(services: [view], logger: KafkaTestClient.logger)
        let running = Task { try await group.run() }
        await view.waitUntilCaughtUp()

        let table = try StaticCustomerTable(
            csv: Array("phone,customer_ref,display_name\n020 7946 0018,C-1001,Ada Lovelace\n".utf8), defaultRegion: "GB"
        )
        let lookup = OpenTicketsLookup(base: table) { references in
            try await store.openTickets(references: references).map {
                TicketSummary(
                    id: $0["id"]?.stringValue ?? "-", status: $0["status"]?.stringValue ?? "-",
                    subject: $0["subject"]?.stringValue ?? "")
            }
        }
        // The view may still be reading under load: ask again (bounded) until both open tickets are there.
        var match = try #require(try await lookup.customer(forPhone: "+442079460018"))
        try await eventually(timeout: .seconds(30), poll: .milliseconds(500)) {
            if match.openTickets.count >= 2
                && !match.openTickets.contains(where: { $0.status == "open" && $0.id == "T1" })
            {
                return true
            }
            match = try #require(try await lookup.customer(forPhone: "+442079460018"))
            return false
        }
        await group.triggerGracefulShutdown()
        try await running.value
        broker.stop()
        #expect(match.customerRef == "C-1001" && match.displayName == "Ada Lovelace")
        #expect(match.openTickets.map(\.id).sorted() == ["T1", "T3"])
        #expect(match.openTickets.first { $0.id == "T1" }?.status == "pending")
        #expect(try await lookup.customer(forPhone: "+442079460099") == nil)
    }
}
