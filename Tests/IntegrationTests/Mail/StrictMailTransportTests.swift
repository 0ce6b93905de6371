import CRMDelivery
import CRMMail
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

extension MailPeerTests {
    /// `security` and the URL scheme agree, and TLS is never silently skipped (issue 18).
    @Suite("Strict mail transport", .serialized)
    struct StrictMailTransportTests {
        typealias Delivery = SMTPDeliveryTests

        @Test("smtps:// with security tls through a TLS peer signed by the test CA delivers")
        func implicitTLSWithTheRightCADelivers() async throws {
            let server = try await offPool { try MailServer() }
            let certificates = try await offPool { try TestCertificates() }
            let proxy = try await offPool {
                try TLSProxy(port: try freePort(), targetPort: server.smtpPort, certificates: certificates)
            }
            defer { proxy.stop() }
            let target = try Delivery.target(
                server, security: .implicitTLS, url: "smtps://127.0.0.1:\(proxy.port)/client.test",
                caFile: certificates.caFile)
            #expect(await target.deliver(Delivery.message(id: "m-smtps", to: "agent@crm.test")) == .delivered)
            _ = try await server.waitForMessages("agent", count: 1)
        }

        @Test("smtps:// whose certificate the configured CA did not sign is a permanent TLS failure")
        func implicitTLSWithAWrongCAIsRefused() async throws {
            let server = try await offPool { try MailServer() }
            let certificates = try await offPool { try TestCertificates() }
            let proxy = try await offPool {
                try TLSProxy(port: try freePort(), targetPort: server.smtpPort, certificates: certificates)
            }
            defer { proxy.stop() }
            let target = try Delivery.target(
                server, security: .implicitTLS, url: "smtps://127.0.0.1:\(proxy.port)/client.test",
                caFile: certificates.otherCAFile)
            let outcome = await target.deliver(Delivery.message(id: "m-wrong-ca", to: "agent@crm.test"))
            guard case .permanent(let reason) = outcome else {
                Issue.record("expected permanent, got \(outcome)")
                return
            }
            #expect(reason.contains("tls"), "\(reason)")
            #expect(server.deliveredMessages("agent").isEmpty)
        }

        @Test("security tls with a plain smtp:// URL never talks to the server: nothing is sent in plain text")
        func implicitTLSWithAPlainSchemeSendsNothing() async throws {
            let server = try await offPool { try MailServer() }
            let target = try Delivery.target(server, security: .implicitTLS, auth: true)
            let outcome = await target.deliver(Delivery.message(id: "m-mismatch", to: "agent@crm.test"))
            guard case .permanent(let reason) = outcome else {
                Issue.record("expected permanent, got \(outcome)")
                return
            }
            #expect(reason.contains("smtps://"), "\(reason)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(server.deliveredMessages("agent").isEmpty)
        }

        @Test(
            "imaps:// with security tls logs in through a TLS peer; imap:// with security tls fails without connecting")
        func imapImplicitTLS() async throws {
            let server = try await offPool { try MailServer() }
            defer { server.stop() }
            try server.deposit(IMAPSourceTests.mail(1, subject: "Over implicit TLS"), for: "support")
            let certificates = try await offPool { try TestCertificates() }
            let proxy = try await offPool {
                try TLSProxy(port: try freePort(), targetPort: server.imapPort, certificates: certificates)
            }
            defer { proxy.stop() }
            let login = (MailServer.address("support"), MailServer.password)
            let secured = IMAPClient(
                settings: MailServerSettings(
                    url: "imaps://127.0.0.1:\(proxy.port)", username: login.0, password: login.1,
                    security: .implicitTLS, caFile: certificates.caFile))
            #expect(try await secured.status(mailbox: "INBOX").messages == 1)

            let mismatched = IMAPClient(
                settings: MailServerSettings(
                    url: server.imapURL, username: login.0, password: login.1, security: .implicitTLS,
                    caFile: server.certificatePath))
            do {
                _ = try await mismatched.status(mailbox: "INBOX")
                Issue.record("security tls with an imap:// URL was used")
            } catch {
                #expect(error.transport?.kind == .configuration, "\(error)")
                #expect(error.description.contains("imaps://"), "\(error)")
            }
        }
    }
}
