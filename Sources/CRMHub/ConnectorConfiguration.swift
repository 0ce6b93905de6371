import CRMYAML
import Foundation

/// One connector instance: a YAML file in the connectors folder (`Connectors/erp-party.yaml`).
///
/// Secrets are never written inline: a value may be `${env:NAME}` (an environment variable) or `${file:PATH}` (a
/// file's contents, trimmed); header values that look like credentials (`Authorization`, `*token*`, `*key*`,
/// `*secret*`) must be such references, and URLs may not carry user info.
public struct ConnectorConfiguration: Sendable {
    public var name: String
    public var file: String
    public var kind: Kind

    public enum Kind: Sendable {
        /// Delivers a topic to a REST endpoint (see ``HTTPSinkTarget``).
        case httpSink(HTTPSinkSettings)
        /// Accepts web-form posts on the ingress server and produces each to a topic.
        case webForm(WebFormSettings)
        /// Accepts signed billing webhooks (Stripe-style) on the ingress server and produces each event to a topic.
        case stripeWebhook(StripeWebhookSettings)
        /// Runs a child program that speaks JSON lines (see ``ConnectorProcess``), as a sink or a source.
        case process(ProcessSettings)
        /// Reads call events from Kamailio (`cti-kamailio`) or Asterisk AMI (`cti-ami`); publishes screen-pops and
        /// Interactions (module CRMTelephony).
        case cti(CTISettings)
        /// Creates or updates Tryton parties from a topic of `ERPParty` documents (see ``TrytonPartySinkTarget``).
        case trytonPartySink(TrytonPartySinkSettings)
        /// Polls Tryton for confirmed sale orders and produces them to a topic (see ``TrytonSaleSource``).
        case trytonSaleSource(TrytonSaleSourceSettings)
        /// Sends each message of a topic as an e-mail rendered from templates (see ``SMTPSinkTarget``).
        case smtpSink(SMTPSinkSettings)
        /// Polls an IMAP mailbox and produces each new mail, mapped (e.g. to a Ticket), to a topic (module CRMMail).
        case imapSource(IMAPSourceSettings)
    }

    /// Settings of a `process` connector.
    public struct ProcessSettings: Sendable {
        /// Program and arguments; a relative program path is taken from the connector file's folder.
        public var command: [String]
        /// The folder the child runs in: the connector file's folder.
        public var workingDirectory: String
        /// The topic a sink reads, or a source writes.
        public var topic: String
        /// Free settings handed to the child in its `config` frame; values may be secret references.
        public var settings: [(name: String, value: SecretValue)] = []
        /// How long a sink waits for the child's answer to one message.
        public var timeout: Duration = .seconds(30)
        /// Delivery settings when the role is `sink`; `nil` for a source.
        public var delivery: SinkService.Configuration?

        /// The child's settings with secrets resolved.
        public func processSettings(name: String) throws(SecretError) -> ConnectorProcess.Settings {
            var executable = command[0]
            if !executable.hasPrefix("/") && executable.contains("/") {
                executable = URL(fileURLWithPath: workingDirectory).appendingPathComponent(executable).standardizedFileURL.path
            }
            let program = executable.contains("/") ? [executable] : ["/usr/bin/env", executable]
            var process = ConnectorProcess.Settings(name: name, command: program + command.dropFirst(), role: delivery == nil ? .source : .sink)
            process.workingDirectory = workingDirectory
            for entry in settings { process.settings[entry.name] = try entry.value.resolve() }
            return process
        }
    }

    /// Settings of a `stripe-webhook` connector.
    public struct StripeWebhookSettings: Sendable {
        /// The ingress path (`/webhooks/stripe`).
        public var path: String
        public var topic: String
        /// Signing secrets, as references (`${env:...}`/`${file:...}`); several during a rotation.
        public var secrets: [SecretValue]
        /// How far a signature's timestamp may be from now. Default 300 s.
        public var tolerance: Duration = .seconds(300)
        /// Event types taken (`customer.*`, `invoice.paid`); others are answered 200 and dropped. Empty: all.
        public var events: [String] = []
        /// Largest accepted body. Default 512 KiB.
        public var maxBodyBytes: Int = 512 << 10
        /// How long a request waits for Kafka's acknowledgement before answering 503. Default 5 s.
        public var ackTimeout: Duration = .seconds(5)

        public init(path: String, topic: String, secrets: [SecretValue]) {
            self.path = path
            self.topic = topic
            self.secrets = secrets
        }
    }

