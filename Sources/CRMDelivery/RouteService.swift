import CRMKafka
import CRMModel
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs one route as a service: consume `from` in the consumer group `<prefix>.<route>`, transform each message,
/// produce the results, and commit the source offset only after every produced message was acknowledged.
///
/// A message the route cannot handle (the transform fails, or the broker refuses an output record for good) goes to
/// the route's dead-letter topic with its original bytes and the reason in headers (see ``DeadLetterHeader``); it
/// is finished only when that record is acknowledged, so the route keeps running and nothing is lost.
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

    /// - Parameter transform: returns the transform to use for the next consumed batch (lets a reload swap it).
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
                name: name, running: true, joinedGroup: consumer.hasJoinedGroup,
                assignedPartitions: consumer.assignment.count,
                inFlight: limiter.inFlight, lastError: consumer.lastError)
        }
        defer { state.unregister(route: name) }
        logger.info(
            "route started",
            metadata: [
                "from": "\(route.from)", "to": "\(route.to.topics)", "group": "\(consumerConfiguration.groupID)",
            ])

        let committer = OffsetCommitter(tracker: tracker, consumer: consumer, logger: logger)

        // Batches as librdkafka delivered them: one trip through the graceful-shutdown wrapper per batch, not per
        // message. A message whose partition was revoked meanwhile is skipped (its new owner reads it).
        // One transform per batch (a reload applies from the next). A stateless one runs for the whole batch first, on
        // several tasks; a stateful one message by message, each after the message took its in-flight slot. Either
        // way records are produced in the batch's order.
        for await batch in consumer.batches.cancelOnGracefulShutdown() {
            metrics.consumed.increment(by: batch.count)
            let transform = self.transform()
            let version = transform.version
            let steps = await route.steps(for: batch, using: transform)
            for (index, message) in batch.enumerated() {
                await limiter.acquire()
                guard consumer.isAssigned(message.topicPartition) else {
                    limiter.release()
                    continue
                }
                tracker.track(message.topicPartition, offset: message.offset)
                let step = if let steps { steps[index] } else { await route.step(for: message, using: transform) }
                await perform(step, for: message, version: version)
            }
        }

        // Intake stopped (shutdown or a fatal consumer error): finish what is in flight, commit, leave the group.
        let inFlight = limiter.inFlight
        logger.info("route stopping: draining in-flight messages", metadata: ["inFlight": "\(inFlight)"])
        if await limiter.waitUntilIdle(timeout: drainTimeout) == false {
            logger.warning(
                "drain timed out; unfinished messages will be consumed again after restart",
                metadata: ["inFlight": "\(limiter.inFlight)"])
        }
        await committer.stop()
        await consumer.close()
        logger.info("route stopped")
        if let fatal = consumer.fatalError { throw fatal }
    }

    /// Carries out `step` for a message that holds an in-flight slot; the slot is released when it is finished.
    private func perform(_ step: RouteStep, for message: ConsumerMessage, version: String?) async {
        switch step {
        case .produce(let outgoing):
            guard !outgoing.isEmpty else { return finish(message) }
            let pending = PendingRecords(outgoing, for: message, route: self, version: version)
            for index in outgoing.indices {
                await enqueue(record: index, of: pending)
            }
        case .drop(let reason):
            metrics.dropped.increment()
            logger.debug(
                "message dropped by mapping", metadata: Self.where(message).merging(["reason": "\(reason)"]) { $1 })
            finish(message)
        case .deadLetter(let failure):
            await deadLetter(message, failure: failure, version: version)
        }
    }

    /// Sends the original message to the route's dead-letter topic; the message is finished (its offset may be
    /// committed) only once the broker acknowledged the dead-letter record.
    private func deadLetter(_ message: ConsumerMessage, failure: DeliveryFailure, version: String?) async {
        logger.error(
            "message cannot be handled; sent to the dead-letter topic",
            metadata: Self.where(message).merging(
                [
                    "reason": "\(failure.reason)", "errorClass": "\(failure.errorClass)",
                    "deadLetterTopic": "\(route.deadLetterTopic)",
                ]) { $1 })
        let record = DeadLetter.record(
            for: message, failure: failure, route: route.name, mappingVersion: version, topic: route.deadLetterTopic)
        await enqueue(
            record: 0, of: PendingRecords([record], for: message, route: self, version: version, deadLetter: failure))
    }

    /// Enqueues record `index` of `pending`; retries queue-full waits here and retriable delivery failures from the
    /// delivery report. A first attempt reports to `pending` (no closure per record); a retry to a closure that knows
    /// its attempt.
    private func enqueue(record index: Int, of pending: PendingRecords, attempt: Int = 1) async {
        let record = pending.records[index]
        while true {
            do {
                if attempt == 1 {
                    try producer.enqueue(record, tag: index, to: pending)
                } else {
                    try producer.enqueue(record) { [self] result in
                        self.delivered(result, record: index, of: pending, attempt: attempt)
                    }
                }
                return
            } catch  where error.isRetriable {
                try? await Task.sleep(for: .milliseconds(2))  // librdkafka's queue is full: let it drain
            } catch {
                refused(error, record: index, of: pending, attempt: attempt)
                return
            }
        }
    }

    /// Runs on the producer's poll thread.
    fileprivate func delivered(
        _ result: Result<DeliveryReport, KafkaError>, record index: Int, of pending: PendingRecords, attempt: Int
    ) {
        let (record, message) = (pending.records[index], pending.message)
        switch result {
        case .success:
            if let failure = pending.deadLetter {
                metrics.deadLettered.increment()
                logger.info(
                    "dead-letter record acknowledged",
                    metadata: Self.where(message).merging([
                        "deadLetterTopic": "\(record.topic)", "errorClass": "\(failure.errorClass)",
                    ]) { $1 })
            } else {
                metrics.produced.increment()
            }
            recordFinished(pending, for: message)
        case .failure(let error) where error.isRetriable:
            metrics.produceRetries.increment()
            logger.warning(
                "produce not acknowledged; retrying",
                metadata: Self.where(message).merging([
                    "error": "\(error)", "attempt": "\(attempt)", "topic": "\(record.topic)",
                ]) { $1 })
            retryLater(record: index, of: pending, attempt: attempt)
        case .failure(let error):
            refused(error, record: index, of: pending, attempt: attempt)
        }
    }

    /// The broker refused a record for good (too large, not authorised...). An output record's source message
    /// goes to the dead-letter topic; a refused dead-letter record is retried with backoff, never dropped, so the
    /// partition stops advancing and the `crmhub_route_dead_letter_stuck` log and metric call for a person.
    private func refused(_ error: KafkaError, record index: Int, of pending: PendingRecords, attempt: Int) {
        let (record, message) = (pending.records[index], pending.message)
        if pending.deadLetter != nil {
            metrics.deadLetterStuck.increment()
            logger.critical(
                "the dead-letter topic refused a record; retrying, the partition does not advance until it is accepted",
                metadata: Self.where(message).merging([
                    "error": "\(error)", "topic": "\(record.topic)", "bytes": "\(record.value.count)",
                ]) { $1 })
            retryLater(record: index, of: pending, attempt: attempt)
            return
        }
        metrics.failed.increment()
        let failure = DeliveryFailure(
            reason: "the broker refused the record for \(record.topic) (\(record.value.count) bytes): \(error.reason)",
            errorClass: "produce")
        pending.recordFailed(failure)
        recordFinished(pending, for: message)
    }

    /// Waits before a record the producer's queue refused is enqueued again: 100 ms doubling to 5 s.
    static let requeueBackoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))

    private func retryLater(record index: Int, of pending: PendingRecords, attempt: Int) {
        Task {
            try? await Task.sleep(for: Self.requeueBackoff.delay(afterAttempt: attempt + 1))
            await self.enqueue(record: index, of: pending, attempt: attempt + 1)
        }
    }

    /// Called once per record; the last one finishes the message, or dead-letters it if any record was refused.
    private func recordFinished(_ pending: PendingRecords, for message: ConsumerMessage) {
        guard let outcome = pending.recordFinished() else { return }
        switch outcome {
        case .finished:
            finish(message)
        case .failed(let failure):
            Task { await self.deadLetter(message, failure: failure, version: pending.version) }
        }
    }

    private func finish(_ message: ConsumerMessage) {
        tracker.finish(message.topicPartition, offset: message.offset)
        finished.add(1, ordering: .relaxed)
        limiter.release()
    }

    /// Messages this route finished (delivered, dropped or skipped) since it started.
    public var finishedMessages: Int { finished.load(ordering: .relaxed) }

    private static func `where`(_ message: ConsumerMessage) -> Logger.Metadata {
        [
            "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
            "id": "\(message.stableID)",
        ]
    }
}

