// CRMMail: the mail connector kinds — `smtp-sink` (templated mail through an SMTP server) and `imap-source` (an IMAP
// mailbox polled into canonical records, e.g. Tickets, through a mapping).

import CRMConnector
import CRMDelivery
import CRMMasterData
import CRMTransport
import CRMYAML
import Foundation

/// How to reach a mail server (`smtp-sink`, `imap-source`). Credentials only by reference.
public struct MailServerReference: Sendable {
    /// `smtp://host:587/EHLO-NAME`, `smtps://...`, `imap://host:143`, `imaps://...`.
    public var url: SecretValue
    public var username: SecretValue?
    public var password: SecretValue?
    /// `none`, `starttls` (default) or `tls`.
    public var security: String
    /// Trusted CAs (PEM) for a private CA or self-signed server.
    public var caFile: String?
    public var timeout: Duration
    /// `allow_plaintext_credentials: true` lets `security: none` send a password in plain text (a loopback relay);
    /// without it such a configuration is refused. Default false.
    public var allowPlaintextCredentials: Bool = false

    public init(
        url: SecretValue, username: SecretValue?, password: SecretValue?, security: String, caFile: String?,
        timeout: Duration
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.security = security
        self.caFile = caFile
        self.timeout = timeout
    }

    static let keys: Set<String> = [
        "url", "username", "password", "security", "ca_file", "timeout_ms", "allow_plaintext_credentials",
    ]

    init(_ map: YAMLMapping, schemes: [String]) throws(YAMLError) {
        let urlValue = try map.require("url")
        let url = try urlValue.secretValue()
        if case .literal(let text) = url {
            guard let components = URLComponents(string: text), let scheme = components.scheme,
                schemes.contains(scheme), components.host != nil
            else {
                throw urlValue.error("'\(text)' is not a \(schemes.joined(separator: "/")) URL")
            }
            if components.user != nil || components.password != nil {
                throw urlValue.error(
                    "credentials may not be written in the URL; use username/password with ${env:NAME} or ${file:PATH}")
            }
        }
        let username = try map.optional("username").map { value throws(YAMLError) in
            SecretValue(parsing: try value.nonEmptyString())
        }
        var password: SecretValue?
        if let value = map.optional("password") {
            let secret = SecretValue(parsing: try value.nonEmptyString())
            guard secret.isReference else {
                throw value.error("the password is a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
            }
            password = secret
        }
        let securityValue = map.optional("security")
        let security = try securityValue?.oneOf(["none", "starttls", "tls"]) ?? "starttls"
        if case .literal(let text) = url, let scheme = URLComponents(string: text)?.scheme,
            let problem = MailSecurity(rawValue: security)?.disagreement(withScheme: scheme)
        {
            throw (securityValue ?? urlValue).error(problem)
        }
        let allowPlaintext = try map.optional("allow_plaintext_credentials")?.bool() ?? false
        if security == "none", password != nil, !allowPlaintext {
            throw (securityValue ?? urlValue).error(
                "security 'none' would send the password in plain text: use 'starttls' or 'tls', or set "
                    + "allow_plaintext_credentials: true for a trusted loopback server")
        }
        let caFile = try map.optional("ca_file")?.nonEmptyString()
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 30_000)
        self.init(
            url: url, username: username, password: password, security: security, caFile: caFile, timeout: timeout)
        allowPlaintextCredentials = allowPlaintext
    }
}

/// `kind: smtp-sink`: sends each message of a topic as an e-mail rendered from templates (see ``SMTPSinkTarget``).
public enum SMTPSinkConnector: Connector {
    /// Settings of an `smtp-sink` connector.
    public struct Settings: Sendable {
        public var topic: String
        public var server: MailServerReference
        /// `Name <address>` of the sender.
        public var from: String
        /// Mustache templates of the recipients, the Cc and the answered Message-ID.
        public var to: String
        public var cc: String?
        public var inReplyTo: String?
        /// Extra header fields (values are Mustache templates), e.g. `Auto-Submitted: auto-replied`.
        public var headers: [(name: String, value: String)]
        /// The template name: `<templates>/<name>.subject.mustache`, `.text.mustache`, `.html.mustache`.
        public var template: String
        /// The templates folder (relative paths are relative to the connector file's folder).
        public var templatesDirectory: String
        public var messageIDDomain: String
        public var delivery: SinkService.Configuration
    }

