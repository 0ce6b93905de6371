import CRMDelivery
import CRMHTTPConnector
import CRMMasterDataPostgres
import CRMTestSupport
import CRMTransport
import Foundation
import Testing

/// HTTP sinks and the PostgreSQL store against local TLS peers with certificates the test makes (issue 18).
@Suite("Strict transport against TLS peers", .serialized)
struct StrictTransportTests {
    static func message(_ id: String) -> SinkMessage {
        SinkMessage(id: id, key: "k", value: Array(#"{"name":"Zoë"}"#.utf8), headers: [], previousAttempts: 0)
    }

    static func sink(port: Int, tls: HTTPTLSOptions?) -> HTTPSinkTarget {
        var settings = HTTPSinkTarget.Settings(url: "https://127.0.0.1:\(port)/orders", timeout: .seconds(5))
        settings.tls = tls
        return HTTPSinkTarget(settings: settings, client: HTTPClient(concurrency: 1))
    }

    @Test("an https sink trusting the test CA delivers through the TLS peer; trusting another CA it fails on TLS")
    func httpSinkTrustsOnlyItsCA() async throws {
        let target = try await offPool { try RecordingHTTPServer() }
        let certificates = try await offPool { try TestCertificates() }
        let proxy = try await offPool {
            try TLSProxy(port: try freePort(), targetPort: target.port, certificates: certificates)
        }
        defer { proxy.stop() }

        let trusted = Self.sink(port: proxy.port, tls: HTTPTLSOptions(caFile: certificates.caFile))
        #expect(await trusted.deliver(Self.message("m-right-ca")) == .delivered)
        #expect(target.records().count == 1)

        let wrong = Self.sink(port: proxy.port, tls: HTTPTLSOptions(caFile: certificates.otherCAFile))
        let outcome = await wrong.deliver(Self.message("m-wrong-ca"))
        guard case .permanent(let reason) = outcome else {
            Issue.record("expected a permanent TLS failure, got \(outcome)")
            return
        }
        #expect(reason.hasPrefix("tls error"), "\(reason)")
        #expect(target.records().count == 1, "nothing reached the target over an untrusted connection")
    }

    @Test("a peer that requires a client certificate takes the sink's certificate and refuses a sink without one")
    func httpSinkPresentsItsClientCertificate() async throws {
        let target = try await offPool { try RecordingHTTPServer() }
        let certificates = try await offPool { try TestCertificates() }
        let proxy = try await offPool {
            try TLSProxy(
                port: try freePort(), targetPort: target.port, certificates: certificates,
                requireClientCertificate: true)
        }
        defer { proxy.stop() }

        let withCertificate = Self.sink(
            port: proxy.port,
            tls: HTTPTLSOptions(
                caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile,
                keyFile: certificates.clientKeyFile))
        #expect(await withCertificate.deliver(Self.message("m-mtls")) == .delivered)
        #expect(target.records().count == 1)

        let without = Self.sink(port: proxy.port, tls: HTTPTLSOptions(caFile: certificates.caFile))
        let outcome = await without.deliver(Self.message("m-no-client-cert"))
        #expect(outcome != .delivered)
        #expect(target.records().count == 1, "the peer let nothing through without a client certificate")
    }

    @Test("PostgreSQL with ssl=on: verify-full with the test CA connects and stores; another CA fails the handshake")
    func postgresVerifyFull() async throws {
        let certificates = try await offPool { try TestCertificates() }
        let server = try await offPool { try PostgresServer(certificates: certificates) }
        defer { server.stop() }
        let base = "postgres://\(server.user):\(server.password)@127.0.0.1:\(server.port)/postgres"

        let trusted = try PostgresMasterDataStore.Configuration(url: "\(base)?sslrootcert=\(certificates.caFile)")
        #expect(trusted.tls == .verifyFull, "verify-full is the default")
        try await trusted.probe()
        let store = try await PostgresMasterDataStore(configuration: trusted)
        await store.close()

        let untrusted = try PostgresMasterDataStore.Configuration(
            url: "\(base)?sslmode=verify-full&sslrootcert=\(certificates.otherCAFile)")
        await #expect(throws: (any Error).self) { try await untrusted.probe() }
        let unverifiedName = try PostgresMasterDataStore.Configuration(
            url: "\(base)?sslmode=verify-ca&sslrootcert=\(certificates.otherCAFile)")
        await #expect(throws: (any Error).self) { try await unverifiedName.probe() }

        let encryptedOnly = try PostgresMasterDataStore.Configuration(url: "\(base)?sslmode=require")
        try await encryptedOnly.probe()
        let plain = try PostgresMasterDataStore.Configuration(url: "\(base)?sslmode=disable")
        try await plain.probe()
    }
}