    /// Settings of a `cti-kamailio` or `cti-ami` connector.
    public struct CTISettings: Sendable {
        public enum Source: Sendable {
            /// `evapi: host:port` — Kamailio's evapi `bind_addr`.
            case kamailioEvapi(host: String, port: Int)
            /// `ami: host:port`, `username`, `secret` (a `${env:}`/`${file:}` reference) — Asterisk manager.conf.
            case asteriskAMI(host: String, port: Int, username: String, secret: SecretValue)
        }

        public var source: Source
        /// Topic for Interaction records (`interaction_topic`).
        public var interactionTopic: String
        /// Topic for screen-pops keyed by agent extension (`screen_pop_topic`).
        public var screenPopTopic: String
        /// Region for numbers without an international prefix (`default_region`). Default "GB".
        public var defaultRegion: String = "GB"
        /// `inbound` (the caller is the customer, default) or `outbound`.
        public var direction: String = "inbound"
        /// A static customer table (`customers_csv`: phone,customer_ref,display_name,open_tickets); without it the
        /// master-data resolver is asked (a route must use `resolve: true`).
        public var customersCSV: String?
        /// The ticket topic (`tickets_topic`, e.g. `crm.ticket`): its open tickets are added to the caller's screen-pop.
        public var ticketsTopic: String?
    }

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

    /// Settings of a `webform` connector.
    public struct WebFormSettings: Sendable {
        /// The ingress path (`/forms/contact`).
        public var path: String
        public var topic: String
        /// The field whose value (trimmed, lower-cased) is the message key, e.g. `email`.
        public var keyField: String?
        /// Fields that must be present and non-empty (else 422).
        public var requiredFields: [String] = []
        /// A field real users leave empty (hidden by CSS); a filled one is refused as spam.
        public var honeypotField: String?
        /// Largest accepted body. Default 1 MiB.
        public var maxBodyBytes: Int = 1 << 20
        /// Largest accepted attachment. Default 512 KiB.
        public var maxAttachmentBytes: Int = 512 << 10
        /// How long a request waits for Kafka's acknowledgement before answering 503. Default 5 s.
        public var ackTimeout: Duration = .seconds(5)

        public init(path: String, topic: String) {
            self.path = path
            self.topic = topic
        }
    }

    /// Settings of an `http-sink` connector.
    public struct HTTPSinkSettings: Sendable {
        public var topic: String
        public var url: SecretValue
        public var method: String
        public var headers: [(name: String, value: SecretValue)]
        public var body: RESTRequestTemplate.BodyEncoding = .json
        public var successCodes: Set<Int> = []
        public var timeout: Duration
        public var delivery: SinkService.Configuration
    }
}

/// A configuration value that is either literal or a reference to a secret, resolved when the hub starts.
public enum SecretValue: Sendable, Hashable, CustomStringConvertible {
    case literal(String)
    case environment(String)
    case file(String)

    init(parsing text: String) {
        if text.hasPrefix("${env:"), text.hasSuffix("}") {
            self = .environment(String(text.dropFirst(6).dropLast()))
        } else if text.hasPrefix("${file:"), text.hasSuffix("}") {
            self = .file(String(text.dropFirst(7).dropLast()))
        } else {
            self = .literal(text)
        }
    }

    public var isReference: Bool {
        if case .literal = self { return false }
        return true
    }

