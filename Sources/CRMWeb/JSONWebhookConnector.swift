import CRMConnector
import CRMKafka
import CRMModel
import CRMYAML
import Foundation
import HTTPTypes
import Logging
import Metrics

/// `kind: json-webhook`: a generic inbound webhook for systems that POST JSON events (a shop, a ticketing tool, a
/// marketing platform). Each JSON object is produced unchanged to the connector's topic and answered **202**
/// `{"id": ...}` only after Kafka acknowledged it.
///
/// The message id (`crm-id`) is the value of `id_field` when the body has it, else the `Idempotency-Key` header, else a
/// new UUID, so a sender's retry of the same event is deduplicated downstream; the key is the value of `key_field`
/// (trimmed, lower-cased), so one customer's events stay in order. With `token` (a `${env:}`/`${file:}` reference,
/// shorthand for `auth: {scheme: bearer, secret: ...}`), the ingress server requires `Authorization: Bearer <token>`
/// or `X-CRMHub-Token` (compared in constant time), else **401**.
///
/// Other answers: **400** not a JSON object; **413** too large; **415** not `application/json`; **503** with
/// `Retry-After` when Kafka did not acknowledge within `ack_timeout_ms`.
public enum JSONWebhookConnector: Connector {
    public struct Settings: Sendable {
        /// The ingress path (`/webhooks/shop`).
        public var path: String
        public var topic: String
        /// A top-level field whose value keys the message (`customer_email`).
        public var keyField: String?
        /// A top-level field whose value is the event's id (`event_id`).
        public var idField: String?
        /// The bearer token senders must present, as a secret reference; nil accepts unauthenticated posts.
        public var token: SecretValue?
        /// Largest accepted body. Default 1 MiB.
        public var maxBodyBytes: Int = 1 << 20
        /// How long a request waits for Kafka's acknowledgement before answering 503. Default 5 s.
        public var ackTimeout: Duration = .seconds(5)
    }

    public static let kind = "json-webhook"
    public static let keys: Set<String> = [
        "path", "topic", "key_field", "id_field", "token", "max_body_bytes", "ack_timeout_ms",
    ]

    public static func settings(_ file: ConnectorFile) throws(YAMLError) -> Settings {
        let map = file.map
        var settings = Settings(
            path: try map.require("path").ingressPath(), topic: try map.require("topic").topicName())
        settings.keyField = try map.optional("key_field")?.nonEmptyString()
        settings.idField = try map.optional("id_field")?.nonEmptyString()
        settings.token = try map.optional("token")?.secretReference("the webhook token")
        if settings.token != nil, let auth = map.optional("auth") {
            throw auth.error("give either token (a bearer secret) or auth, not both")
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
        let handler = JSONWebhookHandler(
            name: context.name, settings: settings, emitter: try context.ingressEmitter(), logger: context.logger)
        // `token` is shorthand for `auth: {scheme: bearer}`; the ingress server checks it.
        let authentication: IngressAuthentication =
            try settings.token.map { .sharedSecret(Array(try $0.resolve().utf8)) } ?? .none
        let endpoint = IngressEndpoint(
            connector: context.name, path: settings.path, maxBodyBytes: settings.maxBodyBytes,
            authentication: authentication
        ) { request, answer in
            handler.respond(to: request, answer: answer)
        }
        return ConnectorParts(ingress: [endpoint])
    }
}

/// Answers one `json-webhook` endpoint's posts.
struct JSONWebhookHandler: Sendable {
    let name: String
    let settings: JSONWebhookConnector.Settings
    let emitter: SourceEmitter
    let logger: Logger
    private let accepted: Counter

    init(name: String, settings: JSONWebhookConnector.Settings, emitter: SourceEmitter, logger: Logger) {
        self.name = name
        self.settings = settings
        self.emitter = emitter
        self.logger = logger
        accepted = Counter(label: "crmhub_ingress_accepted_total", dimensions: [("connector", name)])
    }

    /// Answers a post: checks it on the caller's thread, then produces it and gives `answer` from the delivery
    /// report.
    func respond(to request: IngressRequest, answer: IngressAnswer) {
        switch check(request) {
        case .refused(let refusal):
            answer.finish(refusal)
        case .message(let message, let id):
            let accepted = accepted
            IngressReply.stored(
                message, emitter: emitter, timeout: settings.ackTimeout, id: id,
                retryHint: "retry with Idempotency-Key: \(id)", logger: logger, answer: answer
            ) {
                accepted.increment()
                return IngressReply.json(.accepted, ["id": id, "status": "accepted"])
            }
        }
    }

    private enum Checked {
        case message(ProducerMessage, id: String)
        case refused(IngressResponse)
    }

    /// The post's message and id, or its refusal.
    private func check(_ request: IngressRequest) -> Checked {
        let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first?.trimmingCharacters(
            in: .whitespaces
        ).lowercased()
        guard mediaType == "application/json" else {
            return .refused(reject(.unsupportedMediaType, "events must be application/json", reason: "content_type"))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            return .refused(reject(.badRequest, "the body is not a JSON object", reason: "unreadable"))
        }
        let fieldID = settings.idField.flatMap { Self.text(object[$0]) }
        let headerID = request.headers[HTTPField.Name("Idempotency-Key")!].flatMap {
            $0.isEmpty || $0.count > 200 ? nil : $0
        }
        let id = fieldID ?? headerID ?? MessageID.random()
        let key = settings.keyField.flatMap { Self.text(object[$0]) }.map {
            Array($0.trimmingWhitespace().lowercased().utf8)
        }
        let message = ProducerMessage(
            topic: settings.topic, key: key, value: request.body,
            headers: [
                KafkaHeader(key: EnvelopeHeader.id, text: id),
                KafkaHeader(key: EnvelopeHeader.origin, text: "webhook/\(name)"),
            ])
        return .message(message, id: id)
    }

    /// A string or number field as text (ids and keys are often numeric).
    private static func text(_ value: Any?) -> String? {
        switch value {
        case let text as String: text.isEmpty ? nil : text
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }

    private func reject(_ status: HTTPResponse.Status, _ message: String, reason: String) -> IngressResponse {
        IngressReply.reject(status, message, reason: reason, connector: name, logger: logger)
    }
}
