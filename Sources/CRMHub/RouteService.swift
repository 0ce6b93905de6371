import CRMKafka
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs one route as a service: consume `from` in the consumer group `<prefix>.<route>`, transform each message,
/// produce the results, and commit the source offset only after every produced message was acknowledged.
///
/// Messages the route cannot handle are logged with route, partition and offset, counted, and finished (their
/// offset is committed) so they never stop the route; permanent produce errors are treated the same way.
/// Retriable produce errors are retried until acknowledged, so the offset never moves past them.
/// On graceful shutdown the route stops consuming, waits (bounded) for in-flight messages, commits and leaves.
public final class RouteService: Service, Sendable {
    public let route: RouteConfiguration
    private let consumerConfiguration: KafkaConsumerConfiguration
    private let producer: KafkaProducer
    private let transform: @Sendable () -> any MessageTransform
    private let state: HubState
    private let logger: Logger
    private let drainTimeout: Duration
    private let tracker = OffsetTracker()
    private let limiter: InFlightLimiter
    private let metrics: RouteMetrics
    private let finished = Atomic<Int>(0)

    /// - Parameter transform: returns the transform to use for the next message (lets a reload swap it).
    public init(
        route: RouteConfiguration, consumer: KafkaConsumerConfiguration, producer: KafkaProducer,
        transform: @escaping @Sendable () -> any MessageTransform, state: HubState, logger: Logger,
        drainTimeout: Duration = .seconds(20)
    ) {
        self.route = route
        self.consumerConfiguration = consumer
        self.producer = producer
        self.transform = transform
        self.state = state
        var logger = logger
        logger[metadataKey: "route"] = "\(route.name)"
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.limiter = InFlightLimiter(limit: route.maxInFlight)
        self.metrics = RouteMetrics(route: route.name)
    }

    public func run() async throws {
        let tracker = self.tracker
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration, logger: logger,
            revocationHandler: { partitions in tracker.revoke(partitions) })
        let limiter = self.limiter
        let name = route.name
        state.register(route: name) {
            HubState.RouteHealth(
                name: name, running: true, joinedGroup: consumer.hasJoinedGroup, assignedPartitions: consumer.assignment.count,
                inFlight: limiter.inFlight, lastError: consumer.lastError)
        }
        defer { state.unregister(route: name) }
        logger.info("route started", metadata: ["from": "\(route.from)", "to": "\(route.to.topics)", "group": "\(consumerConfiguration.groupID)"])

