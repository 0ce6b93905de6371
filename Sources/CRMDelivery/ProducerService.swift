import CRMKafka
import Logging
import ServiceLifecycle

/// Keeps the shared producer alive for the life of the hub and flushes it last on shutdown (it is listed before
/// the routes in the service group, so it stops after them).
public struct ProducerService: Service {
    public let producer: KafkaProducer
    private let flushTimeout: Duration
    private let logger: Logger

    public init(producer: KafkaProducer, flushTimeout: Duration, logger: Logger) {
        self.producer = producer
        self.flushTimeout = flushTimeout
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        logger.info("flushing producer", metadata: ["outstanding": "\(producer.outstandingMessages)"])
        await producer.shutdown(timeout: flushTimeout)
    }
}
