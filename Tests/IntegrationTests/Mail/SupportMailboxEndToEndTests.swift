import CRMDelivery
import CRMHub
import CRMKafka
import CRMMail
import CRMModel
import CRMTestSupport
import CRMTransport
import Foundation
import Logging
import ServiceLifecycle
import Testing

extension MailPeerTests {
    /// Issue 6, item 5: e-mail to the support mailbox → Ticket on Kafka → acknowledgement in the sender's Maildir.
    /// Real Postfix + Dovecot + Tansu; the hub's own services (an `imap-source` and an `smtp-sink` with `when:`,
    /// loaded from connector files the way `crmhub run` loads them) run in-process in one ServiceGroup.
    @Suite("Support mailbox end to end", .serialized)
    struct SupportMailboxEndToEndTests {
        static let topic = "crm.ticket"

        /// The hub folder: crmhub.yaml, connectors (imap-source on support@, smtp-sink on crm.ticket with the
        /// repository's ticket-ack templates), the repository's inbound-email mapping.
        static func writeHub(_ server: MailServer, broker: TansuBroker) throws -> URL {
            let root = server.directory.appendingPathComponent("hub")
            let manager = FileManager.default
            for folder in ["connectors", "mappings", "state"] {
                try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            try manager.copyItem(
                at: repositoryRoot.appendingPathComponent("Mappings/inbound-email.yaml"),
                to: root.appendingPathComponent("mappings/inbound-email.yaml"))
            let passwordFile = root.appendingPathComponent("imap-password").path
            try MailServer.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let templates = repositoryRoot.appendingPathComponent("Connectors/templates").path
            let imap = """
                name: support-inbox
                kind: imap-source
                url: \(server.imapURL)
                security: none
                allow_plaintext_credentials: true
                username: \(MailServer.address("support"))
                password: ${file:\(passwordFile)}
                topic: \(topic)
                mapping: inbound-email
                poll_interval_ms: 1000
                dead_letter_topic: dlq.support-inbox

                """
            let smtp = """
                name: ticket-ack
                kind: smtp-sink
                topic: \(topic)
                when: {all: [{path: status, equals: new}]}
                url: smtp://127.0.0.1:\(server.smtpPort)/hub.test
                security: none
                timeout_ms: 15000
                from: "Kundendienst <\(MailServer.address("support"))>"
                to: "{{customerRef}}"
                template: ticket-ack
                templates_dir: \(templates)
                message_id_domain: hub.test
                headers:
                  Auto-Submitted: auto-replied
                retry: {in_place_attempts: 2, initial_backoff_ms: 200, max_backoff_ms: 1000}

                """
            let hub = """
                kafka: {brokers: ["\(broker.bootstrap)"], group_prefix: e2e, session_timeout_ms: 2000, heartbeat_interval_ms: 500, create_topics: true, topic_partitions: 1}
                http: {host: 127.0.0.1, port: \(try freePort())}
                connectors: connectors
                mappings: mappings
                state_dir: state
                log: {level: info, format: text}
                routes: []

                """
            try imap.write(
                to: root.appendingPathComponent("connectors/support-inbox.yaml"), atomically: true, encoding: .utf8)
            try smtp.write(
                to: root.appendingPathComponent("connectors/ticket-ack.yaml"), atomically: true, encoding: .utf8)
            try hub.write(to: root.appendingPathComponent("crmhub.yaml"), atomically: true, encoding: .utf8)
            return root
        }

        /// The services `crmhub run` would start for this configuration (no HTTP servers), and the ack sink.
        static func services(
            _ configuration: HubConfiguration, logger: Logger
        ) async throws -> (services: [any Service], sink: SinkService) {
            let runtime = HubRuntime(configuration: configuration, logger: logger)
            try await runtime.preflight()
            let mappings = try MappingRegistry(directory: configuration.mappingsDirectory)
            let hub = try await runtime.makeServices(mappings: mappings) { _ in IdentityTransform() }
            // Connectors' services run wrapped in a MonitoredService (readiness).
            let sources = hub.services.compactMap { (($0 as? MonitoredService)?.service ?? $0) as? IMAPSource }
            #expect(sources.count == 1)
            let sink = try #require(hub.services.compactMap { $0 as? SinkService }.first)
            return (hub.services, sink)
        }

        static func send(_ smtp: SMTPClient, _ message: MailMessage) async {
            let result = await smtp.send(message)
            #expect(result.delivered.count == 1, "postfix did not accept \(message.subject): \(result)")
        }

        static func customer() -> MailAddress { MailAddress(MailServer.address("customer"), name: "Kundin Zoë") }
        static func support() -> MailAddress { MailAddress(MailServer.address("support")) }

        /// The tickets on the topic by id, once `count` arrived (or after `timeout`).
        static func tickets(
            _ broker: TansuBroker, count: Int, timeout: Duration = .seconds(40)
        ) async throws -> [String: JSONValue] {
            let messages = try await KafkaTestClient.collect(
                broker.bootstrap, topic: topic, count: count, timeout: timeout)
            var tickets: [String: JSONValue] = [:]
            for message in messages {
                let value = try JSONValue.parse(message.value)
                tickets[try #require(value["id"]?.stringValue)] = value
            }
            return tickets
        }

        static func acknowledgements(_ server: MailServer, count: Int) async throws -> [ParsedMail] {
            try await server.waitForMessages("customer", count: count, timeout: 40).map {
                ParsedMail.parse(Array(try Data(contentsOf: $0)))
            }
        }

        @Test(
            "a new mail becomes a ticket and is acknowledged once; an auto-reply to the ack and a reply in the thread are not acknowledged"
        )
        func supportMailboxAcknowledgesNewTicketsOnly() async throws {
            let broker = try TansuBroker()
            let server: MailServer
            do {
                server = try await offPool { try MailServer(users: ["support", "agent", "customer"]) }
            } catch {
                broker.stop()
                throw error
            }
            // Mail first, broker last: the broker's exit is only noticed once no mail daemon holds inherited descriptors.
            defer {
                server.stop()
                broker.stop()
            }
            let root = try Self.writeHub(server, broker: broker)
            let configuration = try HubConfiguration.load(path: root.appendingPathComponent("crmhub.yaml").path)
            var logger = Logger(label: "e2e")
            logger.logLevel = .info
            let (services, sink) = try await Self.services(configuration, logger: logger)
            let group = ServiceGroup(services: services, logger: logger)
            let running = Task { try await group.run() }
            defer { running.cancel() }
            let smtp = SMTPClient(
                settings: MailServerSettings(url: server.smtpURL, security: .none, timeout: .seconds(15)))

            // (1) A new mail: a ticket, and an acknowledgement in the customer's Maildir tied to it.
            await Self.send(
                smtp,
                MailMessage(
                    from: Self.customer(), to: [Self.support()], subject: "Drucker druckt nur leere Seiten",
                    text: "Seit gestern kommen nur leere Seiten heraus.", messageID: "first@customer.test"))
            let first = try #require(try await Self.tickets(broker, count: 1)["email-first@customer.test"])
            #expect(first["status"]?.stringValue == "new")
            #expect(first["customerRef"]?.stringValue == "email:customer@crm.test")
            let ack = try #require(try await Self.acknowledgements(server, count: 1).first)
            #expect(ack.header("Auto-Submitted") == "auto-replied")
            #expect(ack.subject == "Ihre Anfrage ist eingegangen: Drucker druckt nur leere Seiten")
            #expect(ack.text?.contains("email-first@customer.test") == true, "text: \(ack.text ?? "-")")
            let ackID = try #require(ack.messageID)
            #expect(ackID.hasSuffix("@hub.test") && ackID.contains("first"), "Message-ID: \(ackID)")
            #expect(ack.from?.address == MailServer.address("support"))

            // (2) The customer's out-of-office answers the acknowledgement (Auto-Submitted: auto-replied): no ticket,
            // no acknowledgement. A later ordinary mail (the marker) proves the source and the sink moved past it.
            await Self.send(
                smtp,
                MailMessage(
                    from: Self.customer(), to: [Self.support()], subject: "Abwesenheitsnotiz: \(ack.subject ?? "")",
                    text: "Ich bin bis Montag nicht im Büro.", messageID: "ooo-1@customer.test", inReplyTo: ackID,
                    references: [ackID], extraHeaders: [("Auto-Submitted", "auto-replied")]))
            _ = try await server.waitForMessages("support", count: 2, timeout: 20)
            await Self.send(
                smtp,
                MailMessage(
                    from: Self.customer(), to: [Self.support()], subject: "Andere Frage: Rechnung",
                    text: "Wo ist meine Rechnung?",
                    messageID: "marker-1@customer.test"))
            let afterLoop = try await Self.acknowledgements(server, count: 2)
            #expect(afterLoop.count == 2)
            #expect(afterLoop.contains { $0.subject == "Ihre Anfrage ist eingegangen: Andere Frage: Rechnung" })
            let loopTickets = try await Self.tickets(broker, count: 3, timeout: .seconds(8))
            #expect(loopTickets.keys.sorted() == ["email-first@customer.test", "email-marker-1@customer.test"])
            let state = try MailboxStateStore(path: root.appendingPathComponent("state/imap.sqlite").path)
            #expect(try await state.count(source: "support-inbox", outcome: .dropped) == 1)

            // (3) The customer answers the acknowledgement in the thread: a ticket with threadRef (status open), and
            // no second acknowledgement; again a marker mail after it.
            await Self.send(
                smtp,
                MailMessage(
                    from: Self.customer(), to: [Self.support()], subject: "Re: \(ack.subject ?? "")",
                    text: "Es ist ein HP LaserJet.",
                    messageID: "reply-1@customer.test", inReplyTo: ackID, references: ["first@customer.test", ackID]))
            _ = try await server.waitForMessages("support", count: 4, timeout: 20)
            await Self.send(
                smtp,
                MailMessage(
                    from: Self.customer(), to: [Self.support()], subject: "Noch eine Frage: Lieferung",
                    text: "Wann kommt der Toner?",
                    messageID: "marker-2@customer.test"))
            let all = try await Self.tickets(broker, count: 4)
            let reply = try #require(all["email-reply-1@customer.test"])
            #expect(reply["threadRef"]?.stringValue == "email-first@customer.test")
            #expect(reply["status"]?.stringValue == "open")
            #expect(all["email-marker-2@customer.test"] != nil)
            let acks = try await Self.acknowledgements(server, count: 3)
            try await Task.sleep(for: .seconds(1))  // room for a wrong fourth acknowledgement to arrive
            let delivered = try server.deliveredMessages("customer").map {
                ParsedMail.parse(Array(try Data(contentsOf: $0)))
            }
            #expect(delivered.count == 3)
            #expect(acks.contains { $0.subject == "Ihre Anfrage ist eingegangen: Noch eine Frage: Lieferung" })
            #expect(
                !delivered.contains {
                    $0.messageID?.contains("reply-1") == true || $0.messageID?.contains("ooo-1") == true
                })
            #expect(sink.skippedCount == 1)
            #expect(sink.deliveredCount == 3)

            running.cancel()
            _ = try? await running.value
        }
    }
}
