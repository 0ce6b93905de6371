import CRMYAML
import Foundation

extension ConnectorConfiguration {
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
    }

    /// Settings of an `smtp-sink` connector.
    public struct SMTPSinkSettings: Sendable {
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

    /// Settings of an `imap-source` connector.
    public struct IMAPSourceSettings: Sendable {
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
}

extension ConnectorConfiguration {
    static let mailServerKeys: Set<String> = ["name", "kind", "url", "username", "password", "security", "ca_file", "timeout_ms"]

    static func mailServer(_ map: YAMLMapping, schemes: [String]) throws(YAMLError) -> MailServerReference {
        let urlValue = try map.require("url")
        let url = SecretValue(parsing: try urlValue.nonEmptyString())
        if case .literal(let text) = url {
            guard let components = URLComponents(string: text), let scheme = components.scheme, schemes.contains(scheme), components.host != nil else {
                throw urlValue.error("'\(text)' is not a \(schemes.joined(separator: "/")) URL")
            }
            if components.user != nil || components.password != nil {
                throw urlValue.error("credentials may not be written in the URL; use username/password with ${env:NAME} or ${file:PATH}")
            }
        }
        let username = try map.optional("username").map { value throws(YAMLError) in SecretValue(parsing: try value.nonEmptyString()) }
        var password: SecretValue?
        if let value = map.optional("password") {
            let secret = SecretValue(parsing: try value.nonEmptyString())
            guard secret.isReference else { throw value.error("the password is a credential: write it as ${env:NAME} or ${file:PATH}, never inline") }
            password = secret
        }
        let security = try map.optional("security")?.oneOf(["none", "starttls", "tls"]) ?? "starttls"
        let caFile = try map.optional("ca_file")?.nonEmptyString()
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 30_000)
        return MailServerReference(url: url, username: username, password: password, security: security, caFile: caFile, timeout: timeout)
    }

    static func smtpSink(_ map: YAMLMapping, name: String, file: String) throws(YAMLError) -> SMTPSinkSettings {
        let topic = try map.require("topic").topicName()
        let server = try mailServer(map, schemes: ["smtp", "smtps"])
        var headers: [(name: String, value: String)] = []
        if let value = map.optional("headers") {
            for entry in try value.mapping().entries { headers.append((entry.key, try entry.value.string())) }
        }
        let templatesValue = try map.optional("templates_dir")?.nonEmptyString() ?? "templates"
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        let templates = templatesValue.hasPrefix("/") ? templatesValue : folder.appendingPathComponent(templatesValue).path
        let delivery = try sinkDelivery(map, name: name, topic: topic)
        return SMTPSinkSettings(
            topic: topic, server: server, from: try map.require("from").nonEmptyString(), to: try map.require("to").nonEmptyString(),
            cc: try map.optional("cc")?.nonEmptyString(), inReplyTo: try map.optional("in_reply_to")?.nonEmptyString(), headers: headers,
            template: try map.require("template").nonEmptyString(), templatesDirectory: templates,
            messageIDDomain: try map.require("message_id_domain").nonEmptyString(), delivery: delivery)
    }

    static func imapSource(_ map: YAMLMapping, name: String) throws(YAMLError) -> IMAPSourceSettings {
        var settings = IMAPSourceSettings(
            server: try mailServer(map, schemes: ["imap", "imaps"]), mailbox: try map.optional("mailbox")?.nonEmptyString() ?? "INBOX",
            topic: try map.require("topic").topicName(), mapping: try map.require("mapping").nonEmptyString(),
            pollInterval: .milliseconds(try map.optional("poll_interval_ms")?.int(in: 1_000...86_400_000) ?? 30_000),
            keyword: try map.optional("keyword")?.nonEmptyString() ?? "crmhub-processed",
            deadLetterTopic: try map.optional("dead_letter_topic").map { value throws(YAMLError) in try value.topicName() }
                ?? "dlq.\(name)")
        if let value = map.optional("max_message_bytes") { settings.maxMessageBytes = try value.int(in: 4_096...(1 << 30)) }
        if let value = map.optional("max_in_flight") { settings.maxInFlight = try value.int(in: 1...1_000) }
        return settings
    }
}