/// The records produced for one source message: counts those outstanding, remembers the first refused one, and
/// receives their first attempts' delivery reports (tag: the record's index) for the route.
final class PendingRecords: DeliveryReceiver {
    enum Outcome {
        case finished
        case failed(DeliveryFailure)
    }

    private struct State {
        var remaining: Int
        var failure: DeliveryFailure?
    }

    private let state: Mutex<State>
    /// The transform version that produced the records.
    let version: String?
    /// Set when these records are the dead-letter record for `failure`.
    let deadLetter: DeliveryFailure?

    /// The records, in the order they were produced.
    let records: [ProducerMessage]
    /// The consumed message they were made from.
    let message: ConsumerMessage
    private let route: RouteService

    init(
        _ records: [ProducerMessage], for message: ConsumerMessage, route: RouteService, version: String?,
        deadLetter: DeliveryFailure? = nil
    ) {
        state = Mutex(State(remaining: records.count))
        self.records = records
        self.message = message
        self.route = route
        self.version = version
        self.deadLetter = deadLetter
    }

    func delivered(tag index: Int, _ result: Result<DeliveryReport, KafkaError>) {
        route.delivered(result, record: index, of: self, attempt: 1)
    }

    func recordFailed(_ failure: DeliveryFailure) {
        state.withLock { if $0.failure == nil { $0.failure = failure } }
    }