    /// The value, read from the environment or the file now.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SecretError) -> String {
        switch self {
        case .literal(let value):
            return value
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else { throw SecretError(description: "environment variable \(name) is not set") }
            return value
        case .file(let path):
            guard let value = try? String(contentsOfFile: path, encoding: .utf8) else { throw SecretError(description: "cannot read secret file \(path)") }
            return value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Never prints a secret: references print as written, literals as themselves.
    public var description: String {
        switch self {
        case .literal(let value): value
        case .environment(let name): "${env:\(name)}"
        case .file(let path): "${file:\(path)}"
        }
    }
}

/// A secret reference that cannot be resolved.
public struct SecretError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension ConnectorConfiguration {
    /// Reads every `*.yaml` file in `directory` (sorted by name), collecting each file's problems with locations.
    static func loadAll(directory: String, problems: inout ProblemCollector) -> [ConnectorConfiguration] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var connectors: [ConnectorConfiguration] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let connector = problems.collect({ () throws(YAMLError) in try ConnectorConfiguration(path: path) }) else { continue }
            if let first = seen[connector.name] {
                problems.add(YAMLError("connector name '\(connector.name)' is also used by \(first)", at: .init(file: path, line: 1, column: 1)))
                continue
            }
            seen[connector.name] = path
            connectors.append(connector)
        }
        return connectors
    }

    init(path: String) throws(YAMLError) {
        let root = try YAMLDocument.load(path: path)
        let map = try root.mapping()
        file = path
        name = try map.require("name").nonEmptyString()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
            throw try map.require("name").error("connector names may use letters, digits, '-', '_' and '.' only")
        }
        let kindValue = try map.require("kind")
        let kinds = [
            "http-sink", "webform", "stripe-webhook", "process", "cti-kamailio", "cti-ami", "tryton-party-sink", "tryton-sale-source",
            "smtp-sink", "imap-source",
        ]
        switch try kindValue.oneOf(kinds) {
        case "process":
            try map.allowOnly(["name", "kind", "role", "command", "topic", "settings", "timeout_ms", "max_in_flight", "dead_letter_topic", "retry", "when"])
            kind = .process(try Self.process(map, name: name, file: path))
        case "stripe-webhook":
            try map.allowOnly(["name", "kind", "path", "topic", "secrets", "tolerance_seconds", "events", "max_body_bytes", "ack_timeout_ms"])
            kind = .stripeWebhook(try Self.stripeWebhook(map))
        case "cti-kamailio", "cti-ami":
            kind = .cti(try Self.cti(map, ami: try kindValue.string() == "cti-ami"))
        case "tryton-party-sink":
            kind = .trytonPartySink(try Self.trytonPartySink(map, name: name))
        case "tryton-sale-source":
            kind = .trytonSaleSource(try Self.trytonSaleSource(map, name: name))
        case "smtp-sink":
            try map.allowOnly(Self.mailServerKeys.union([
                "topic", "from", "to", "cc", "in_reply_to", "headers", "template", "templates_dir", "message_id_domain", "max_in_flight",
                "dead_letter_topic", "retry", "when",
            ]))
            kind = .smtpSink(try Self.smtpSink(map, name: name, file: path))
        case "imap-source":
            try map.allowOnly(Self.mailServerKeys.union(["mailbox", "topic", "mapping", "poll_interval_ms", "keyword", "dead_letter_topic", "max_message_bytes", "max_in_flight"]))
            kind = .imapSource(try Self.imapSource(map, name: name))
        case "webform":
            try map.allowOnly(["name", "kind", "path", "topic", "key_field", "required", "honeypot_field", "max_body_bytes", "max_attachment_bytes", "ack_timeout_ms"])
            kind = .webForm(try Self.webForm(map))
        default:
            try map.allowOnly([
                "name", "kind", "topic", "url", "method", "headers", "body", "success_codes", "timeout_ms", "max_in_flight", "dead_letter_topic", "retry", "when",
            ])
            kind = .httpSink(try Self.httpSink(map, name: name))
        }
    }

    private static func httpSink(_ map: YAMLMapping, name: String) throws(YAMLError) -> HTTPSinkSettings {
        let topic = try RouteConfiguration.topicName(map.require("topic"))
        let urlValue = try map.require("url")
        let url = SecretValue(parsing: try urlValue.nonEmptyString())
        if case .literal(let text) = url {
            let template = RESTRequestTemplate(url: text).placeholders.reduce(text) { $0.replacingOccurrences(of: "{\($1)}", with: "x") }
            guard let components = URLComponents(string: template), let scheme = components.scheme, ["http", "https"].contains(scheme), components.host != nil else {
                throw urlValue.error("'\(text)' is not an http(s) URL")
            }
            if components.user != nil || components.password != nil {
                throw urlValue.error("credentials may not be written in the URL; use a header with ${env:NAME} or ${file:PATH}")
            }
        }
        let method = try map.optional("method")?.oneOf(["POST", "PUT", "PATCH", "DELETE"]) ?? "POST"
        var headers: [(name: String, value: SecretValue)] = []
        if let value = map.optional("headers") {
            for entry in try value.mapping().entries {
                let secret = SecretValue(parsing: try entry.value.string())
                let lowered = entry.key.lowercased()
                let looksSecret = lowered == "authorization" || ["token", "key", "secret", "password"].contains { lowered.contains($0) }
                if looksSecret && !secret.isReference {
                    throw entry.value.error("header '\(entry.key)' holds a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
                }
                headers.append((entry.key, secret))
            }
        }
        let timeout = Duration.milliseconds(try map.optional("timeout_ms")?.int(in: 100...600_000) ?? 10_000)
        var delivery = SinkService.Configuration(name: name, topic: topic)
        if let value = map.optional("max_in_flight") { delivery.maxInFlight = try value.int(in: 1...10_000) }
        if let value = map.optional("dead_letter_topic") { delivery.deadLetterTopic = try RouteConfiguration.topicName(value) }
        if let value = map.optional("retry") { delivery.retry = try retryPolicy(value) }
        if let value = map.optional("when") { delivery.when = try SinkCondition(compiling: value) }
        var settings = HTTPSinkSettings(topic: topic, url: url, method: method, headers: headers, timeout: timeout, delivery: delivery)
        if let value = map.optional("body") {
            settings.body = RESTRequestTemplate.BodyEncoding(rawValue: try value.oneOf(["json", "form", "none"])) ?? .json
        }
        if let value = map.optional("success_codes") {
            settings.successCodes = Set(try value.sequence().map { value throws(YAMLError) in try value.int(in: 100...599) })
        }
        return settings
    }

    private static func process(_ map: YAMLMapping, name: String, file: String) throws(YAMLError) -> ProcessSettings {
        let role = try map.require("role").oneOf(["sink", "source"])
        let commandValue = try map.require("command")
        let command = try commandValue.sequence().map { value throws(YAMLError) in try value.nonEmptyString() }
        guard !command.isEmpty else { throw commandValue.error("the command needs at least the program") }
        let topic = try RouteConfiguration.topicName(map.require("topic"))
        var settings = ProcessSettings(
            command: command, workingDirectory: URL(fileURLWithPath: file).deletingLastPathComponent().path, topic: topic)
        if let value = map.optional("settings") {
            for entry in try value.mapping().entries {
                let secret = SecretValue(parsing: try entry.value.string())
                let lowered = entry.key.lowercased()
                if ["token", "key", "secret", "password"].contains(where: { lowered.contains($0) }) && !secret.isReference {
                    throw entry.value.error("setting '\(entry.key)' holds a credential: write it as ${env:NAME} or ${file:PATH}, never inline")
                }
                settings.settings.append((entry.key, secret))
            }
        }
        if let value = map.optional("timeout_ms") { settings.timeout = .milliseconds(try value.int(in: 100...600_000)) }
        if role == "sink" {
            var delivery = SinkService.Configuration(name: name, topic: topic)
            if let value = map.optional("max_in_flight") { delivery.maxInFlight = try value.int(in: 1...10_000) }
            if let value = map.optional("dead_letter_topic") { delivery.deadLetterTopic = try RouteConfiguration.topicName(value) }
            if let value = map.optional("retry") { delivery.retry = try retryPolicy(value) }
            if let value = map.optional("when") { delivery.when = try SinkCondition(compiling: value) }
            settings.delivery = delivery
        } else {
            for key in ["max_in_flight", "dead_letter_topic", "retry", "when"] where map.optional(key) != nil {
                throw try map.require(key).error("'\(key)' applies to sinks only")
            }
        }
        return settings
    }

    private static func cti(_ map: YAMLMapping, ami: Bool) throws(YAMLError) -> CTISettings {
        let common = ["name", "kind", "interaction_topic", "screen_pop_topic", "default_region", "direction", "customers_csv", "tickets_topic"]
        try map.allowOnly(Set(common + (ami ? ["ami", "username", "secret"] : ["evapi"])))
        let addressValue = try map.require(ami ? "ami" : "evapi")
        let address = try addressValue.nonEmptyString()
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port),
            colon > address.startIndex
        else {
            throw addressValue.error("'\(address)' is not host:port")
        }
        let host = String(address[..<colon])
        let source: CTISettings.Source
        if ami {
            let secretValue = try map.require("secret")
            let secret = SecretValue(parsing: try secretValue.nonEmptyString())
            guard secret.isReference else { throw secretValue.error("the AMI secret must be ${env:NAME} or ${file:PATH}, never inline") }
            source = .asteriskAMI(host: host, port: port, username: try map.require("username").nonEmptyString(), secret: secret)
        } else {
            source = .kamailioEvapi(host: host, port: port)
        }
        var settings = CTISettings(
            source: source, interactionTopic: try RouteConfiguration.topicName(map.require("interaction_topic")),
            screenPopTopic: try RouteConfiguration.topicName(map.require("screen_pop_topic")))
        if let value = map.optional("default_region") {
            let region = try value.nonEmptyString()
            guard region.count == 2, region.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
                throw value.error("'\(region)' is not an ISO 3166 region such as GB")
            }
            settings.defaultRegion = region
        }
        if let value = map.optional("direction") { settings.direction = try value.oneOf(["inbound", "outbound"]) }
        settings.customersCSV = try map.optional("customers_csv")?.nonEmptyString()
        settings.ticketsTopic = try map.optional("tickets_topic").map { value throws(YAMLError) in try RouteConfiguration.topicName(value) }
        return settings
    }

    static let mailServerKeys: Set<String> = ["name", "kind", "url", "username", "password", "security", "ca_file", "timeout_ms"]

    private static func mailServer(_ map: YAMLMapping, schemes: [String]) throws(YAMLError) -> MailServerReference {
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

    private static func smtpSink(_ map: YAMLMapping, name: String, file: String) throws(YAMLError) -> SMTPSinkSettings {
        let topic = try RouteConfiguration.topicName(map.require("topic"))
        let server = try mailServer(map, schemes: ["smtp", "smtps"])
        var headers: [(name: String, value: String)] = []
        if let value = map.optional("headers") {
            for entry in try value.mapping().entries { headers.append((entry.key, try entry.value.string())) }
        }
        let templatesValue = try map.optional("templates_dir")?.nonEmptyString() ?? "templates"
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        let templates = templatesValue.hasPrefix("/") ? templatesValue : folder.appendingPathComponent(templatesValue).path
        var delivery = SinkService.Configuration(name: name, topic: topic)
        if let value = map.optional("max_in_flight") { delivery.maxInFlight = try value.int(in: 1...10_000) }
        if let value = map.optional("dead_letter_topic") { delivery.deadLetterTopic = try RouteConfiguration.topicName(value) }
        if let value = map.optional("retry") { delivery.retry = try retryPolicy(value) }
        if let value = map.optional("when") { delivery.when = try SinkCondition(compiling: value) }
        return SMTPSinkSettings(
            topic: topic, server: server, from: try map.require("from").nonEmptyString(), to: try map.require("to").nonEmptyString(),
            cc: try map.optional("cc")?.nonEmptyString(), inReplyTo: try map.optional("in_reply_to")?.nonEmptyString(), headers: headers,
            template: try map.require("template").nonEmptyString(), templatesDirectory: templates,
            messageIDDomain: try map.require("message_id_domain").nonEmptyString(), delivery: delivery)
    }

    private static func imapSource(_ map: YAMLMapping, name: String) throws(YAMLError) -> IMAPSourceSettings {
        var settings = IMAPSourceSettings(
            server: try mailServer(map, schemes: ["imap", "imaps"]), mailbox: try map.optional("mailbox")?.nonEmptyString() ?? "INBOX",
            topic: try RouteConfiguration.topicName(map.require("topic")), mapping: try map.require("mapping").nonEmptyString(),
            pollInterval: .milliseconds(try map.optional("poll_interval_ms")?.int(in: 1_000...86_400_000) ?? 30_000),
            keyword: try map.optional("keyword")?.nonEmptyString() ?? "crmhub-processed",
            deadLetterTopic: try map.optional("dead_letter_topic").map { value throws(YAMLError) in try RouteConfiguration.topicName(value) }
                ?? "dlq.\(name)")
        if let value = map.optional("max_message_bytes") { settings.maxMessageBytes = try value.int(in: 4_096...(1 << 30)) }
        if let value = map.optional("max_in_flight") { settings.maxInFlight = try value.int(in: 1...1_000) }
        return settings
    }

    private static func ingressPath(_ map: YAMLMapping) throws(YAMLError) -> String {
        let pathValue = try map.require("path")
        let path = try pathValue.nonEmptyString()
        guard path.hasPrefix("/"), path.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-_.".contains($0)) }) else {
            throw pathValue.error("'\(path)' is not a path such as /forms/contact")
        }
        return path
    }

    private static func stripeWebhook(_ map: YAMLMapping) throws(YAMLError) -> StripeWebhookSettings {
        let path = try ingressPath(map)
        let secretsValue = try map.require("secrets")
        var secrets: [SecretValue] = []
        for value in try secretsValue.sequence() {
            let secret = SecretValue(parsing: try value.nonEmptyString())
            guard secret.isReference else { throw value.error("signing secrets must be written as ${env:NAME} or ${file:PATH}, never inline") }
            secrets.append(secret)
        }
        guard !secrets.isEmpty else { throw secretsValue.error("at least one signing secret is needed") }
        var settings = StripeWebhookSettings(path: path, topic: try RouteConfiguration.topicName(map.require("topic")), secrets: secrets)
        if let value = map.optional("tolerance_seconds") { settings.tolerance = .seconds(try value.int(in: 10...3_600)) }
        if let value = map.optional("events") {
            settings.events = try value.sequence().map { value throws(YAMLError) in try value.nonEmptyString() }
        }
        if let value = map.optional("max_body_bytes") { settings.maxBodyBytes = try value.int(in: 1_024...(16 << 20)) }
        if let value = map.optional("ack_timeout_ms") { settings.ackTimeout = .milliseconds(try value.int(in: 100...60_000)) }
        return settings
    }

    private static func webForm(_ map: YAMLMapping) throws(YAMLError) -> WebFormSettings {
        var settings = WebFormSettings(path: try ingressPath(map), topic: try RouteConfiguration.topicName(map.require("topic")))
        settings.keyField = try map.optional("key_field")?.nonEmptyString()
        if let value = map.optional("required") { settings.requiredFields = try value.sequence().map { value throws(YAMLError) in try value.nonEmptyString() } }
        settings.honeypotField = try map.optional("honeypot_field")?.nonEmptyString()
        if let value = map.optional("max_body_bytes") { settings.maxBodyBytes = try value.int(in: 1_024...(64 << 20)) }
        if let value = map.optional("max_attachment_bytes") { settings.maxAttachmentBytes = try value.int(in: 0...(64 << 20)) }
        if let value = map.optional("ack_timeout_ms") { settings.ackTimeout = .milliseconds(try value.int(in: 100...60_000)) }
        return settings
    }

    static func retryPolicy(_ value: YAMLValue) throws(YAMLError) -> RetryPolicy {
        let map = try value.mapping()
        try map.allowOnly(["in_place_attempts", "initial_backoff_ms", "max_backoff_ms", "jitter", "topics"])
        var policy = RetryPolicy()
        if let value = map.optional("in_place_attempts") { policy.inPlaceAttempts = try value.int(in: 1...100) }
        if let value = map.optional("initial_backoff_ms") { policy.initialBackoff = .milliseconds(try value.int(in: 1...600_000)) }
        if let value = map.optional("max_backoff_ms") { policy.maxBackoff = .milliseconds(try value.int(in: 1...3_600_000)) }
        if let value = map.optional("jitter") {
            let jitter = try value.double()
            guard (0...1).contains(jitter) else { throw value.error("jitter is a fraction between 0 and 1") }
            policy.jitter = jitter
        }
        if let value = map.optional("topics") {
            policy.retryTopicDelays = []
            for delay in try value.sequence() { policy.retryTopicDelays.append(try parseDelay(delay)) }
        }
        return policy
    }

    /// `500ms`, `30s`, `10m`, `1h`.
    public static func parseDelay(_ value: YAMLValue) throws(YAMLError) -> Duration {
        let text = try value.nonEmptyString()
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            if let number = Int64(text.dropLast(unit.count)), number > 0 { return .milliseconds(number * factor) }
        }
        throw value.error("'\(text)' is not a delay such as 500ms, 30s, 10m or 1h")
    }
}

