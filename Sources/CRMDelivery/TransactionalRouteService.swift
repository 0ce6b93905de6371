import CRMKafka
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs one route exactly once (`delivery: exactly_once`): each batch of consumed messages is transformed and its
/// output records, dead-letter records and consumed offsets are committed in one Kafka transaction
/// (consume-transform-produce with `send_offsets_to_transaction`). A read_committed consumer downstream sees every
/// input message's output once, or — when the transaction aborts — not at all until the batch is redone.
///
/// When a transaction fails with an abortable error, it is aborted and the consumer is recreated, so the batch is
/// read again from the last committed offsets. A fatal error (the producer was fenced by a newer instance with the
/// same transactional id) stops the route with the error. Each route has its own transactional producer, whose id
/// is `<transactionalIDPrefix>.<route>`: keep it stable per instance so a restarted instance fences its zombie.
public final class TransactionalRouteService: Service, Sendable {
    public let route: RouteConfiguration
    private let consumerConfiguration: KafkaConsumerConfiguration
    private let producerConfiguration: KafkaProducerConfiguration
    private let transform: @Sendable () -> any MessageTransform
    private let state: HubState
    private let logger: Logger
    private let metrics: RouteMetrics
    private let transactions: Counter
    private let aborts: Counter
    private let finished = Atomic<Int>(0)

    public init(
        route: RouteConfiguration, consumer: KafkaConsumerConfiguration, producer: KafkaProducerConfiguration,
        transactionalIDPrefix: String, transform: @escaping @Sendable () -> any MessageTransform, state: HubState,
        logger: Logger
    ) {
        self.route = route
        var consumer = consumer
        consumer.isolationLevel = "read_committed"
        self.consumerConfiguration = consumer
        var producer = producer
        producer.transactionalID = "\(transactionalIDPrefix).\(route.name)"
        producer.idempotent = true
        producer.acks = "all"
        self.producerConfiguration = producer
        self.transform = transform
        self.state = state
        var logger = logger
        logger[metadataKey: "route"] = "\(route.name)"
        self.logger = logger
        self.metrics = RouteMetrics(route: route.name)
        transactions = Counter(label: "crmhub_route_transactions_committed_total", dimensions: [("route", route.name)])
        aborts = Counter(label: "crmhub_route_transactions_aborted_total", dimensions: [("route", route.name)])
    }

    /// Input messages whose transaction committed since the route started.
    public var finishedMessages: Int { finished.load(ordering: .relaxed) }

    public func run() async throws {
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        defer { Task { [producer] in await producer.shutdown(timeout: .seconds(2)) } }
        try await producer.initTransactions()
        logger.info(
            "exactly-once route started",
            metadata: [
                "from": "\(route.from)", "to": "\(route.to.topics)",
                "transactionalID": "\(producerConfiguration.transactionalID ?? "-")",
            ])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
            let name = route.name
            state.register(route: name) {
                HubState.RouteHealth(
                    name: name, running: true, joinedGroup: consumer.hasJoinedGroup,
                    assignedPartitions: consumer.assignment.count,
                    inFlight: 0, lastError: consumer.lastError)
            }
            do {
                for await batch in consumer.batches.cancelOnGracefulShutdown() {
                    try await commitInTransaction(batch, consumer: consumer, producer: producer)
                }
                state.unregister(route: name)
                await consumer.close()
                if let fatal = consumer.fatalError { throw fatal }
                break
            } catch let error as KafkaError where !error.isFatal {
                aborts.increment()
                logger.warning("transaction aborted; the batch will be read again", metadata: ["error": "\(error)"])
                do {
                    try await producer.abortTransaction()
                } catch {
                    logger.error("abort failed", metadata: ["error": "\(error)"])
                    if error.isFatal { throw error }
                }
                state.unregister(route: name)
                await consumer.close()
            }
        }
        logger.info("exactly-once route stopped")
    }

    /// Transforms `batch` and commits its output and offsets in one transaction.
    private func commitInTransaction(
        _ batch: [ConsumerMessage], consumer: KafkaConsumer, producer: KafkaProducer
    ) async throws(KafkaError) {
        try producer.beginTransaction()
        let refused = Mutex<KafkaError?>(nil)
        let onDelivery: @Sendable (Result<DeliveryReport, KafkaError>) -> Void = { result in
            if case .failure(let error) = result { refused.withLock { if $0 == nil { $0 = error } } }
        }
        var nextOffsets: [TopicPartition: Int64] = [:]
        var produced = 0
        var deadLettered = 0
        let transform = self.transform()
        let steps = await route.steps(for: batch, using: transform)
        for (index, message) in batch.enumerated() {
            metrics.consumed.increment()
            nextOffsets[message.topicPartition] = max(nextOffsets[message.topicPartition] ?? 0, message.offset + 1)
            let step = if let steps { steps[index] } else { await route.step(for: message, using: transform) }
            let records: [ProducerMessage]
            switch step {
            case .produce(let built):
                records = built
                produced += built.count
            case .drop:
                metrics.dropped.increment()
                records = []
            case .deadLetter(let failure):
                records = [deadLetterRecord(message, failure, transform)]
                deadLettered += 1
            }
            for record in records { try await enqueue(record, producer: producer, onDelivery: onDelivery) }
        }
        let offsets = nextOffsets.map { TopicPartitionOffset($0.key, offset: $0.value) }
        try await producer.sendOffsetsToTransaction(offsets, consumer: consumer)
        try await producer.commitTransaction()
        // commit_transaction flushes first and fails if any message failed, so a refusal here would have thrown.
        if let error = refused.withLock({ $0 }) { throw error }
        transactions.increment()
        metrics.produced.increment(by: produced)
        metrics.deadLettered.increment(by: deadLettered)
        finished.add(batch.count, ordering: .relaxed)
    }

    private func deadLetterRecord(
        _ message: ConsumerMessage, _ failure: DeliveryFailure, _ transform: any MessageTransform
    ) -> ProducerMessage {
        logger.error(
            "message cannot be handled; sent to the dead-letter topic in the transaction",
            metadata: [
                "partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(failure.reason)",
                "errorClass": "\(failure.errorClass)",
            ])
        return DeadLetter.record(
            for: message, failure: failure, route: route.name, mappingVersion: transform.version,
            topic: route.deadLetterTopic)
    }

    private func enqueue(
        _ record: ProducerMessage, producer: KafkaProducer,
        onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    ) async throws(KafkaError) {
        while true {
            do {
                try producer.enqueue(record, onDelivery: onDelivery)
                return
            } catch {
                // Queue full: let it drain.
                guard error.isRetriable && !error.requiresTransactionAbort else { throw error }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
    }
}
