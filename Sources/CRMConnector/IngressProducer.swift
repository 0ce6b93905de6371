import CRMKafka
import Logging
import Synchronization

/// The producer behind ingress endpoints (web forms, webhooks) and CTI screen-pops, made on first use.
///
/// An ingress endpoint answers its caller only after Kafka acknowledged the message, so the caller waits for the
/// producer's batching delay on every request; an agent waits for a screen-pop the same way. The hub's shared producer lingers to fill batches for routes and
/// sinks for 5 ms; this one is configured for latency (`ingress.linger_ms`, default 2 ms) and is otherwise identical
/// (idempotent, `acks=all`). A hub without ingress endpoints never makes it.
///
/// Each endpoint produces through this one producer only, so per-key order among its messages is that producer's.
public final class IngressProducer: Sendable {
    /// The settings the producer is made with.
    public let configuration: KafkaProducerConfiguration
    private let logger: Logger
    private let made = Mutex<KafkaProducer?>(nil)

    /// - Parameters:
    ///   - configuration: The producer's settings; `linger.ms` among the client's extra properties is ignored, as
    ///     ``KafkaProducerConfiguration/lingerMilliseconds`` is the setting this producer exists for.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) {
        var configuration = configuration
        configuration.client.extra["linger.ms"] = nil
        configuration.client.extra["queue.buffering.max.ms"] = nil
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "producer"] = "ingress"
        self.logger = logger
    }

    /// The producer, made on the first call.
    public func producer() throws(KafkaError) -> KafkaProducer {
        try made.withLock { made throws(KafkaError) in
            if let made { return made }
            let producer = try KafkaProducer(configuration: configuration, logger: logger)
            made = producer
            return producer
        }
    }

    /// The producer if an endpoint asked for it, for the hub to keep alive, flush at shutdown and probe.
    public var producerIfMade: KafkaProducer? { made.withLock { $0 } }
}
