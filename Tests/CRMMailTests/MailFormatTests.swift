import CRMHub
import CRMMail
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

@Suite("Mail format: RFC 5322 / MIME writing and reading")
struct MailFormatTests {
    static let message = MailMessage(
        from: MailAddress("support@crm.test", name: "Kundendienst Müller"),
        to: [MailAddress("jane@example.com", name: "Jane \"JD\" Doe")],
        subject:
            "Ihre Anfrage #42 – Bestätigung für Zoë 🎉 mit einem sehr langen Betreff, der gefaltet werden muss, damit keine Zeile zu lang wird",
        text: "Grüße aus Köln!\nZeile mit = Zeichen und Leerzeichen am Ende   \n" + String(repeating: "ä", count: 120),
        html: "<p>Grüße aus <b>Köln</b></p>", messageID: MailMessage.messageID(for: "crm id/42", domain: "hub.test"),
        inReplyTo: "first@mail.example.org", references: ["first@mail.example.org"],
        date: Date(timeIntervalSince1970: 1_800_000_000))

    @Test("a rendered message reads back with the same subject, addresses, ids and both alternatives")
    func roundTrip() throws {
        let bytes = Self.message.rendered(boundary: "b1")
        let parsed = ParsedMail.parse(bytes)
        #expect(parsed.subject == Self.message.subject)
        #expect(parsed.from == MailAddress("support@crm.test", name: "Kundendienst Müller"))
        #expect(parsed.header("To") == "\"Jane \\\"JD\\\" Doe\" <jane@example.com>")
        #expect(parsed.messageID == "crm-id/42@hub.test")
        #expect(parsed.inReplyTo == "first@mail.example.org")
        #expect(parsed.references == ["first@mail.example.org"])
        #expect(parsed.text == Self.message.text)
        #expect(parsed.html == Self.message.html)
        #expect(parsed.date == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(parsed.header("Content-Type")?.hasPrefix("multipart/alternative") == true)
    }

    @Test("the wire form is 7-bit ASCII with CRLF line ends and no line over 78 octets")
    func wireForm() {
        let text = String(decoding: Self.message.rendered(), as: UTF8.self)
        #expect(text.utf8.allSatisfy { $0 < 128 })
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { !$0.contains("\n") && !$0.contains("\r") })
        #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "longest: \(lines.map(\.utf8.count).max() ?? 0)")
        #expect(text.contains("Subject: =?UTF-8?B?"))
        #expect(text.contains("Message-ID: <crm-id/42@hub.test>"))
    }

    @Test("encoded words in Q and B form, in UTF-8 and ISO-8859-1, decode; white space between them is dropped")
    func encodedWords() {
        #expect(EncodedWord.decode("=?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=") == "Grüße aus Köln")
        #expect(EncodedWord.decode("=?utf-8?b?w5xiZXI=?= =?utf-8?q?_uns?= und mehr") == "Über uns und mehr")
        #expect(EncodedWord.decode("plain =?bogus") == "plain =?bogus")
    }

    @Test("a latin-1 quoted-printable body and a base64 part behind an attachment are read; the attachment is not")
    func multipartMixed() {
        let raw = """
            From: =?iso-8859-1?q?J=F6rg?= <joerg@example.de>
            Subject: Rechnung
             folded part
            Message-ID: <abc@example.de>
            Content-Type: multipart/mixed; boundary="outer"

            preamble
            --outer
            Content-Type: multipart/alternative; boundary=inner

            --inner
            Content-Type: text/plain; charset=ISO-8859-1
            Content-Transfer-Encoding: quoted-printable

            Gr=FC=DFe, die Rechnung ist sehr lang und wird hier weich umbrochen =
            fortgesetzt.
            --inner
            Content-Type: text/html; charset=utf-8
            Content-Transfer-Encoding: base64

            PHA+R3LDvMOfZTwvcD4=
            --inner--
            --outer
            Content-Type: text/plain; name=notes.txt
            Content-Disposition: attachment; filename=notes.txt

            not the body
            --outer--
            """
        let parsed = ParsedMail.parse(Array(raw.replacingOccurrences(of: "\n", with: "\r\n").utf8))
        #expect(parsed.from?.name == "Jörg")
        #expect(parsed.subject == "Rechnung folded part")
        #expect(parsed.text == "Grüße, die Rechnung ist sehr lang und wird hier weich umbrochen fortgesetzt.")
        #expect(parsed.html == "<p>Grüße</p>")
    }

    @Test("templates render subject and text unescaped and HTML escaped")
    func templates() throws {
        let template = try MailTemplate(
            name: "t", subject: "Re: {{subject}}\n", text: "Hallo {{name}} & co",
            html: "<p>{{name}} &amp; {{{raw}}}</p>")
        let rendered = template.render(["subject": "Ä <b>", "name": "Zoë <Z>", "raw": "<i>x</i>"] as [String: Any])
        #expect(rendered.subject == "Re: Ä <b>")
        #expect(rendered.text == "Hallo Zoë <Z> & co")
        #expect(rendered.html == "<p>Zoë &lt;Z&gt; &amp; <i>x</i></p>")
    }
}

@Suite("Mail connector configuration")
struct MailConnectorConfigurationTests {
    @Test("the shipped smtp-sink and imap-source examples load with their secrets as references")
    func examplesLoad() throws {
        let directory = repositoryRoot.appendingPathComponent("Connectors/examples").path
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crmhub-mail-\(UUID().uuidString).yaml"
        ).path
        try "kafka: {brokers: [\"127.0.0.1:9092\"]}\nconnectors: \(directory)\nroutes: []\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let configuration = try HubConfiguration.load(path: file)
        let smtp = try #require(configuration.connectors.first { $0.name == "ticket-ack" })
        guard let sink = smtp.settings(as: SMTPSinkConnector.Settings.self) else {
            Issue.record("not an smtp sink")
            return
        }
        #expect(sink.server.password == .environment("SMTP_PASSWORD"))
        #expect(sink.server.security == "starttls")
        #expect(sink.to == "{{customerRef}}")
        #expect(sink.delivery.deadLetterTopic == "dlq.ticket-ack")
        let imap = try #require(configuration.connectors.first { $0.name == "support-inbox" })
        guard let source = imap.settings(as: IMAPSourceConnector.Settings.self) else {
            Issue.record("not an imap source")
            return
        }
        #expect(source.mapping == "inbound-email")
        #expect(source.pollInterval == .seconds(30))
        #expect(source.server.username == .environment("IMAP_USER"))
        #expect(source.maxMessageBytes == 10 << 20)
        #expect(source.maxInFlight == 32)
    }

    @Test("the shipped ticket-ack templates render a UTF-8 acknowledgement")
    func shippedTemplates() throws {
        let template = try MailTemplate(
            named: "ticket-ack", directory: repositoryRoot.appendingPathComponent("Connectors/templates").path)
        let rendered = template.render(
            ["id": "email-1@x", "subject": "Drucker <kaputt>", "body": "Hilfe & Dank"] as [String: Any])
        #expect(rendered.subject == "Ihre Anfrage ist eingegangen: Drucker <kaputt>")
        #expect(rendered.text?.contains("Hilfe & Dank") == true)
        #expect(rendered.html?.contains("Hilfe &amp; Dank") == true)
    }
}