extension ConnectorConfiguration.Kind {
    /// Topics the connector reads or writes, its retry and dead-letter topics included.
    public var topics: [String] {
        switch self {
        case .httpSink(let settings): settings.delivery.topics
        case .webForm(let settings): [settings.topic]
        case .stripeWebhook(let settings): [settings.topic]
        case .process(let settings): settings.delivery?.topics ?? [settings.topic]
        case .cti(let settings): [settings.interactionTopic, settings.screenPopTopic] + (settings.ticketsTopic.map { [$0] } ?? [])
        case .trytonPartySink(let settings): settings.delivery.topics
        case .trytonSaleSource(let settings): [settings.source.topic]
        case .smtpSink(let settings): settings.delivery.topics
        case .imapSource(let settings): [settings.topic] + (settings.deadLetterTopic.map { [$0] } ?? [])
        }
    }

    /// The delivery settings of a sink connector (retries, dead letters); `nil` for sources.
    public var sinkDelivery: SinkService.Configuration? {
        switch self {
        case .httpSink(let settings): settings.delivery
        case .process(let settings): settings.delivery
        case .trytonPartySink(let settings): settings.delivery
        case .smtpSink(let settings): settings.delivery
        case .webForm, .stripeWebhook, .cti, .trytonSaleSource, .imapSource: nil
        }
    }
}
