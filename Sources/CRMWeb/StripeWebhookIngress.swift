import CRMConnector
import CRMKafka
import CRMModel
import Foundation
import HTTPTypes
import Logging
import Metrics

/// Billing webhooks (Stripe and Stripe-compatible senders): one `POST` endpoint per connector.
///
/// Each request's `Stripe-Signature` is verified before anything else is read (``StripeSignatureVerifier``). An
/// accepted event is produced unchanged, as the bytes that were signed, to the connector's topic, keyed by the
/// billing customer id (`data.object.customer`, or the object's own id for customer events) so one customer's
/// events stay in order, with the event id (`evt_...`) as the message id: a sender's retry of the same event
/// carries the same id, so deduplication downstream sees it once.
///
/// Answers: **200** `{"id": ...}` only after Kafka acknowledged the event, or for an event type the connector
/// does not take (`"status": "ignored"`, nothing produced); **400** a missing, malformed (more than 8 `v1`), stale,
/// forged or replayed (the same signature accepted before, within the tolerance) signature, or a body that is not a
/// Stripe event (nothing produced; counted in `crmhub_ingress_rejected_total` by reason);
/// **413** too large; **415** not JSON; **503** Kafka did not acknowledge in time (the sender retries).
public enum StripeWebhookIngress {
    /// A webhook endpoint served by the ingress, with its secrets already resolved.
    public struct Endpoint: Sendable {
        public var name: String
        public var settings: StripeWebhookConnector.Settings
        public var verifier: StripeSignatureVerifier
        /// Signatures accepted within the tolerance; the same one twice is refused as a replay.
        public var replays: StripeReplayCache

        public init(name: String, settings: StripeWebhookConnector.Settings, secrets: [String]) {
            self.name = name
            self.settings = settings
            verifier = StripeSignatureVerifier(secrets: secrets, tolerance: settings.tolerance)
            replays = StripeReplayCache(tolerance: settings.tolerance)
        }
    }

    /// The webhook's ingress endpoint: verified events become messages on its topic through `emitter`.
    public static func endpoint(_ endpoint: Endpoint, emitter: SourceEmitter, logger: Logger) -> IngressEndpoint {
        let handler = StripeWebhookHandler(endpoint: endpoint, emitter: emitter, logger: logger)
        return IngressEndpoint(
            connector: endpoint.name, path: endpoint.settings.path, maxBodyBytes: endpoint.settings.maxBodyBytes
        ) { request in
            await handler.handle(request)
        }
    }
}

/// Handles one webhook endpoint's posts.
struct StripeWebhookHandler: Sendable {
    let endpoint: StripeWebhookIngress.Endpoint
    let emitter: SourceEmitter
    let logger: Logger
    let accepted: Counter
    let ignored: Counter
    let latency: Timer

    init(endpoint: StripeWebhookIngress.Endpoint, emitter: SourceEmitter, logger: Logger) {
        self.endpoint = endpoint
        self.emitter = emitter
        var logger = logger
        logger[metadataKey: "connector"] = "\(endpoint.name)"
        self.logger = logger
        accepted = Counter(label: "crmhub_ingress_accepted_total", dimensions: [("connector", endpoint.name)])
        ignored = Counter(label: "crmhub_ingress_ignored_total", dimensions: [("connector", endpoint.name)])
        latency = Timer(
            label: "crmhub_ingress_ack_latency_seconds", dimensions: [("connector", endpoint.name)],
            preferredDisplayUnit: .seconds)
    }

    func handle(_ request: IngressRequest) async -> IngressResponse {
        let started = ContinuousClock.now
        let settings = endpoint.settings
        let payload = request.body
        let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first?.trimmingCharacters(
            in: .whitespaces
        ).lowercased()
        guard mediaType == "application/json" else {
            return reject(.unsupportedMediaType, "webhooks must be application/json", reason: "content_type")
        }
        let match: StripeSignatureVerifier.Match
        do {
            match = try endpoint.verifier.verify(
                header: request.headers[HTTPField.Name("Stripe-Signature")!], payload: payload)
            try endpoint.replays.admit(match)
        } catch {
            logger.warning("webhook signature refused", metadata: ["reason": "\(error.reason)"])
            return reject(.badRequest, error.description, reason: error.reason)
        }
        let event: StripeEvent
        do {
            event = try StripeEvent(payload)
        } catch {
            return reject(.badRequest, error.description, reason: "not_an_event")
        }
        guard settings.takes(eventType: event.type) else {
            ignored.increment()
            logger.debug("webhook event type not taken", metadata: ["event": "\(event.id)", "type": "\(event.type)"])
            return IngressReply.json(.ok, ["id": event.id, "status": "ignored"])
        }

        let message = ProducerMessage(
            topic: settings.topic, key: event.customerKey.map { Array($0.utf8) }, value: payload,
            headers: [
                KafkaHeader(key: EnvelopeHeader.id, text: event.id),
                KafkaHeader(key: EnvelopeHeader.origin, text: "stripe/\(endpoint.name)"),
                KafkaHeader(key: "crm-event-type", text: event.type),
            ])
        let answer = await IngressReply.stored(
            message, emitter: emitter, timeout: settings.ackTimeout, id: event.id, retryHint: "retry later",
            logger: logger
        ) {
            accepted.increment()
            latency.record(duration: started.duration(to: .now))
            logger.info(
                "webhook event stored",
                metadata: ["event": "\(event.id)", "type": "\(event.type)", "topic": "\(settings.topic)"])
            return IngressReply.json(.ok, ["id": event.id, "status": "accepted"])
        }
        if answer.status != .ok { endpoint.replays.forget(match) }
        return answer
    }

    private func reject(_ status: HTTPResponse.Status, _ message: String, reason: String) -> IngressResponse {
        IngressReply.reject(status, message, reason: reason, connector: endpoint.name, logger: logger)
    }
}

extension StripeWebhookConnector.Settings {
    /// True when `eventType` matches one of the connector's `events` patterns (`invoice.*`), or none are set.
    func takes(eventType: String) -> Bool {
        events.isEmpty
            || events.contains { pattern in
                pattern.hasSuffix(".*") ? eventType.hasPrefix(pattern.dropLast()) : pattern == eventType
            }
    }
}
