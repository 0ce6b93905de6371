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
    }
}