    /// Returns the outcome for the call that finished the last record, nil before.
    func recordFinished() -> Outcome? {
        state.withLock { state -> Outcome? in
            state.remaining -= 1
            guard state.remaining == 0 else { return nil }
            return state.failure.map(Outcome.failed) ?? .finished
        }
    }
}

/// The metrics one route reports (Prometheus names in parentheses).
struct RouteMetrics: Sendable {
    /// Messages consumed (`crmhub_route_messages_in_total{route}`).
    let consumed: Counter
    /// Records produced and acknowledged (`crmhub_route_messages_out_total{route}`).
    let produced: Counter
    /// Records the broker refused for good (`crmhub_route_messages_failed_total{route}`).
    let failed: Counter
    /// Messages sent to the dead-letter topic and acknowledged there (`crmhub_route_dead_lettered_total{route}`).
    let deadLettered: Counter
    /// Dead-letter records the broker refused; each needs a person (`crmhub_route_dead_letter_stuck_total{route}`).
    let deadLetterStuck: Counter
    /// Messages a mapping dropped on purpose (`crmhub_route_messages_dropped_total{route}`).
    let dropped: Counter
    /// Produce attempts retried after a retriable failure (`crmhub_route_produce_retries_total{route}`).
    let produceRetries: Counter

    init(route: String) {
        let dimensions = [("route", route)]
        consumed = Counter(label: "crmhub_route_messages_in_total", dimensions: dimensions)
        produced = Counter(label: "crmhub_route_messages_out_total", dimensions: dimensions)
        failed = Counter(label: "crmhub_route_messages_failed_total", dimensions: dimensions)
        deadLettered = Counter(label: "crmhub_route_dead_lettered_total", dimensions: dimensions)
        deadLetterStuck = Counter(label: "crmhub_route_dead_letter_stuck_total", dimensions: dimensions)
        dropped = Counter(label: "crmhub_route_messages_dropped_total", dimensions: dimensions)
        produceRetries = Counter(label: "crmhub_route_produce_retries_total", dimensions: dimensions)
    }
}
