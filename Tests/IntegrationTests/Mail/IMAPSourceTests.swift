import CRMHub
import CRMKafka
import CRMMail
import CRMMapping
import CRMModel
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

extension MailPeerTests {
    /// The IMAP source against a real Dovecot (and Postfix, which shares its Maildirs) and a real Kafka broker (Tansu).
    @Suite("IMAP source through dovecot to Kafka", .serialized)
    struct IMAPSourceTests {
        static let topic = "crm.ticket"

        static func mapping() throws -> CompiledMapping {
            let library = try MappingLibrary.load(files: [
                repositoryRoot.appendingPathComponent("Mappings/inbound-email.yaml").path
            ])
            return try #require(library.mapping(named: "inbound-email"))
        }

        static func source(
            _ server: MailServer, broker: TansuBroker, producer: KafkaProducer, state: MailboxStateStore
        ) throws -> IMAPSource {
            let client = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: MailServer.address("support"), password: MailServer.password,
                    security: .none,
                    timeout: .seconds(15), connectTimeout: .seconds(8)))
            return IMAPSource(
                settings: .init(name: "support-inbox", topic: topic, pollInterval: .milliseconds(200)), client: client,
                producer: producer,
                mapping: try mapping(), state: state)
        }

        static func mail(_ number: Int, subject: String, extraHeaders: String = "") -> String {
            """
            From: =?UTF-8?Q?J=C3=BCrgen_K=C3=B6hler?= <Juergen.Koehler@Example.org>
            To: support@crm.test
            Subject: \(subject)
            Date: Tue, 24 Nov 2026 10:0\(number):00 +0100
            Message-ID: <mail-\(number)@example.org>
            \(extraHeaders)MIME-Version: 1.0
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            Nachricht Nummer \(number): Gr=C3=BC=C3=9Fe!
            """
        }

        static func tickets(_ messages: [ConsumerMessage]) throws -> [String: JSONValue] {
            var tickets: [String: JSONValue] = [:]
            for message in messages {
                let value = try JSONValue.parse(message.value)
                let id = try #require(value["id"]?.stringValue)
                tickets[id] = value
                #expect(message.headers.text(EnvelopeHeader.id) == id)
            }
            return tickets
        }

        @Test("three mails become three tickets; a restart adds none; a fourth mail adds exactly one")
        func newMailBecomesTicketsOnce() async throws {
            let broker = try TansuBroker()
            let server = try await offPool { try MailServer() }
            // Mail first, broker last: the broker's exit is only noticed once no mail daemon holds inherited descriptors.
            defer {
                server.stop()
                broker.stop()
            }
            try await KafkaTestClient.createTopics(broker.bootstrap, [Self.topic], partitions: 1)
            let statePath = server.directory.appendingPathComponent("state/imap.sqlite").path
            for number in 1...3 {
                try server.deposit(Self.mail(number, subject: "Frage \(number) – Drucker"), for: "support")
            }

            do {
                let producer = try KafkaTestClient.producer(broker.bootstrap)
                let source = try Self.source(
                    server, broker: broker, producer: producer, state: try MailboxStateStore(path: statePath))
                let summary = try await source.poll()
                #expect(summary.produced == 3)
                #expect(try await source.poll().produced == 0)
                await producer.shutdown(timeout: .seconds(5))
            }

            let first = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.topic, count: 3, timeout: .seconds(20))
            let tickets = try Self.tickets(first)
            #expect(
                tickets.keys.sorted() == [
                    "email-mail-1@example.org", "email-mail-2@example.org", "email-mail-3@example.org",
                ])
            let ticket = try #require(tickets["email-mail-2@example.org"])
            #expect(ticket["subject"]?.stringValue == "Frage 2 – Drucker")
            #expect(ticket["body"]?.stringValue == "Nachricht Nummer 2: Grüße!")
            #expect(ticket["customerRef"]?.stringValue == "email:juergen.koehler@example.org")
            #expect(ticket["channel"]?.stringValue == "email")
            #expect(ticket["receivedAt"]?.stringValue == "2026-11-24T09:02:00Z")

            // A new process: same state file, new clients. Nothing is produced again; the fourth mail once.
            try server.deposit(Self.mail(4, subject: "Frage 4"), for: "support")
            do {
                let producer = try KafkaTestClient.producer(broker.bootstrap)
                let state = try MailboxStateStore(path: statePath)
                let source = try Self.source(server, broker: broker, producer: producer, state: state)
                let summary = try await source.poll()
                #expect(summary.produced == 1)
                #expect(summary.duplicates == 0)
                #expect(try await state.count(source: "support-inbox", outcome: .produced) == 4)
                await producer.shutdown(timeout: .seconds(5))
            }
            let all = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.topic, count: 5, timeout: .seconds(8))
            #expect(all.count == 4)
            #expect(try Self.tickets(all).keys.sorted().last == "email-mail-4@example.org")

            // The server shows what was finished (fetching alone would only have set \Seen).
            let client = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: MailServer.address("support"), password: MailServer.password,
                    security: .none))
            let status = try await client.status(mailbox: "INBOX")
            #expect(status.messages == 4)
            #expect(try await client.flags(mailbox: "INBOX", uid: 4).contains("crmhub-processed"))
        }

        @Test(
            "IMAP over STARTTLS with the server's certificate reads the mailbox; an untrusted certificate is refused, not skipped"
        )
        func startTLSIsVerified() async throws {
            let server = try await offPool { try MailServer() }
            defer { server.stop() }
            try server.deposit(Self.mail(1, subject: "Over TLS"), for: "support")
            let login = (MailServer.address("support"), MailServer.password)
            let trusted = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: login.0, password: login.1, security: .startTLS,
                    caFile: server.certificatePath))
            let status = try await trusted.status(mailbox: "INBOX")
            #expect(status.messages == 1)
            let raw = try await trusted.fetch(mailbox: "INBOX", uidValidity: status.uidValidity, uid: 1)
            #expect(String(decoding: raw, as: UTF8.self).contains("Subject: Over TLS"))

            let untrusted = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: login.0, password: login.1, security: .startTLS))
            do {
                _ = try await untrusted.status(mailbox: "INBOX")
                Issue.record("a self-signed certificate was accepted without ca_file")
            } catch {
                #expect(error.transport != nil, "\(error)")
            }
        }

        @Test(
            "mail delivered by postfix is read; a reply with In-Reply-To/References carries the thread's first ticket")
        func replyCarriesThreadReference() async throws {
            let broker = try TansuBroker()
            let server = try await offPool { try MailServer() }
            // Mail first, broker last: the broker's exit is only noticed once no mail daemon holds inherited descriptors.
            defer {
                server.stop()
                broker.stop()
            }
            try await KafkaTestClient.createTopics(broker.bootstrap, [Self.topic], partitions: 1)
            // The first mail goes through SMTP (postfix → Maildir → dovecot), the reply straight into the Maildir.
            let smtp = SMTPClient(settings: MailServerSettings(url: server.smtpURL, security: .none))
            let original = MailMessage(
                from: MailAddress("bob@example.org", name: "Bob"), to: [MailAddress("support@crm.test")],
                subject: "Rechnung 2026-11 fehlt",
                text: "Wo ist meine Rechnung?", messageID: "first@example.org")
            #expect(await smtp.send(original).delivered.count == 1)
            _ = try await server.waitForMessages("support", count: 1)
            try server.deposit(
                Self.mail(
                    5, subject: "Re: Ihre Anfrage ist eingegangen",
                    extraHeaders: "In-Reply-To: <ack-1@hub.test>\nReferences: <first@example.org>\n <ack-1@hub.test>\n"),
                for: "support")

            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let source = try Self.source(
                server, broker: broker, producer: producer, state: try MailboxStateStore(path: nil))
            #expect(try await source.poll().produced == 2)
            await producer.shutdown(timeout: .seconds(5))

            let tickets = try Self.tickets(
                try await KafkaTestClient.collect(broker.bootstrap, topic: Self.topic, count: 2, timeout: .seconds(20)))
            let first = try #require(tickets["email-first@example.org"])
            #expect(first["subject"]?.stringValue == "Rechnung 2026-11 fehlt")
            #expect(first["threadRef"] == nil || first["threadRef"]?.isNull == true)
            let reply = try #require(tickets["email-mail-5@example.org"])
            #expect(reply["threadRef"]?.stringValue == "email-first@example.org")
            #expect(reply["subject"]?.stringValue == "Ihre Anfrage ist eingegangen")
        }

        @Test("one long-lived source (one IMAP connection) sees mail that arrives after its previous poll")
        func laterMailIsSeenOnTheSameConnection() async throws {
            let broker = try TansuBroker()
            let server = try await offPool { try MailServer() }
            defer {
                server.stop()
                broker.stop()
            }
            try await KafkaTestClient.createTopics(broker.bootstrap, [Self.topic], partitions: 1)
            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let source = try Self.source(
                server, broker: broker, producer: producer, state: try MailboxStateStore(path: nil))
            try server.deposit(Self.mail(1, subject: "Erste"), for: "support")
            #expect(try await source.poll().produced == 1)
            #expect(try await source.poll().produced == 0)
            try server.deposit(Self.mail(2, subject: "Zweite"), for: "support")
            #expect(try await source.poll().produced == 1)
            let smtp = SMTPClient(settings: MailServerSettings(url: server.smtpURL, security: .none))
            let viaPostfix = MailMessage(
                from: MailAddress("bob@example.org"), to: [MailAddress("support@crm.test")], subject: "Dritte",
                text: "3", messageID: "third@example.org")
            #expect(await smtp.send(viaPostfix).delivered.count == 1)
            _ = try await server.waitForMessages("support", count: 3)
            #expect(try await source.poll().produced == 1)
            await producer.shutdown(timeout: .seconds(5))
        }

        @Test(
            "with several messages in flight the topic holds the mail in UID order, and every UID is recorded and flagged"
        )
        func pipelinedPollKeepsUIDOrder() async throws {
            let broker = try TansuBroker()
            let server = try await offPool { try MailServer() }
            defer {
                server.stop()
                broker.stop()
            }
            try await KafkaTestClient.createTopics(broker.bootstrap, [Self.topic], partitions: 1)
            for number in 1...9 { try server.deposit(Self.mail(number, subject: "Frage \(number)"), for: "support") }
            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let state = try MailboxStateStore(path: nil)
            let client = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: MailServer.address("support"), password: MailServer.password,
                    security: .none))
            var settings = IMAPSource.Settings(name: "support-inbox", topic: Self.topic, batchLimit: 7)
            settings.maxInFlight = 3
            let source = IMAPSource(
                settings: settings, client: client, producer: producer, mapping: try Self.mapping(), state: state)
            let first = try await source.poll()
            #expect(first.produced == 7 && first.batchFull)
            #expect(try await source.poll().produced == 2)
            await producer.shutdown(timeout: .seconds(5))
            let messages = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.topic, count: 9, timeout: .seconds(20))
            // The origin header ends with the UID (Dovecot numbers the deposited files in its own order).
            let uids = messages.compactMap {
                $0.headers.text(EnvelopeHeader.origin)?.split(separator: "/").last.flatMap { Int($0) }
            }
            #expect(uids == Array(1...9))
            #expect(Set(messages.compactMap { $0.headers.text(EnvelopeHeader.id) }).count == 9)
            #expect(try await state.count(source: "support-inbox", outcome: .produced) == 9)
            for uid in UInt32(1)...9 {
                #expect(try await client.flags(mailbox: "INBOX", uid: uid).contains("crmhub-processed"), "uid \(uid)")
            }
        }

        @Test("a Kafka outage stops the poll before the state moves; the next poll produces the message")
        func kafkaDownSkipsNothing() async throws {
            let broker = try TansuBroker()
            let server = try await offPool { try MailServer() }
            // Mail first, broker last: the broker's exit is only noticed once no mail daemon holds inherited descriptors.
            defer {
                server.stop()
                broker.stop()
            }
            try await KafkaTestClient.createTopics(broker.bootstrap, [Self.topic], partitions: 1)
            try server.deposit(Self.mail(6, subject: "Ausfall"), for: "support")
            let state = try MailboxStateStore(path: nil)

            // A producer whose broker does not exist: delivery times out, nothing is recorded.
            var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:\(try freePort())"])
            configuration.deliveryTimeoutMilliseconds = 1_500
            let deadProducer = try KafkaProducer(configuration: configuration, logger: KafkaTestClient.logger)
            let failing = try Self.source(server, broker: broker, producer: deadProducer, state: state)
            await #expect(throws: (any Error).self) { try await failing.poll() }
            #expect(try await state.count(source: "support-inbox") == 0)
            await deadProducer.shutdown(timeout: .seconds(1))

            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let source = try Self.source(server, broker: broker, producer: producer, state: state)
            #expect(try await source.poll().produced == 1)
            await producer.shutdown(timeout: .seconds(5))
            let messages = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.topic, count: 1, timeout: .seconds(20))
            #expect(try Self.tickets(messages).keys.sorted() == ["email-mail-6@example.org"])
        }
    }
}