    public static let kind = "smtp-sink"
    public static let keys = MailServerReference.keys.union([
        "topic", "from", "to", "cc", "in_reply_to", "headers", "template", "templates_dir", "message_id_domain",
    ]).union(SinkService.Configuration.keys)

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        let name = file.name
        let topic = try map.require("topic").topicName()
        let server = try MailServerReference(map, schemes: ["smtp", "smtps"])
        var headers: [(name: String, value: String)] = []
        if let value = map.optional("headers") {
            for entry in try value.mapping().entries { headers.append((entry.key, try entry.value.string())) }
        }
        let templatesValue = try map.optional("templates_dir")?.nonEmptyString() ?? "templates"
        let templates = file.resolve(templatesValue)
        var delivery = try SinkService.Configuration(map, name: name, topic: topic)
        // A mail sink reaches the customer by e-mail: its purpose needs consent on that channel unless told otherwise.
        if map.optional("consent_channel") == nil { delivery.consentChannel = .email }
        return Settings(
            topic: topic, server: server, from: try map.require("from").nonEmptyString(),
            to: try map.require("to").nonEmptyString(),
            cc: try map.optional("cc")?.nonEmptyString(), inReplyTo: try map.optional("in_reply_to")?.nonEmptyString(),
            headers: headers,
            template: try map.require("template").nonEmptyString(), templatesDirectory: templates,
            messageIDDomain: try map.require("message_id_domain").nonEmptyString(), delivery: delivery)
    }

    public static func topics(_ settings: Settings) -> [String] { settings.delivery.topics }

    public static func sinkDelivery(_ settings: Settings) -> SinkService.Configuration? { settings.delivery }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        ConnectorParts(sink: try SMTPSinkTarget(configuration: settings, logger: context.logger))
    }
}

/// `kind: imap-source`: polls an IMAP mailbox and produces each new mail, mapped (e.g. to a Ticket), to a topic (see
/// ``IMAPSource``). The mapping is looked up in the hub's mappings folder on every mail, so SIGHUP reloads it.
public enum IMAPSourceConnector: Connector {
    /// Settings of an `imap-source` connector.
    public struct Settings: Sendable {
        public var server: MailServerReference
        public var mailbox: String
        public var topic: String
        /// The mapping (in the mappings folder) that turns the mail document into records, e.g. `inbound-email`.
        public var mapping: String
        public var pollInterval: Duration
        public var keyword: String
        /// Where mail the mapping cannot read goes (`dead_letter_topic`, default `dlq.<name>`): nothing is lost.
        public var deadLetterTopic: String?
        /// Only this many bytes of a message are read (`max_message_bytes`, default 10 MiB).
        public var maxMessageBytes: Int = 10 << 20
        /// Mails whose records await Kafka's acknowledgement while the next are fetched (`max_in_flight`, default 32).
        public var maxInFlight: Int = 32
    }

    public static let kind = "imap-source"
    public static let keys = MailServerReference.keys.union([
        "mailbox", "topic", "mapping", "poll_interval_ms", "keyword", "dead_letter_topic", "max_message_bytes",
        "max_in_flight",
    ])

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        let name = file.name
        var settings = Settings(
            server: try MailServerReference(map, schemes: ["imap", "imaps"]),
            mailbox: try map.optional("mailbox")?.nonEmptyString() ?? "INBOX",
            topic: try map.require("topic").topicName(), mapping: try map.require("mapping").nonEmptyString(),
            pollInterval: .milliseconds(try map.optional("poll_interval_ms")?.int(in: 1_000...86_400_000) ?? 30_000),
            keyword: try map.optional("keyword")?.nonEmptyString() ?? "crmhub-processed",
            deadLetterTopic: try map.optional("dead_letter_topic").map { value throws(YAMLError) in
                try value.topicName()
            }
                ?? "dlq.\(name)")
        if let value = map.optional("max_message_bytes") {
            settings.maxMessageBytes = try value.int(in: 4_096...(1 << 30))
        }
        if let value = map.optional("max_in_flight") { settings.maxInFlight = try value.int(in: 1...1_000) }
        return settings
    }

    public static func topics(_ settings: Settings) -> [String] {
        [settings.topic] + (settings.deadLetterTopic.map { [$0] } ?? [])
    }

    public static func mappings(_ settings: Settings) -> [String] { [settings.mapping] }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        guard let mappings = context.mappings, mappings.transform(named: settings.mapping) != nil else {
            throw MailSourceSetupError("\(context.file): no mapping named '\(settings.mapping)' in the mappings folder")
        }
        let server: MailServerSettings
        do {
            server = try settings.server.resolve()
        } catch {
            throw MailSourceSetupError("\(context.file): \(error)")
        }
        let state: MailboxStateStore
        do {
            state = try MailboxStateStore(database: try context.stateFiles.database("imap.sqlite"))
        } catch {
            throw MailSourceSetupError("cannot open the mailbox state in \(context.stateDirectory): \(error)")
        }
        var source = IMAPSource.Settings(
            name: context.name, mailbox: settings.mailbox, topic: settings.topic,
            deadLetterTopic: settings.deadLetterTopic,
            pollInterval: settings.pollInterval, keyword: settings.keyword, maxMessageBytes: settings.maxMessageBytes)
        source.maxInFlight = settings.maxInFlight
        let imap = IMAPSource(
            settings: source, client: IMAPClient(settings: server),
            emitter: context.emitter(deadLetterTopic: settings.deadLetterTopic),
            mapping: .registry(mappings, name: settings.mapping), state: state, logger: context.logger)
        return ConnectorParts(services: [imap])
    }
}

/// A mail source that cannot start (missing mapping or secret, unreadable state), said plainly.
public struct MailSourceSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
