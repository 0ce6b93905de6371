import CRMDelivery
import CRMKafka
import CRMModel
import Foundation
import Logging
import Metrics
import Synchronization

/// The one way a source puts a message on Kafka: produce, wait for the broker's acknowledgement (or hand it to a
/// callback), dead-letter what cannot be produced with the standard `crm-dlq-*` headers, and count each outcome.
/// Web forms, webhooks, CTI events, IMAP mail, Tryton sales, external-process sources and batch imports all emit
/// through one of these, so `crmhub dlq` reads every source's dead letters the same way.
///
/// Metrics, by `connector`: `crmhub_source_messages_total{outcome=acknowledged|failed|dead_lettered}` and
/// `crmhub_source_ack_latency_seconds`.
public struct SourceEmitter: Sendable {
    /// The connector (or batch job) name in metrics, logs and the `crm-dlq-route` header.
    public let connector: String
    /// Where ``deadLetter(_:failure:source:)`` writes; nil when the source has none (it then answers its sender).
    public let deadLetterTopic: String?
    public let producer: KafkaProducer
    /// One shared object, so a delivery callback holds one reference rather than one per metric.
    private let metrics: Metrics

    public init(connector: String, producer: KafkaProducer, deadLetterTopic: String? = nil) {
        self.connector = connector
        self.producer = producer
        self.deadLetterTopic = deadLetterTopic
        metrics = Metrics(connector: connector)
    }

    /// The emitter's metrics, counted from delivery reports.
    fileprivate final class Metrics: Sendable {
        let acknowledged: Counter
        let failed: Counter
        let deadLettered: Counter
        let latency: Timer

        init(connector: String) {
            let dimension = [("connector", connector)]
            acknowledged = Counter(
                label: "crmhub_source_messages_total", dimensions: dimension + [("outcome", "acknowledged")])
            failed = Counter(label: "crmhub_source_messages_total", dimensions: dimension + [("outcome", "failed")])
            deadLettered = Counter(
                label: "crmhub_source_messages_total", dimensions: dimension + [("outcome", "dead_lettered")])
            latency = Timer(
                label: "crmhub_source_ack_latency_seconds", dimensions: dimension, preferredDisplayUnit: .seconds)
        }

        func record(_ result: Result<DeliveryReport, KafkaError>) {
            switch result {
            case .success(let report):
                acknowledged.increment()
                latency.record(duration: .nanoseconds(Int64(report.latency * 1e9)))
            case .failure:
                failed.increment()
            }
        }
    }

    /// Produces `message` and returns once the broker acknowledged it; throws the broker's refusal.
    @discardableResult
    public func emit(_ message: ProducerMessage) async throws(KafkaError) -> DeliveryReport {
        do {
            let report = try await producer.send(message)
            record(.success(report))
            return report
        } catch {
            record(.failure(error))
            throw error
        }
    }

    /// What became of a message emitted with a deadline.
    public enum Outcome: Sendable {
        case acknowledged
        case failed(KafkaError)
        /// No answer within the deadline; the message may still be stored later (senders retry with the same id).
        case timedOut
    }

    /// Produces `message` and waits at most `timeout` for the acknowledgement (ingress requests answer their sender
    /// within a deadline).
    public func emit(_ message: ProducerMessage, within timeout: Duration) async -> Outcome {
        await withCheckedContinuation { continuation in
            emit(message, within: timeout) { continuation.resume(returning: $0) }
        }
    }

    /// Produces `message` and calls `then` once with the outcome: on librdkafka's delivery-report thread after the
    /// broker decided, on the ``Deadlines`` task when `timeout` passed first, or on the caller's thread when
    /// librdkafka refused the message at once. For answers given without a task waiting (ingress endpoints that
    /// answer from the delivery report).
    public func emit(
        _ message: ProducerMessage, within timeout: Duration, then: @escaping @Sendable (Outcome) -> Void
    ) {
        let once = OutcomeOnce(then)
        do {
            try enqueue(message) { result in
                switch result {
                case .success: once.finish(.acknowledged)
                case .failure(let error): once.finish(.failed(error))
                }
            }
        } catch {
            once.finish(.failed(error))
            return
        }
        Deadlines.shared.add(once, after: timeout)
    }

