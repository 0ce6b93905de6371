import CRMDelivery
import CRMHub
import CRMMail
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

extension MailPeerTests {
    /// The SMTP sink against a real Postfix (started per test on a loopback port, delivering into Maildirs).
    @Suite("SMTP delivery through postfix", .serialized)
    struct SMTPDeliveryTests {
        static func template() throws -> MailTemplate {
            try MailTemplate(
                name: "ticket-ack", subject: "Ihre Anfrage „{{subject}}“ ist eingegangen ✔",
                text: "Hallo {{name}},\n\nwir haben Ihre Anfrage erhalten (Ticket {{id}}).\nGrüße aus Köln\n",
                html: "<p>Hallo {{name}},</p><p>Ticket <b>{{id}}</b> — Grüße aus Köln</p>")
        }

        static func target(
            _ server: MailServer, port: Int? = nil, security: MailSecurity = .none, auth: Bool = false,
            password: String = MailServer.password, url: String? = nil, caFile: String? = nil
        ) throws -> SMTPSinkTarget {
            let url = url ?? port.map { "smtp://127.0.0.1:\($0)/client.test" } ?? server.smtpURL
            let settings = MailServerSettings(
                url: url, username: auth ? MailServer.address("support") : nil, password: auth ? password : nil,
                security: security,
                caFile: caFile ?? server.certificatePath, timeout: .seconds(15), connectTimeout: .seconds(8))
            return try SMTPSinkTarget(
                settings: .init(
                    from: MailAddress(MailServer.address("support"), name: "Kundendienst Zoë"), to: "{{customerRef}}",
                    messageIDDomain: "hub.test", headers: [("Auto-Submitted", "auto-replied")], template: template()),
                client: SMTPClient(settings: settings))
        }

        static func message(id: String, to: String, name: String = "Jürgen") -> SinkMessage {
            let json =
                #"{"id": "\#(id)", "subject": "Drucker kaputt – dringend", "name": "\#(name)", "customerRef": "\#(to)"}"#
            return SinkMessage(id: id, key: nil, value: Array(json.utf8), headers: [], previousAttempts: 0)
        }

        @Test("a templated UTF-8 message arrives with decoded headers, its Message-ID and both alternatives")
        func templatedMessageArrives() async throws {
            let server = try await offPool { try MailServer() }
            let target = try Self.target(server)
            let outcome = await target.deliver(Self.message(id: "email-T1", to: "email:agent@crm.test"))
            #expect(outcome == .delivered)

            let files = try await server.waitForMessages("agent", count: 1)
            let raw = try Data(contentsOf: files[0])
            let mail = ParsedMail.parse(Array(raw))
            #expect(mail.subject == "Ihre Anfrage „Drucker kaputt – dringend“ ist eingegangen ✔")
            #expect(mail.from == MailAddress("support@crm.test", name: "Kundendienst Zoë"))
            #expect(mail.messageID == "email-T1@hub.test")
            #expect(mail.header("Auto-Submitted") == "auto-replied")
            #expect(mail.header("Delivered-To") == "agent@crm.test")
            #expect(
                mail.text == "Hallo Jürgen,\n\nwir haben Ihre Anfrage erhalten (Ticket email-T1).\nGrüße aus Köln\n")
            #expect(mail.html == "<p>Hallo Jürgen,</p><p>Ticket <b>email-T1</b> — Grüße aus Köln</p>")
            // Non-ASCII never reaches the wire unencoded.
            #expect(raw.allSatisfy { $0 < 128 })
        }

        @Test("an unknown recipient (550) is permanent while the good recipient of the same message gets it")
        func unknownRecipientIsPermanent() async throws {
            let server = try await offPool { try MailServer() }
            let target = try Self.target(server)
            let outcome = await target.deliver(Self.message(id: "m-550", to: "agent@crm.test, nobody@crm.test"))
            guard case .permanent(let reason) = outcome else {
                Issue.record("expected permanent, got \(outcome)")
                return
            }
            #expect(reason.contains("550"))
            #expect(reason.contains("<email:"))
            #expect(!reason.contains("nobody@") && !reason.contains("@crm.test"))
            let files = try await server.waitForMessages("agent", count: 1)
            #expect(ParsedMail.parse(Array(try Data(contentsOf: files[0]))).messageID == "m-550@hub.test")
        }

        @Test("per-recipient replies: 250 delivered, 450 transient, 550 permanent, with their codes")
        func perRecipientClassification() async throws {
            let server = try await offPool { try MailServer() }
            let client = SMTPClient(settings: MailServerSettings(url: server.smtpURL, security: .none))
            let message = MailMessage(
                from: MailAddress("support@crm.test"),
                to: [MailAddress("agent@crm.test"), MailAddress("busy@crm.test"), MailAddress("ghost@crm.test")],
                subject: "three", text: "x", messageID: "three@hub.test")
            let result = await client.send(message)
            let byRecipient = Dictionary(uniqueKeysWithValues: result.recipients.map { ($0.recipient, $0) })
            #expect(byRecipient["agent@crm.test"]?.status == .delivered)
            #expect(byRecipient["agent@crm.test"]?.code == 250)
            #expect(byRecipient["busy@crm.test"]?.status == .transient)
            #expect(byRecipient["busy@crm.test"]?.code == 450)
            #expect(byRecipient["ghost@crm.test"]?.status == .permanent)
            #expect(byRecipient["ghost@crm.test"]?.code == 550)
            #expect(result.transportError == nil)
            _ = try await server.waitForMessages("agent", count: 1)
        }

        @Test("a 4xx recipient is transient and the retry goes only to it, not again to the one that accepted")
        func transientRetriesOnlyTheRest() async throws {
            let server = try await offPool { try MailServer() }
            let target = try Self.target(server)
            let message = Self.message(id: "m-450", to: "agent@crm.test, busy@crm.test")
            let first = await target.deliver(message)
            guard case .transient(let reason, _) = first else {
                Issue.record("expected transient, got \(first)")
                return
            }
            #expect(reason.contains("450"))
            _ = try await server.waitForMessages("agent", count: 1)
            let second = await target.deliver(message)
            #expect(second != .delivered)  // busy@ still refuses
            try await Task.sleep(for: .milliseconds(500))
            #expect(server.deliveredMessages("agent").count == 1)
        }

        @Test("no SMTP server listening is transient")
        func peerDownIsTransient() async throws {
            let server = try await offPool { try MailServer() }
            let closedPort = try freePort()
            let target = try Self.target(server, port: closedPort)
            let outcome = await target.deliver(Self.message(id: "m-down", to: "agent@crm.test"))
            guard case .transient(let reason, _) = outcome else {
                Issue.record("expected transient, got \(outcome)")
                return
            }
            #expect(reason.contains("connect"))
        }

        @Test(
            "STARTTLS with the server's certificate and AUTH as a mailbox user delivers; a wrong password is permanent")
        func startTLSAndAuth() async throws {
            let server = try await offPool { try MailServer() }
            let secured = try Self.target(server, security: .startTLS, auth: true)
            #expect(await secured.deliver(Self.message(id: "m-tls", to: "agent@crm.test")) == .delivered)
            _ = try await server.waitForMessages("agent", count: 1)

            let wrong = try Self.target(server, security: .startTLS, auth: true, password: "wrong")
            let outcome = await wrong.deliver(Self.message(id: "m-wrong", to: "agent@crm.test"))
            guard case .permanent(let reason) = outcome else {
                Issue.record("expected permanent, got \(outcome)")
                return
            }
            #expect(reason.contains("535"))
        }
    }
}
