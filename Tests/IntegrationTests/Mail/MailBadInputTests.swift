import CRMHub
import CRMKafka
import CRMMail
import CRMMapping
import CRMModel
import CRMRedaction
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

/// Bad input, read without a mail server: what ``ParsedMail`` makes of mail that is not as it declares.
@Suite("Mail parsing of bad input")
struct MailParsingBadInputTests {
    static func parse(_ text: String) -> ParsedMail {
        ParsedMail.parse(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    @Test("an unknown charset is read as UTF-8 (else ISO-8859-1) and said in a warning")
    func unknownCharset() {
        var bytes = Array("From: a@b.example\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nK".utf8)
        bytes += [0xF6, 0x6C, 0x6E]  // "Köln" in ISO-8859-1: not UTF-8
        let mail = ParsedMail.parse(bytes)
        #expect(mail.text == "Köln")
        #expect(mail.warnings == ["unknown charset 'x-unknown': not UTF-8, read as ISO-8859-1"])
        let utf8 = Self.parse("Content-Type: text/plain; charset=\"x-mac-klingon\"\n\nGrüße")
        #expect(utf8.text == "Grüße")
        #expect(utf8.warnings == ["unknown charset 'x-mac-klingon': read as UTF-8"])
    }

    @Test("well-formed mail has no warnings; invalid UTF-8 in a UTF-8 part is read as ISO-8859-1 with a warning")
    func invalidUTF8() {
        #expect(Self.parse("Content-Type: text/plain; charset=utf-8\n\nGrüße").warnings.isEmpty)
        let mail = ParsedMail.parse(
            Array("Content-Type: text/plain; charset=utf-8\r\n\r\nK".utf8) + [0xF6, 0x6C, 0x6E])
        #expect(mail.text == "Köln")
        #expect(mail.warnings == ["invalid utf-8 text: read as ISO-8859-1"])
    }

    @Test(
        "a multipart without boundary is read as text; one without closing delimiter up to its end; bad base64 is kept")
    func malformedMIME() {
        let noBoundary = Self.parse("Content-Type: multipart/mixed\n\nJust text, really.")
        #expect(noBoundary.text == "Just text, really.")
        #expect(noBoundary.warnings == ["multipart/mixed without boundary: body read as plain text"])

        let truncated = Self.parse(
            """
            Content-Type: multipart/mixed; boundary="b1"

            --b1
            Content-Type: text/plain; charset=utf-8

            Der Anhang fehlt.
            --b1
            Content-Type: application/pdf
            Content-Disposition: attachment; filename="x.pdf"
            Content-Transfer-Encoding: base64

            JVBERi0xLjQK
            """)
        #expect(truncated.text == "Der Anhang fehlt.")
        #expect(truncated.warnings == ["multipart/mixed without closing boundary (truncated?): read up to its end"])

        let badBase64 = Self.parse(
            "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n%%%% not base64 at all")
        #expect(badBase64.text == "%%%% not base64 at all")
        #expect(badBase64.warnings == ["invalid base64 body: kept undecoded"])
    }
}

extension MailPeerTests {
    /// Bad input through a real Dovecot and a real Kafka broker (Tansu): mail crafted straight into the Maildir.
    @Suite("IMAP source with bad input", .serialized)
    struct IMAPBadInputTests {
        static let topic = "crm.ticket"
        static let deadLetterTopic = "dlq.support-inbox"

        static func source(
            _ server: MailServer, producer: KafkaProducer, state: MailboxStateStore, maxMessageBytes: Int = 10 << 20
        ) throws -> IMAPSource {
            let client = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: MailServer.address("support"), password: MailServer.password,
                    security: .none,
                    timeout: .seconds(30), connectTimeout: .seconds(8)))
            let settings = IMAPSource.Settings(
                name: "support-inbox", topic: topic, deadLetterTopic: deadLetterTopic, pollInterval: .milliseconds(200),
                maxMessageBytes: maxMessageBytes)
            return IMAPSource(
                settings: settings, client: client, producer: producer, mapping: try IMAPSourceTests.mapping(),
                state: state)
        }

        @Test("a bad mail full of personal data is dead-lettered with none of it in its headers or either log format")
        func badMailWithPersonalDataIsRedacted() async throws {
            let (server, broker) = try await Self.peers()
            defer {
                server.stop()
                broker.stop()
            }
            try server.deposit(
                """
                To: support@crm.test
                Reply-To: Zelda Quux <zelda.quux@example-private.org>
                Subject: Zelda Quux, please call +44 7700 900461
                Message-ID: <zelda@example-private.org>
                Content-Type: text/plain; charset=x-unknown

                Zelda Quux, zelda.quux@example-private.org
                """, for: "support")
            let logs = RedactionEverywhereTests.CapturedLogs()
            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let client = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: MailServer.address("support"), password: MailServer.password,
                    security: .none, timeout: .seconds(30), connectTimeout: .seconds(8)))
            let source = IMAPSource(
                settings: IMAPSource.Settings(
                    name: "support-inbox", topic: Self.topic, deadLetterTopic: Self.deadLetterTopic,
                    pollInterval: .milliseconds(200)),
                client: client, producer: producer, mapping: try IMAPSourceTests.mapping(),
                state: try MailboxStateStore(path: nil), logger: logs.logger(redaction: .installed))
            let summary = try await source.poll()
            #expect(summary.failed == 1)
            await producer.shutdown(timeout: .seconds(5))
            let dead = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.deadLetterTopic, count: 1, timeout: .seconds(20))
            #expect(dead.count == 1)
            let headers = dead.flatMap { message in message.headers.map { "\($0.key)=\($0.text ?? "")" } }
            let lines = logs.json.withLock { $0 } + logs.text.withLock { $0 }
            #expect(lines.contains { $0.contains("dead-letter") }, "the failure was logged: \(lines)")
            for fragment in RedactionEverywhereTests.forbidden {
                let leaks = (headers + lines).filter { $0.contains(fragment) }
                #expect(leaks.isEmpty, "\(fragment) in the dead-letter headers or logs: \(leaks.prefix(3))")
            }
        }

        /// A started mail server and broker with both topics.
        static func peers() async throws -> (MailServer, TansuBroker) {
            let broker = try TansuBroker()
            let server: MailServer
            do {
                server = try await offPool { try MailServer() }
            } catch {
                broker.stop()
                throw error
            }
            try await KafkaTestClient.createTopics(broker.bootstrap, [topic, deadLetterTopic], partitions: 1)
            return (server, broker)
        }

        @Test(
            "a mail without From goes to the dead-letter topic with the reason; its UID is finished and the next mail becomes a ticket"
        )
        func missingFromIsDeadLettered() async throws {
            let (server, broker) = try await Self.peers()
            defer {
                server.stop()
                broker.stop()
            }
            try server.deposit(
                """
                To: support@crm.test
                Subject: Wer bin ich?
                Message-ID: <no-from@example.org>
                Content-Type: text/plain; charset=utf-8

                Ohne Absender.
                """, for: "support")
            try server.deposit(IMAPSourceTests.mail(7, subject: "Mit Absender"), for: "support")

            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let state = try MailboxStateStore(path: nil)
            let source = try Self.source(server, producer: producer, state: state)
            let summary = try await source.poll()
            #expect(summary.failed == 1)
            #expect(summary.produced == 1)
            let again = try await source.poll()
            #expect(again.produced + again.failed == 0, "a second poll finds nothing new")
            #expect(try await state.count(source: "support-inbox", outcome: .failed) == 1)
            await producer.shutdown(timeout: .seconds(5))

            let dead = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.deadLetterTopic, count: 1, timeout: .seconds(20))
            let letter = try #require(dead.first)
            #expect(dead.count == 1)
            #expect(letter.key.map { String(decoding: $0, as: UTF8.self) } == "no-from@example.org")
            let reason = try #require(letter.headers.text(DeadLetterHeader.reason))
            #expect(reason.contains("customerRef"), "reason: \(reason)")
            #expect(letter.headers.text(EnvelopeHeader.origin)?.hasPrefix("imap/support-inbox/INBOX/") == true)
            let document = try JSONValue.parse(letter.value)
            #expect(document["subject"]?.stringValue == "Wer bin ich?")
            #expect(document["text"]?.stringValue == "Ohne Absender.")

            let tickets = try IMAPSourceTests.tickets(
                try await KafkaTestClient.collect(broker.bootstrap, topic: Self.topic, count: 2, timeout: .seconds(5)))
            #expect(tickets.keys.sorted() == ["email-mail-7@example.org"])
        }

        @Test(
            "an unknown charset and broken MIME still become tickets, read best-effort and marked in crm-mail-warnings")
        func unreadableCharsetAndMIMEBecomeTickets() async throws {
            let (server, broker) = try await Self.peers()
            defer {
                server.stop()
                broker.stop()
            }
            var charset = Data(
                "From: anna@example.org\r\nTo: support@crm.test\r\nSubject: Zeichensatz\r\nMessage-ID: <charset@example.org>\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nGr"
                    .utf8)
            // "üße aus Köln" in Latin-1.
            charset.append(contentsOf: [0xFC, 0xDF, 0x65, 0x20, 0x61, 0x75, 0x73, 0x20, 0x4B, 0xF6, 0x6C, 0x6E])
            try server.deposit(bytes: charset, for: "support")
            try server.deposit(
                """
                From: ben@example.org
                To: support@crm.test
                Subject: Ohne Grenze
                Message-ID: <no-boundary@example.org>
                MIME-Version: 1.0
                Content-Type: multipart/alternative

                Der Text ohne Teile.
                """, for: "support")
            try server.deposit(
                """
                From: carla@example.org
                To: support@crm.test
                Subject: Abgeschnitten
                Message-ID: <truncated@example.org>
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="zz"

                --zz
                Content-Type: text/plain; charset=utf-8

                Anbei die Rechnung.
                --zz
                Content-Type: application/pdf
                Content-Disposition: attachment; filename="rechnung.pdf"
                Content-Transfer-Encoding: base64

                JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI
                """, for: "support")

            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let source = try Self.source(server, producer: producer, state: try MailboxStateStore(path: nil))
            let summary = try await source.poll()
            #expect(summary.produced == 3)
            #expect(summary.withWarnings == 3)
            #expect(summary.failed == 0)
            await producer.shutdown(timeout: .seconds(5))

            let messages = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.topic, count: 3, timeout: .seconds(20))
            let tickets = try IMAPSourceTests.tickets(messages)
            #expect(tickets["email-charset@example.org"]?["body"]?.stringValue == "Grüße aus Köln")
            #expect(tickets["email-no-boundary@example.org"]?["body"]?.stringValue == "Der Text ohne Teile.")
            #expect(tickets["email-truncated@example.org"]?["body"]?.stringValue == "Anbei die Rechnung.")
            var warnings: [String: String] = [:]
            for message in messages {
                warnings[message.headers.text(EnvelopeHeader.id) ?? "?"] = message.headers.text("crm-mail-warnings")
            }
            #expect(
                warnings["email-charset@example.org"] == "unknown charset 'x-unknown': not UTF-8, read as ISO-8859-1")
            #expect(
                warnings["email-no-boundary@example.org"]
                    == "multipart/alternative without boundary: body read as plain text")
            #expect(
                warnings["email-truncated@example.org"]
                    == "multipart/mixed without closing boundary (truncated?): read up to its end")
        }

        @Test(
            "a mail with a 20 MiB attachment is read up to max_message_bytes: a ticket with its text, in bounded time and memory"
        )
        func hugeAttachmentIsTruncated() async throws {
            let (server, broker) = try await Self.peers()
            defer {
                server.stop()
                broker.stop()
            }
            var raw = Data(
                """
                From: dora@example.org\r
                To: support@crm.test\r
                Subject: Großes Foto\r
                Message-ID: <huge@example.org>\r
                MIME-Version: 1.0\r
                Content-Type: multipart/mixed; boundary="big"\r
                \r
                --big\r
                Content-Type: text/plain; charset=utf-8\r
                \r
                Siehe Foto vom Schaden.\r
                --big\r
                Content-Type: image/jpeg\r
                Content-Disposition: attachment; filename="schaden.jpg"\r
                Content-Transfer-Encoding: base64\r
                \r

                """.utf8)
            let line = Data((String(repeating: "QUJDRA", count: 12) + "QUJD\r\n").utf8)  // 76 base64 characters
            let lines = (20 << 20) / 57 + 1  // 57 octets per line: 20 MiB of attachment
            raw.reserveCapacity(raw.count + lines * line.count + 16)
            for _ in 0..<lines { raw.append(line) }
            raw.append(Data("--big--\r\n".utf8))
            try server.deposit(bytes: raw, for: "support")
            try server.deposit(IMAPSourceTests.mail(8, subject: "Danach"), for: "support")

            let producer = try KafkaTestClient.producer(broker.bootstrap)
            let source = try Self.source(
                server, producer: producer, state: try MailboxStateStore(path: nil), maxMessageBytes: 1 << 20)
            let clock = ContinuousClock()
            let start = clock.now
            let summary = try await source.poll()
            let elapsed = clock.now - start
            #expect(summary.produced == 2)
            #expect(summary.truncated == 1)
            #expect(elapsed < .seconds(10), "took \(elapsed)")
            await producer.shutdown(timeout: .seconds(5))

            let messages = try await KafkaTestClient.collect(
                broker.bootstrap, topic: Self.topic, count: 2, timeout: .seconds(20))
            let tickets = try IMAPSourceTests.tickets(messages)
            #expect(tickets["email-huge@example.org"]?["body"]?.stringValue == "Siehe Foto vom Schaden.")
            #expect(tickets["email-huge@example.org"]?["subject"]?.stringValue == "Großes Foto")
            #expect(tickets["email-mail-8@example.org"] != nil)
            let huge = try #require(messages.first { $0.headers.text(EnvelopeHeader.id) == "email-huge@example.org" })
            let warning = try #require(huge.headers.text("crm-mail-warnings"))
            #expect(warning.contains("message longer than 1048576 bytes"), "warnings: \(warning)")
        }
    }
}
