import CRMConnector
import CRMHTTPConnector
import CRMMail
import CRMMasterData
import CRMYAML
import Foundation
import Testing

@testable import CRMHub
@testable import CRMMasterDataPostgres

/// Issue 18: scheme and security agree, credentials never go out in plain text unless allowed, PostgreSQL verifies
/// by default. Every refusal names the file and line.
@Suite("Strict transport configuration")
struct StrictTransportConfigurationTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("crmhub-strict-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func connector(_ text: String) throws -> ConfiguredConnector {
        let path = "\(directory)/connector.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try ConnectorRegistry.standard.load(path: path)
    }

    func refusal(_ text: String) -> YAMLError? {
        #expect(throws: YAMLError.self) { try connector(text) }
    }

    static let smtp =
        "name: mail\nkind: smtp-sink\ntopic: t\nfrom: a@b.c\nto: x@y.z\ntemplate: t\nmessage_id_domain: d\n"

    @Test(
        "a mail URL scheme that contradicts security is refused at the security line",
        arguments: [
            ("url: smtp://mail.example:587/hub\nsecurity: tls\n", "smtps://"),
            ("url: smtps://mail.example:465/hub\nsecurity: starttls\n", "security 'tls'"),
            ("url: smtps://mail.example:465/hub\nsecurity: none\n", "security 'tls'"),
        ])
    func mailSchemeAndSecurityMustAgree(settings: String, problem: String) {
        let error = refusal(Self.smtp + settings)
        #expect(error?.location.line == 9, "\(String(describing: error))")
        #expect(error?.location.file.hasSuffix("connector.yaml") == true)
        #expect(error?.message.contains(problem) == true, "\(String(describing: error))")
    }

    @Test("IMAP follows the same rule: imap:// with security tls is refused")
    func imapSchemeAndSecurityMustAgree() {
        let error = refusal(
            "name: inbox\nkind: imap-source\nurl: imap://mail.example:143\nsecurity: tls\ntopic: t\nmapping: m\n")
        #expect(error?.location.line == 4)
        #expect(error?.message.contains("imaps://") == true, "\(String(describing: error))")
    }

    @Test("matching schemes load: smtps with tls, smtp with starttls (the default) or none")
    func matchingSchemesLoad() throws {
        _ = try connector(Self.smtp + "url: smtps://mail.example:465/hub\nsecurity: tls\n")
        _ = try connector(Self.smtp + "url: smtp://mail.example:587/hub\n")
        _ = try connector(Self.smtp + "url: smtp://127.0.0.1:25/hub\nsecurity: none\n")
    }

    @Test("security none with a password is refused unless allow_plaintext_credentials is true")
    func plainTextMailPasswordNeedsConsent() throws {
        let settings = "url: smtp://127.0.0.1:25/hub\nsecurity: none\nusername: u\npassword: ${env:SMTP_PASSWORD}\n"
        let error = refusal(Self.smtp + settings)
        #expect(error?.location.line == 9)
        #expect(error?.message.contains("allow_plaintext_credentials") == true, "\(String(describing: error))")
        let allowed = try connector(Self.smtp + settings + "allow_plaintext_credentials: true\n")
        #expect(allowed.settings(as: SMTPSinkConnector.Settings.self)?.server.allowPlaintextCredentials == true)
    }

    static let http = "name: erp\nkind: http-sink\ntopic: t\n"

    @Test("an http:// sink with a credential header is refused at the url line unless explicitly allowed")
    func plainHTTPWithCredentialsNeedsConsent() throws {
        for header in ["Authorization", "X-Api-Key"] {
            let text = Self.http + "url: http://erp.example/api\nheaders:\n  \(header): ${env:ERP_TOKEN}\n"
            let error = refusal(text)
            #expect(error?.location.line == 4, "\(String(describing: error))")
            #expect(error?.message.contains("plain text") == true, "\(String(describing: error))")
            _ = try connector(text + "allow_plaintext_credentials: true\n")
        }
        _ = try connector(Self.http + "url: http://erp.example/api\nheaders:\n  X-Request-Source: crmhub\n")
        _ = try connector(Self.http + "url: https://erp.example/api\nheaders:\n  Authorization: ${env:ERP_TOKEN}\n")
    }

    @Test("http-sink tls reads its files relative to the connector and refuses a certificate without its key")
    func httpSinkTLSSettings() throws {
        for name in ["ca.pem", "client.pem", "client.key"] {
            try "-".write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        }
        let base = Self.http + "url: https://erp.example/api\n"
        let loaded = try connector(
            base
                + "tls:\n  ca_file: ca.pem\n  certificate_file: client.pem\n  key_file: client.key\n"
                + "  key_password: ${env:KEY_PASSWORD}\n")
        let tls = loaded.settings(as: HTTPSinkConnector.Settings.self)?.tls
        #expect(tls?.caFile == "\(directory)/ca.pem")
        #expect(tls?.certificateFile == "\(directory)/client.pem")
        #expect(tls?.keyFile == "\(directory)/client.key")
        #expect(tls?.keyPassword == .environment("KEY_PASSWORD"))

        #expect(refusal(base + "tls:\n  certificate_file: client.pem\n")?.message.contains("key_file") == true)
        #expect(refusal(base + "tls:\n  ca_file: missing.pem\n")?.message.contains("cannot be read") == true)
        #expect(refusal(base + "tls:\n  key_file: client.key\n  key_password: inline\n") != nil)
    }

    @Test("a Tryton password or a Stripe API key over http:// is refused unless explicitly allowed")
    func trytonAndStripeCredentialsNeedHTTPS() throws {
        let tryton =
            "name: t\nkind: tryton-party-sink\ntopic: t\nurl: http://erp.example:8000\ndatabase: d\nuser: u\n"
            + "password: ${env:TRYTON_PASSWORD}\n"
        #expect(refusal(tryton)?.location.line == 4)
        _ = try connector(tryton + "allow_plaintext_credentials: true\n")
        let stripe = "name: billing\nkind: stripe-customer-sink\ntopic: crm.customer\napi_key: ${env:K}\n"
        #expect(refusal(stripe + "url: http://127.0.0.1:12111\n")?.location.line == 5)
        _ = try connector(stripe + "url: http://127.0.0.1:12111\nallow_plaintext_credentials: true\n")
    }

    @Test("the start-time check of a URL given by reference refuses http:// in any case, and only that")
    func plaintextRuleForResolvedURLs() {
        let rule = PlaintextCredentialRule.self
        #expect(
            rule.problem(url: "http://erp.example/api", credential: "x", allowed: false)?.contains("https://") == true)
        #expect(rule.problem(url: "HTTP://erp.example/api", credential: "x", allowed: false) != nil)
        #expect(rule.problem(url: "http://erp.example/api", credential: "x", allowed: true) == nil)
        #expect(rule.problem(url: "https://erp.example/api", credential: "x", allowed: false) == nil)
        #expect(rule.isCredentialHeader("Proxy-Authorization") && rule.isCredentialHeader("X-Auth-Token"))
        #expect(!rule.isCredentialHeader("Content-Type") && !rule.isCredentialHeader("X-Request-Source"))
    }

    // MARK: PostgreSQL

    func hub(_ store: String) throws -> HubConfiguration {
        let path = "\(directory)/hub.yaml"
        try
            "kafka:\n  brokers: [\"127.0.0.1:9092\"]\nstore:\n  kind: postgres\n\(store)routes:\n  - {name: r, from: a, to: b}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return try HubConfiguration.load(path: path)
    }

    @Test(
        "sslmode maps to the TLS the client uses; verify-full is the default and plain text only when disabled",
        arguments: [
            ("", PostgresMasterDataStore.Configuration.TLSMode.verifyFull),
            ("?sslmode=verify-ca", .verifyCA),
            ("?sslmode=require", .require),
            ("?sslmode=disable", .disable),
        ])
    func sslmodeMapping(query: String, mode: PostgresMasterDataStore.Configuration.TLSMode) throws {
        let configuration = try PostgresMasterDataStore.Configuration(url: "postgres://u:p@db.example/crm\(query)")
        #expect(configuration.tls == mode)
        let verification = try configuration.tlsConfiguration().map { "\($0.certificateVerification)" }
        let expected: [PostgresMasterDataStore.Configuration.TLSMode: String] = [
            .require: "none", .verifyCA: "noHostnameVerification", .verifyFull: "fullVerification",
        ]
        if let wanted = expected[mode] {
            #expect(verification?.hasPrefix(wanted) == true, "\(String(describing: verification))")
        } else {
            #expect(verification == nil, "plain text only for disable")
        }
    }

    @Test("sslmode prefer and allow, which fall back to plain text, are refused")
    func fallbackModesAreRefused() {
        for mode in ["prefer", "allow"] {
            #expect(throws: MasterDataError.self) {
                try PostgresMasterDataStore.Configuration(url: "postgres://u:p@db.example/crm?sslmode=\(mode)")
            }
        }
    }

    @Test("store.tls sets mode and CA file; a CA file that cannot be read fails before connecting")
    func storeTLSSection() throws {
        let configuration = try hub(
            "  url: postgres://u:p@db.example/crm\n  tls: {mode: verify-ca, ca_file: ca.pem}\n")
        let client = try configuration.store.postgresConfiguration(url: "postgres://u:p@db.example/crm")
        #expect(client.tls == .verifyCA)
        #expect(client.caFile == "\(directory)/ca.pem")
        #expect(throws: MasterDataError.self) { try client.tlsConfiguration() }
    }

    @Test("store.tls that contradicts the URL, or names a fallback mode, is refused with its line")
    func storeTLSContradictionsAreRefused() {
        for store in [
            "  url: postgres://u:p@db.example/crm?sslmode=disable\n  tls: {mode: verify-full}\n",
            "  url: postgres://u:p@db.example/crm\n  tls: {mode: prefer}\n",
            "  url: postgres://u:p@db.example/crm?sslmode=prefer\n",
        ] {
            let error = #expect(throws: ConfigurationError.self) { try hub(store) }
            #expect(error?.problems.first?.location.line == 5 || error?.problems.first?.location.line == 6)
        }
    }
}