    /// Enqueues `message` without waiting; `onDelivery` runs on librdkafka's delivery-report thread once the broker
    /// decided. For sources that pipeline (CTI events, child processes, batch rows).
    public func enqueue(
        _ message: ProducerMessage, onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    ) throws(KafkaError) {
        let metrics = metrics
        do {
            try producer.enqueue(message) { result in
                metrics.record(result)
                onDelivery(result)
            }
        } catch {
            record(.failure(error))
            throw error
        }
    }

    /// A receiver of many messages' deliveries that counts each in the emitter's metrics, then hands it to `receiver`:
    /// made once per stream of messages (a batch file) and passed to ``enqueue(_:tag:to:)`` with each.
    public func metered(_ receiver: any DeliveryReceiver) -> MeteredReceiver {
        MeteredReceiver(metrics: metrics, receiver: receiver)
    }

    /// A ``DeliveryReceiver`` that counts deliveries in a ``SourceEmitter``'s metrics (``metered(_:)``).
    public final class MeteredReceiver: DeliveryReceiver {
        private let metrics: Metrics
        private let receiver: any DeliveryReceiver

        fileprivate init(metrics: Metrics, receiver: any DeliveryReceiver) {
            self.metrics = metrics
            self.receiver = receiver
        }

        public func delivered(tag: Int, _ result: Result<DeliveryReport, KafkaError>) {
            metrics.record(result)
            receiver.delivered(tag: tag, result)
        }
    }

    /// Enqueues `message` without waiting, as ``enqueue(_:onDelivery:)`` does; `receiver` gets its delivery with `tag`.
    /// One allocation per message rather than two closures: for sources with many messages in flight (batch rows).
    public func enqueue(_ message: ProducerMessage, tag: Int, to receiver: MeteredReceiver) throws(KafkaError) {
        do {
            try producer.enqueue(message, tag: tag, to: receiver)
        } catch {
            record(.failure(error))
            throw error
        }
    }

    /// The dead-letter record of a message the source could not turn into records: the original bytes and headers
    /// with the standard `crm-dlq-*` headers, for ``deadLetterTopic``. `source` says where it was read
    /// (`imap/support/INBOX/7/42`); `failure.reason` is redacted by the installed `RedactionPolicy`.
    public func deadLetterRecord(
        _ message: ProducerMessage, failure: DeliveryFailure, source: String
    ) throws(KafkaError) -> ProducerMessage {
        guard let deadLetterTopic else {
            throw KafkaError(.configuration, reason: "connector \(connector) has no dead-letter topic")
        }
        return DeadLetter.record(
            key: message.key, value: message.value, headers: message.headers,
            id: message.headers.text(EnvelopeHeader.id),
            source: source, failure: failure, route: connector,
            mappingVersion: message.headers.text(EnvelopeHeader.mapping),
            topic: deadLetterTopic)
    }

    /// Dead-letters `message` (see ``deadLetterRecord(_:failure:source:)``) and waits for the acknowledgement.
    public func deadLetter(
        _ message: ProducerMessage, failure: DeliveryFailure, source: String
    ) async throws(KafkaError) {
        _ = try await producer.send(try deadLetterRecord(message, failure: failure, source: source))
        metrics.deadLettered.increment()
    }

    /// Enqueues the dead letter of `message` without waiting (sources that pipeline); `onDelivery` as in
    /// ``enqueue(_:onDelivery:)``.
    public func enqueueDeadLetter(
        _ message: ProducerMessage, failure: DeliveryFailure, source: String,
        onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    ) throws(KafkaError) {
        let record = try deadLetterRecord(message, failure: failure, source: source)
        let counter = metrics.deadLettered
        try producer.enqueue(record) { result in
            if case .success = result { counter.increment() }
            onDelivery(result)
        }
    }

    private func record(_ result: Result<DeliveryReport, KafkaError>) { metrics.record(result) }
}

/// Hands an emit's outcome to its callback once: the delivery report or the deadline, whichever comes first. The
/// callback (and what it holds) is let go when it has run, not when the deadline's entry is dropped.
private final class OutcomeOnce: DeadlineWaiter {
    private let then: Mutex<(@Sendable (SourceEmitter.Outcome) -> Void)?>

    init(_ then: @escaping @Sendable (SourceEmitter.Outcome) -> Void) { self.then = Mutex(then) }

    func finish(_ outcome: SourceEmitter.Outcome) {
        let then = self.then.withLock { then in
            defer { then = nil }
            return then
        }
        then?(outcome)
    }

    func deadlinePassed() { finish(.timedOut) }
}
