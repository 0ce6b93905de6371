import CRMYAML
import Foundation

extension ConnectorConfiguration {
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
}

extension ConnectorConfiguration {
    static func ingressPath(_ map: YAMLMapping) throws(YAMLError) -> String {
        let pathValue = try map.require("path")
        let path = try pathValue.nonEmptyString()
        guard path.hasPrefix("/"), path.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-_.".contains($0)) }) else {
            throw pathValue.error("'\(path)' is not a path such as /forms/contact")
        }
        return path
    }

    static func stripeWebhook(_ map: YAMLMapping) throws(YAMLError) -> StripeWebhookSettings {
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

    static func webForm(_ map: YAMLMapping) throws(YAMLError) -> WebFormSettings {
        var settings = WebFormSettings(path: try ingressPath(map), topic: try RouteConfiguration.topicName(map.require("topic")))
        settings.keyField = try map.optional("key_field")?.nonEmptyString()
        if let value = map.optional("required") { settings.requiredFields = try value.sequence().map { value throws(YAMLError) in try value.nonEmptyString() } }
        settings.honeypotField = try map.optional("honeypot_field")?.nonEmptyString()
        if let value = map.optional("max_body_bytes") { settings.maxBodyBytes = try value.int(in: 1_024...(64 << 20)) }
        if let value = map.optional("max_attachment_bytes") { settings.maxAttachmentBytes = try value.int(in: 0...(64 << 20)) }
        if let value = map.optional("ack_timeout_ms") { settings.ackTimeout = .milliseconds(try value.int(in: 100...60_000)) }
        return settings
    }
}
