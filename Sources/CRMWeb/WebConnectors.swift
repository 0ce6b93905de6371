// CRMWeb: the connector kinds that receive over the ingress server — web forms (`webform`) and signed billing
// webhooks (`stripe-webhook`). Each becomes an IngressEndpoint that answers only after Kafka acknowledged.

import CRMConnector
import CRMDelivery
// The body parsers and the signature check live in CRMWebFormats; users of CRMWeb see them as before.
@_exported import CRMWebFormats
import CRMYAML
import Foundation

/// `kind: webform`: accepts web-form posts on the ingress server and produces each to a topic (see
/// ``WebFormIngress``).
public enum WebFormConnector: Connector {
    /// Settings of a `webform` connector.
    public struct Settings: Sendable {
        /// The ingress path (`/forms/contact`).
        public var path: String
        public var topic: String
        /// The field whose value (trimmed, lower-cased) is the message key, e.g. `email`.
        public var keyField: String?
        /// The field whose value (the site's own submission id) becomes the post's id — the message id, the name of
        /// its attachment folder and, with the shipped `web-form` mapping, its ticket and timeline ref `web-<id>` —
        /// before an `Idempotency-Key` header or a new UUID.
        public var idField: String?
        /// Fields that must be present and non-empty (else 422).
        public var requiredFields: [String] = []
        /// A field real users leave empty (hidden by CSS); a filled one is refused as spam.
        public var honeypotField: String?
        /// Largest accepted body. Default 1 MiB.
        public var maxBodyBytes: Int = 1 << 20
        /// Largest accepted attachment. Default 512 KiB.
        public var maxAttachmentBytes: Int = 512 << 10
        /// Most fields (urlencoded pairs, JSON members, multipart parts that are not files) in one post; more is 413.
        /// Default 200.
        public var maxFields: Int = 200
        /// Most multipart parts (fields and files together) in one post; more is 413. Default 50.
        public var maxParts: Int = 50
        /// How long a request waits for Kafka's acknowledgement before answering 503. Default 5 s.
        public var ackTimeout: Duration = .seconds(5)

        public init(path: String, topic: String) {
            self.path = path
            self.topic = topic
        }
    }

    public static let kind = "webform"
    public static let keys: Set<String> = [
        "path", "topic", "key_field", "id_field", "required", "honeypot_field", "max_body_bytes", "max_attachment_bytes",
        "ack_timeout_ms", "max_fields", "max_parts",
    ]

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        var settings = Settings(
            path: try map.require("path").ingressPath(), topic: try map.require("topic").topicName())
        settings.keyField = try map.optional("key_field")?.nonEmptyString()
        settings.idField = try map.optional("id_field")?.nonEmptyString()
        if let value = map.optional("required") {
            settings.requiredFields = try value.sequence().map { value throws(YAMLError) in try value.nonEmptyString() }
        }
        settings.honeypotField = try map.optional("honeypot_field")?.nonEmptyString()
        if let value = map.optional("max_body_bytes") { settings.maxBodyBytes = try value.int(in: 1_024...(64 << 20)) }
        if let value = map.optional("max_attachment_bytes") {
            settings.maxAttachmentBytes = try value.int(in: 0...(64 << 20))
        }
        if let value = map.optional("ack_timeout_ms") {
            settings.ackTimeout = .milliseconds(try value.int(in: 100...60_000))
        }
        if let value = map.optional("max_fields") { settings.maxFields = try value.int(in: 1...10_000) }
        if let value = map.optional("max_parts") { settings.maxParts = try value.int(in: 1...10_000) }
        return settings
    }

    public static func topics(_ settings: Settings) -> [String] { [settings.topic] }

    public static func ingressPaths(_ settings: Settings) -> [String] { [settings.path] }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        let form = WebFormIngress.Form(name: context.name, settings: settings)
        let endpoint = WebFormIngress.endpoint(
            form, emitter: try context.ingressEmitter(), attachmentsDirectory: context.statePath("attachments"),
            logger: context.logger)
        return ConnectorParts(ingress: [endpoint])
    }
}

/// `kind: stripe-webhook`: accepts signed billing webhooks (Stripe-style) on the ingress server and produces each
/// event to a topic (see ``StripeWebhookIngress``).
public enum StripeWebhookConnector: Connector {
    /// Settings of a `stripe-webhook` connector.
    public struct Settings: Sendable {
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

    public static let kind = "stripe-webhook"
    public static let keys: Set<String> = [
        "path", "topic", "secrets", "tolerance_seconds", "events", "max_body_bytes", "ack_timeout_ms",
    ]

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        let path = try map.require("path").ingressPath()
        let secretsValue = try map.require("secrets")
        var secrets: [SecretValue] = []
        for value in try secretsValue.sequence() {
            let secret = try value.secretValue()
            guard secret.isReference else {
                throw value.error("signing secrets must be written as ${env:NAME} or ${file:PATH}, never inline")
            }
            secrets.append(secret)
        }
        guard !secrets.isEmpty else { throw secretsValue.error("at least one signing secret is needed") }
        var settings = Settings(path: path, topic: try map.require("topic").topicName(), secrets: secrets)
        if let value = map.optional("tolerance_seconds") {
            settings.tolerance = .seconds(try value.int(in: 10...3_600))
        }
        if let value = map.optional("events") {
            settings.events = try value.sequence().map { value throws(YAMLError) in try value.nonEmptyString() }
        }
        if let value = map.optional("max_body_bytes") { settings.maxBodyBytes = try value.int(in: 1_024...(16 << 20)) }
        if let value = map.optional("ack_timeout_ms") {
            settings.ackTimeout = .milliseconds(try value.int(in: 100...60_000))
        }
        return settings
    }

    public static func topics(_ settings: Settings) -> [String] { [settings.topic] }

    public static func ingressPaths(_ settings: Settings) -> [String] { [settings.path] }

    public static func make(_ settings: Settings, in context: ConnectorContext) async throws -> ConnectorParts {
        let secrets = try settings.secrets.map { secret throws(SecretError) in try secret.resolve() }
        let endpoint = StripeWebhookIngress.Endpoint(name: context.name, settings: settings, secrets: secrets)
        return ConnectorParts(ingress: [
            StripeWebhookIngress.endpoint(endpoint, emitter: try context.ingressEmitter(), logger: context.logger)
        ])
    }
}