        let committer = Task { [logger] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                await Self.commitFinished(tracker: tracker, consumer: consumer, logger: logger)
            }
        }

        for await message in consumer.cancelOnGracefulShutdown() {
            await limiter.acquire()
            tracker.track(message.topicPartition, offset: message.offset)
            metrics.consumed.increment()
            await process(message)
        }

        // Intake stopped (shutdown or a fatal consumer error): finish what is in flight, commit, leave the group.
        let inFlight = limiter.inFlight
        logger.info("route stopping: draining in-flight messages", metadata: ["inFlight": "\(inFlight)"])
        if await limiter.waitUntilIdle(timeout: drainTimeout) == false {
            logger.warning(
                "drain timed out; unfinished messages will be consumed again after restart",
                metadata: ["inFlight": "\(limiter.inFlight)"])
        }
        committer.cancel()
        await Self.commitFinished(tracker: tracker, consumer: consumer, logger: logger)
        await consumer.close()
        logger.info("route stopped")
        if let fatal = consumer.fatalError { throw fatal }
    }

    private static func commitFinished(tracker: OffsetTracker, consumer: KafkaConsumer, logger: Logger) async {
        let offsets = tracker.takeCommittable().filter { consumer.assignment.contains($0.topicPartition) }
        guard !offsets.isEmpty else { return }
        do {
            try await consumer.commit(offsets)
        } catch {
            // The offsets stay uncommitted; the next commit carries newer ones. At worst, messages are re-read.
            logger.warning("commit failed", metadata: ["error": "\(error)", "offsets": "\(offsets.map(\.description))"])
        }
    }

    private func process(_ message: ConsumerMessage) async {
        let transform = self.transform()
        switch transform.transform(message) {
        case .produce(let records):
            await produce(records, for: message, transform: transform)
        case .drop(let reason):
            metrics.dropped.increment()
            logger.debug("message dropped by mapping", metadata: Self.where(message).merging(["reason": "\(reason)"]) { $1 })
            finish(message)
        case .failure(let reason, let errorClass):
            fail(message, reason: reason, errorClass: errorClass)
        }
    }

    private func produce(_ records: [TransformedRecord], for message: ConsumerMessage, transform: any MessageTransform) async {
        guard !records.isEmpty else {
            finish(message)
            return
        }
        var outgoing: [ProducerMessage] = []
        for record in records {
            let topic: String
            switch route.to {
            case .topic(let single):
                topic = single
            case .byOutput(let topics):
                guard let output = record.output, let mapped = topics[output] else {
                    fail(
                        message, reason: "mapping output '\(record.output ?? "-")' has no topic in route '\(route.name)'",
                        errorClass: "configuration")
                    return
                }
                topic = mapped
            }
            var headers = record.headers.filter { ![EnvelopeHeader.id, EnvelopeHeader.origin, EnvelopeHeader.route].contains($0.key) }
            let id = records.count == 1 ? message.stableID : "\(message.stableID)/\(record.output ?? "\(outgoing.count)")"
            headers.append(KafkaHeader(key: EnvelopeHeader.id, text: id))
            headers.append(KafkaHeader(key: EnvelopeHeader.origin, text: "\(message.topic)/\(message.partition)/\(message.offset)"))
            headers.append(KafkaHeader(key: EnvelopeHeader.route, text: route.name))
            outgoing.append(ProducerMessage(topic: topic, key: record.key, value: record.value, headers: headers))
        }
        let pending = PendingRecords(count: outgoing.count)
        for record in outgoing {
            await enqueue(record, for: message, pending: pending)
        }
    }

    /// Enqueues one record; retries queue-full waits here and retriable delivery failures from the callback.
    private func enqueue(_ record: ProducerMessage, for message: ConsumerMessage, pending: PendingRecords, attempt: Int = 1) async {
        while true {
            do {
                try producer.enqueue(record) { [self] result in
                    self.delivered(result, record: record, for: message, pending: pending, attempt: attempt)
                }
                return
            } catch where error.isRetriable {
                try? await Task.sleep(for: .milliseconds(2))  // librdkafka's queue is full: let it drain
            } catch {
                permanentProduceFailure(error, record: record, for: message, pending: pending)
                return
            }
        }
    }

    /// Runs on the producer's poll thread.
    private func delivered(
        _ result: Result<DeliveryReport, KafkaError>, record: ProducerMessage, for message: ConsumerMessage,
        pending: PendingRecords, attempt: Int
    ) {
        switch result {
        case .success:
            metrics.produced.increment()
            if pending.recordFinished() { finish(message) }
        case .failure(let error) where error.isRetriable:
            metrics.produceRetries.increment()
            logger.warning(
                "produce not acknowledged; retrying",
                metadata: Self.where(message).merging(["error": "\(error)", "attempt": "\(attempt)", "topic": "\(record.topic)"]) { $1 })
            Task {
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(attempt, 6)), 5_000)))
                await self.enqueue(record, for: message, pending: pending, attempt: attempt + 1)
            }
        case .failure(let error):
            permanentProduceFailure(error, record: record, for: message, pending: pending)
        }
    }

    private func permanentProduceFailure(_ error: KafkaError, record: ProducerMessage, for message: ConsumerMessage, pending: PendingRecords) {
        // Until dead-letter topics exist, a record the broker refuses for good is logged, counted and skipped.
        metrics.failed.increment()
        logger.error(
            "produce failed permanently; record skipped",
            metadata: Self.where(message).merging(["error": "\(error)", "topic": "\(record.topic)", "bytes": "\(record.value.count)"]) { $1 })
        if pending.recordFinished() { finish(message) }
    }

    private func fail(_ message: ConsumerMessage, reason: String, errorClass: String) {
        metrics.failed.increment()
        logger.error(
            "message cannot be handled; skipped",
            metadata: Self.where(message).merging(["reason": "\(reason)", "errorClass": "\(errorClass)"]) { $1 })
        finish(message)
    }

    private func finish(_ message: ConsumerMessage) {
        tracker.finish(message.topicPartition, offset: message.offset)
        finished.add(1, ordering: .relaxed)
        limiter.release()
    }

    /// Messages this route finished (delivered, dropped or skipped) since it started.
    public var finishedMessages: Int { finished.load(ordering: .relaxed) }

    private static func `where`(_ message: ConsumerMessage) -> Logger.Metadata {
        ["topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)", "id": "\(message.stableID)"]
    }
}

/// Counts a source message's outstanding produced records.
final class PendingRecords: Sendable {
    private let remaining: Atomic<Int>

    init(count: Int) { remaining = Atomic(count) }

    /// Returns true for the call that finished the last record.
    func recordFinished() -> Bool {
        remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0
    }
}

/// The metrics one route reports (Prometheus names in parentheses).
struct RouteMetrics: Sendable {
    /// Messages consumed (`crmhub_route_messages_in_total{route}`).
    let consumed: Counter
    /// Records produced and acknowledged (`crmhub_route_messages_out_total{route}`).
    let produced: Counter
    /// Messages that failed and were skipped (`crmhub_route_messages_failed_total{route}`).
    let failed: Counter
    /// Messages a mapping dropped on purpose (`crmhub_route_messages_dropped_total{route}`).
    let dropped: Counter
    /// Produce attempts retried after a retriable failure (`crmhub_route_produce_retries_total{route}`).
    let produceRetries: Counter

    init(route: String) {
        let dimensions = [("route", route)]
        consumed = Counter(label: "crmhub_route_messages_in_total", dimensions: dimensions)
        produced = Counter(label: "crmhub_route_messages_out_total", dimensions: dimensions)
        failed = Counter(label: "crmhub_route_messages_failed_total", dimensions: dimensions)
        dropped = Counter(label: "crmhub_route_messages_dropped_total", dimensions: dimensions)
        produceRetries = Counter(label: "crmhub_route_produce_retries_total", dimensions: dimensions)
    }
}
