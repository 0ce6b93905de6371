import CRMKafka
import CRMMasterData
import CRMModel
import CRMStateStore
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Delivers a topic to a target system with crmhub's delivery rules:
///
/// - **At least once, committed in order.** An offset is committed only after its message was acknowledged by the
///   target, parked in a retry topic, or dead-lettered (each acknowledged by the broker first).
/// - **Retries.** A transient failure is retried in place (``RetryPolicy/inPlaceAttempts``, exponential backoff with
///   jitter, honouring Retry-After), then moves through the retry topics `retry.<sink>.<n>`, each consumed by its
///   own consumer that waits until a message is due; after the last tier, or on a permanent failure, the message
///   goes to the dead-letter topic with the reason in headers.
/// - **Per-key order under failure.** Messages of one key are delivered one after another. When a key's message
///   is parked in a retry topic, that key's later messages are parked behind it while other keys keep flowing; a
///   parked follower only moves when its head was delivered or dead-lettered, so the key's queue drains in order.
///   The queues live in Kafka, in the compacted topic `parked.<sink>` (see ``ParkedKeys``), not in one instance:
///   a consumer that is assigned a partition of the sink's topic (another instance left or joined, or this one
///   restarted) first reads that topic to its end, so a key parked by the partition's previous owner keeps its
///   later messages behind the parked one.
/// - **Idempotency.** The target gets the message id (`crm-id`) with every attempt; ids the target acknowledged are
///   remembered for ``Configuration/dedupWindow`` and a re-delivery of one is dropped and counted.
/// - **Conditions.** With ``Configuration/when`` only matching messages are delivered; the others are committed
///   without delivery and counted (`crmhub_sink_skipped_total`), unreadable ones are dead-lettered.
/// - **Consent.** With ``Configuration/purpose`` the sink serves a purpose (marketing…): a message whose customer has
///   not granted it on ``Configuration/consentChannel`` is committed without delivery and counted
///   (`crmhub_sink_suppressed_total{sink,reason="consent"}`); see ``ConsentGate``.
/// - **Erasure.** In a hub with master data, a message about an erased person (golden id, source record or key on
///   the erasure ledger) is committed without delivery and counted (`crmhub_sink_suppressed_total{sink,
///   reason="erased"}`), so nothing queued before an erasure recreates the person in a target; see ``ErasureGate``.
/// - **Bounded memory.** At most ``Configuration/maxInFlight`` messages are being delivered at once, the consumer
///   buffers at most its `bufferCapacity`, and partitions are not read further while both are full.
/// - **State writes before commits.** A message whose state (dedup window) cannot be written — the
///   state file's disk is full — stays in flight, its offset uncommitted, and the write is retried; meanwhile the sink
///   logs the file and the error (`ENOSPC`), reports itself stalled in `/readyz`, and takes no more work once its
///   in-flight limit is reached. It resumes on its own when the write succeeds.
public final class SinkService: Service, Sendable {
    /// A sink's delivery settings.
    public struct Configuration: Sendable, Hashable {
        /// Sink name (used in topic names, consumer groups, metrics and the state store).
        public var name: String
        /// The topic the sink delivers.
        public var topic: String
        public var retry: RetryPolicy
        /// Where failed messages go. Default `dlq.<name>`.
        public var deadLetterTopic: String
        /// Messages of different keys delivered concurrently. Default 64.
        public var maxInFlight: Int = 64
        /// How long delivered ids are remembered for deduplication. Default 7 days.
        public var dedupWindow: Duration = .seconds(7 * 24 * 3_600)
        /// Which messages to deliver (`when:`); others are skipped. Nil delivers every message.
        public var when: SinkCondition?
        /// The purpose the sink serves (`purpose:`, e.g. `marketing`); only customers who granted it get messages.
        /// Nil: no consent check.
        public var purpose: String?
        /// The channel whose consent counts (`consent_channel:`). Default `any`; the SMTP sink defaults to `email`.
        public var consentChannel: ConsentChannel = .any

        public init(
            name: String, topic: String, retry: RetryPolicy = RetryPolicy(), deadLetterTopic: String? = nil,
            maxInFlight: Int = 64
        ) {
            self.name = name
            self.topic = topic
            self.retry = retry
            self.deadLetterTopic = deadLetterTopic ?? "dlq.\(name)"
            self.maxInFlight = maxInFlight
        }

        /// The retry topics, one per ``RetryPolicy/retryTopicDelays`` entry.
        public var retryTopics: [String] { retry.retryTopicDelays.indices.map { "retry.\(name).\($0 + 1)" } }
        /// The compacted topic that holds the sink's parked keys (``ParkedKeys``); created by the sink if missing
        /// (with `kafka.create_topics: false` the hub's preflight asks for it instead).
        public var parkedTopic: String { "parked.\(name)" }
        /// Every topic the sink reads or writes, except ``parkedTopic``.
        public var topics: [String] { [topic, deadLetterTopic] + retryTopics }
    }

    public let configuration: Configuration
    private let consumerTemplate: KafkaConsumerConfiguration
    private let producer: KafkaProducer
    private let target: any SinkTarget
    private let store: DeliveryStateStore
    private let state: HubState
    private let logger: Logger
    private let parked: ParkedKeys
    private let metrics: SinkMetrics
    private let consent: ConsentGate?
    private let erasure: ErasureGate?
    /// Why the sink's state file cannot be written now (nil while it can); see ``writeState(_:id:_:)``.
    private let stateFailure = Mutex<String?>(nil)

    /// - Parameters:
    ///   - consumer: settings for the sink's consumers; group id and topics are set per tier.
    ///   - consent: the consent check, required when the configuration names a ``Configuration/purpose``.
    ///   - erasure: the erasure check (in a hub with master data): messages about erased people are not delivered.
    public init(
        configuration: Configuration, consumer: KafkaConsumerConfiguration, producer: KafkaProducer,
        target: any SinkTarget,
        store: DeliveryStateStore, state: HubState, logger: Logger, consent: ConsentGate? = nil,
        erasure: ErasureGate? = nil
    ) {
        self.consent = consent
        self.erasure = erasure
        self.configuration = configuration
        self.consumerTemplate = consumer
        for tier in [nil] + configuration.retryTopics.indices.map(Optional.some) {
            state.expect(.sink, name: Self.healthName(configuration.name, tier: tier))
        }
        self.producer = producer
        self.target = target
        self.store = store
        self.state = state
        var logger = logger
        logger[metadataKey: "sink"] = "\(configuration.name)"
        self.logger = logger
        self.metrics = SinkMetrics(sink: configuration.name)
        self.parked = ParkedKeys(topic: configuration.parkedTopic, client: consumer.client, logger: self.logger)
    }

    /// Messages the target acknowledged since start.
    public var deliveredCount: Int { metrics.deliveredCount.load(ordering: .relaxed) }
    /// Re-deliveries of already acknowledged ids that were dropped since start.
    public var duplicatesSuppressed: Int { metrics.duplicateCount.load(ordering: .relaxed) }
    /// Messages skipped because they did not match ``Configuration/when`` since start.
    public var skippedCount: Int { metrics.skippedCount.load(ordering: .relaxed) }
    /// Messages not delivered for want of consent, or because they are about an erased person, since start.
    public var suppressedCount: Int { metrics.suppressedCount.load(ordering: .relaxed) }

    public func run() async throws {
        try await openParkedKeys()
        let tail = Task { await parked.tail() }
        defer { tail.cancel() }
        guard await parked.catchUp() else { return }
        if parked.count > 0 {
            logger.info("parked keys read", metadata: ["topic": "\(parked.topic)", "messages": "\(parked.count)"])
        }
        _ = try? await store.pruneDelivered(
            sink: configuration.name, olderThan: Date().addingTimeInterval(-configuration.dedupWindow.seconds))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.runTier(nil) }
            for tier in configuration.retryTopics.indices {
                group.addTask { try await self.runTier(tier) }
            }
        }
    }

    /// Opens ``ParkedKeys`` (creating its topic with as many partitions as the sink's topic), retrying while the
    /// broker cannot answer; gives up only on shutdown.
    private func openParkedKeys() async throws {
        var attempt = 0
        while true {
            do {
                let reader = try KafkaPartitionReader(configuration: consumerTemplate.client, logger: logger)
                let partitions = try await reader.partitionCounts([configuration.topic])[configuration.topic] ?? 1
                try await parked.open(partitions: partitions)
                return
            } catch {
                attempt += 1
                logger.warning(
                    "cannot open the parked keys; retrying",
                    metadata: ["topic": "\(configuration.parkedTopic)", "error": "\(error)", "attempt": "\(attempt)"])
                if Task.isCancelled || Task.isShuttingDownGracefully { throw error }
                try? await Task.sleep(for: .milliseconds(min(200 * (1 << min(attempt, 4)), 3_000)))
            }
        }
    }

    // MARK: - Consuming a tier

    /// The name a tier's consumer has in `/readyz`: `erp-party/main`, `erp-party/retry1`.
    static func healthName(_ sink: String, tier: Int?) -> String {
        "\(sink)/\(tier.map { "retry\($0 + 1)" } ?? "main")"
    }

    /// Consumes the sink's topic (`tier == nil`, keys in parallel) or one retry topic (in order, waiting until due).
    private func runTier(_ tier: Int?) async throws {
        let topic = tier.map { configuration.retryTopics[$0] } ?? configuration.topic
        var consumerConfiguration = consumerTemplate
        consumerConfiguration.groupID = "\(consumerTemplate.groupID).\(tier.map { "retry\($0 + 1)" } ?? "main")"
        consumerConfiguration.topics = [topic]
        consumerConfiguration.bufferCapacity = max(configuration.maxInFlight, 16)
        let tracker = OffsetTracker()
        // Partitions of the sink's topic whose parked keys were read since they were assigned (see `handleNew`).
        let caughtUp = Mutex<(partitions: Set<TopicPartition>, generation: Int)>(([], 0))
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration, logger: logger,
            revocationHandler: { revoked in
                caughtUp.withLock {
                    $0.partitions.subtract(revoked)
                    $0.generation += 1
                }
                return tracker.revoke(revoked)
            })
        let limiter = InFlightLimiter(limit: tier == nil ? configuration.maxInFlight : 1)
        let healthName = Self.healthName(configuration.name, tier: tier)
        state.register(.sink, name: healthName) {
            HubState.ComponentHealth(
                kind: .sink, name: healthName, running: true, joinedGroup: consumer.hasJoinedGroup,
                assignedPartitions: consumer.assignment.count,
                inFlight: limiter.inFlight, lastError: consumer.lastError,
                stalled: self.stateFailure.withLock { $0 })
        }
        defer { state.unregister(.sink, name: healthName, error: consumer.lastError) }
        let committer = OffsetCommitter(tracker: tracker, consumer: consumer, logger: logger)
        let lanes = KeyLanes()
        for await message in consumer.cancelOnGracefulShutdown() {
            await limiter.acquire()
            tracker.track(message.topicPartition, offset: message.offset)
            if tier == nil, !caughtUp.withLock({ $0.partitions.contains(message.topicPartition) }) {
                // A partition new to this consumer: its previous owner may have parked keys. Read the parked keys
                // to the end before delivering any of its messages.
                let generation = caughtUp.withLock { $0.generation }
                let assigned = consumer.assignment
                guard await parked.catchUp() else {
                    limiter.release()  // not finished: its offset stays uncommitted
                    continue
                }
                caughtUp.withLock {
                    if $0.generation == generation { $0.partitions.formUnion(assigned) }
                    $0.partitions.insert(message.topicPartition)
                }
            }
            let done: @Sendable () -> Void = {
                tracker.finish(message.topicPartition, offset: message.offset)
                limiter.release()
            }
            if let tier {
                if await handleRetry(message, tier: tier) {
                    done()
                } else {
                    limiter.release()  // unfinished: its offset stays uncommitted
                }
            } else {
                await lanes.submit(lane: Self.lane(of: message)) {
                    await self.handleNew(message)
                    done()
                }
            }
        }
        if await limiter.waitUntilIdle(timeout: .seconds(20)) == false {
            logger.warning(
                "drain timed out; unfinished messages will be delivered again after restart",
                metadata: ["inFlight": "\(limiter.inFlight)"])
        }
        await committer.stop()
        await consumer.close()
        if let fatal = consumer.fatalError { throw fatal }
    }

    /// Messages with a key share a lane (delivered in order); keyless messages each get their own.
    private static func lane(of message: ConsumerMessage) -> String {
        message.keyText.map { "k:\($0)" } ?? "id:\(message.stableID)"
    }

    // MARK: - Decisions

    /// A message read from the sink's topic.
    private func handleNew(_ message: ConsumerMessage) async {
        let id = message.stableID
        let lane = Self.lane(of: message)
        if let when = configuration.when {
            switch when.decide(message.value) {
            case .deliver:
                break
            case .skip:
                metrics.recordSkipped()
                logger.debug("message does not match the sink's when:; skipped", metadata: Self.where(message))
                return
            case .reject(let reason):
                await deadLetter(message, reason: reason, errorClass: "condition", attempts: 0)
                return
            }
        }
        if await alreadyDelivered(id) {
            metrics.recordDuplicate()
            logger.info("duplicate of an acknowledged message dropped", metadata: Self.where(message))
            return
        }
        if let head = parked.entries(lane: lane).first {
            metrics.parkedBehind.increment()
            logger.info(
                "key has a parked message; parked behind it",
                metadata: Self.where(message).merging(["head": "\(head.id)"]) { $1 })
            await park(
                message, lane: lane, tier: head.tier, due: Date(), reason: "waiting behind \(head.id)", attempts: 0)
            return
        }
        guard await isNotErased(message, lane: lane, tier: nil) else { return }
        guard await passesConsent(message, lane: lane, tier: nil) else { return }
        let (outcome, attempts) = await deliverInPlace(message, previousAttempts: 0)
        await settle(message, lane: lane, outcome: outcome, attempts: attempts, tier: nil)
    }

    /// A message read from retry topic `tier`. Returns false when it was left unfinished (shutdown came while it
    /// waited for its due time): its offset must then stay uncommitted, so it is read again.
    private func handleRetry(_ message: ConsumerMessage, tier: Int) async -> Bool {
        let id = message.stableID
        let lane = Self.lane(of: message)
        if let due = message.headers.text(RetryHeader.dueAt).flatMap(Double.init) {
            let wait = due / 1_000 - Date().timeIntervalSince1970
            if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
        }
        if Task.isShuttingDownGracefully || Task.isCancelled {
            return false  // not finished: its offset stays uncommitted and it is read again after restart
        }
        if await alreadyDelivered(id) {
            metrics.recordDuplicate()
            await unpark(message, lane: lane)
            return true
        }
        var entries = parked.entries(lane: lane)
        if !entries.contains(where: { $0.id == id }), await parked.catchUp() {
            // Parked by another instance after this one last read the parked keys.
            entries = parked.entries(lane: lane)
        }
        let position = entries.firstIndex(where: { $0.id == id })
        if position == nil {
            // Not in the parked state (the state file was lost, or this is a copy of a dead-lettered record):
            // deliver it rather than risk losing it.
            logger.warning("retry record not in the parked state; delivering it", metadata: Self.where(message))
        }
        if let position, position > 0 {
            // A follower: it moves only behind its head. If the head went to a later tier, follow it there;
            // otherwise requeue at the end of this tier so the head is delivered first.
            let head = entries[0]
            let nextTier = head.tier > tier ? head.tier : tier
            await park(
                message, lane: lane, tier: nextTier, due: Date().addingTimeInterval(head.tier > tier ? 0 : 1),
                reason: "waiting behind \(head.id)", attempts: Self.attempts(message))
            return true
        }
        guard await isNotErased(message, lane: lane, tier: tier) else { return true }
        guard await passesConsent(message, lane: lane, tier: tier) else { return true }
        let (outcome, attempts) = await deliverInPlace(message, previousAttempts: Self.attempts(message))
        await settle(message, lane: lane, outcome: outcome, attempts: attempts, tier: tier)
        return true
    }

    /// Whether the message's customer consented to the sink's purpose (always, without a ``ConsentGate``). A
    /// message without consent is settled here: counted, logged without personal data (the key's fingerprint and
    /// the offset only) and, read from a retry topic, unparked; consent that cannot be read is a transient failure.
    private func passesConsent(_ message: ConsumerMessage, lane: String, tier: Int?) async -> Bool {
        guard let consent else { return true }
        switch await consent.check(headers: message.headers, value: message.value) {
        case .deliver:
            return true
        case .suppress(let reason):
            metrics.recordSuppressed(reason: .consent)
            var metadata: Logger.Metadata = [
                "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
                "purpose": "\(consent.purpose)", "channel": "\(consent.channel.rawValue)", "consent": "\(reason)",
            ]
            if let key = message.key { metadata["keyFingerprint"] = "\(Self.fingerprint(key))" }
            logger.info("no consent for the sink's purpose; not delivered", metadata: metadata)
            if tier != nil { await unpark(message, lane: lane) }
            return false
        case .undecidable(let reason):
            await settle(
                message, lane: lane, outcome: .transient(reason: reason), attempts: Self.attempts(message), tier: tier)
            return false
        }
    }

    /// Whether the message is not about an erased person (always, without an ``ErasureGate``). A message about an
    /// erased person is settled here like one without consent: counted, logged without personal data and, read
    /// from a retry topic, unparked.
    private func isNotErased(_ message: ConsumerMessage, lane: String, tier: Int?) async -> Bool {
        guard let erasure, await erasure.isErased(message) else { return true }
        metrics.recordSuppressed(reason: .erased)
        var metadata: Logger.Metadata = [
            "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        if let key = message.key { metadata["keyFingerprint"] = "\(Self.fingerprint(key))" }
        logger.info("message about an erased person; not delivered", metadata: metadata)
        if tier != nil { await unpark(message, lane: lane) }
        return false
    }

    /// A short, stable fingerprint of a message key (FNV-1a, hex) that identifies it in logs without showing it.
    static func fingerprint(_ key: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Acts on a delivery outcome of a message read from the topic (`tier == nil`) or a retry topic.
    private func settle(_ message: ConsumerMessage, lane: String, outcome: SinkOutcome, attempts: Int, tier: Int?) async
    {
        let id = message.stableID
        switch outcome {
        case .delivered:
            metrics.recordDelivered()
            await writeState("record the delivery for deduplication", id: id) {
                try await self.store.markDelivered(sink: self.configuration.name, id: id)
            }
            if tier != nil { await unpark(message, lane: lane) }
        case .permanent(let reason):
            await deadLetter(message, reason: reason, errorClass: "target-permanent", attempts: attempts)
            if tier != nil { await unpark(message, lane: lane) }
        case .transient(let reason, _):
            let nextTier = (tier ?? -1) + 1
            if nextTier < configuration.retryTopics.count {
                metrics.parked.increment()
                let delay = configuration.retry.retryTopicDelays[nextTier]
                logger.warning(
                    "delivery failed; parked in a retry topic",
                    metadata: Self.where(message).merging(
                        [
                            "reason": "\(reason)", "attempts": "\(attempts)",
                            "retryTopic": "\(configuration.retryTopics[nextTier])", "delay": "\(delay)",
                        ]) { $1 })
                await park(
                    message, lane: lane, tier: nextTier, due: Date().addingTimeInterval(delay.seconds), reason: reason,
                    attempts: attempts)
            } else {
                await deadLetter(
                    message, reason: "still failing after every retry: \(reason)", errorClass: "target-transient",
                    attempts: attempts)
                if tier != nil { await unpark(message, lane: lane) }
            }
        }
    }

    /// Delivers with in-place retries. Returns the last outcome and the total attempts so far.
    private func deliverInPlace(_ message: ConsumerMessage, previousAttempts: Int) async -> (SinkOutcome, Int) {
        var attempts = previousAttempts
        var random = SystemRandomNumberGenerator()
        for inPlace in 1...configuration.retry.inPlaceAttempts {
            let sinkMessage = SinkMessage(
                id: message.stableID, key: message.keyText, value: message.value, headers: message.headers,
                previousAttempts: attempts)
            attempts += 1
            let outcome = await target.deliver(sinkMessage)
            guard case .transient(let reason, let retryAfter) = outcome else { return (outcome, attempts) }
            metrics.transientFailures.increment()
            if inPlace == configuration.retry.inPlaceAttempts || Task.isShuttingDownGracefully {
                return (outcome, attempts)
            }
            var wait = configuration.retry.jitteredBackoff(afterAttempt: inPlace, using: &random)
            if let retryAfter {
                let cap = configuration.retry.retryTopicDelays.first ?? configuration.retry.maxBackoff
                // The target asks for more than in-place waits allow.
                if retryAfter > cap { return (outcome, attempts) }
                wait = max(wait, retryAfter)
            }
            logger.debug(
                "delivery failed; retrying in place",
                metadata: Self.where(message).merging(["reason": "\(reason)", "wait": "\(wait)"]) { $1 })
            try? await Task.sleep(for: wait)
        }
        return (.transient(reason: "no attempt made"), attempts)
    }

    // MARK: - Effects (each acknowledged by the broker before the offset moves)

    /// Parks `message` in retry topic `tier`. Its marker in ``ParkedKeys`` is acknowledged by the broker before the
    /// record is produced, so whichever instance reads the record (or takes the key's partition over) finds it
    /// parked. A key's queue is ordered by the messages' offsets in the sink's topic, carried in
    /// ``RetryHeader/sourceOffset``.
    private func park(
        _ message: ConsumerMessage, lane: String, tier: Int, due: Date, reason: String, attempts: Int
    ) async {
        let order =
            message.headers.text(RetryHeader.sourceOffset).flatMap(Int64.init)
            ?? parked.entries(lane: lane).first(where: { $0.id == message.stableID })?.order
            ?? message.offset
        await sendUntilAcknowledged(
            parked.park(lane: lane, .init(id: message.stableID, tier: tier, order: order)), for: message)
        var headers = message.headers.filter { !RetryHeader.all.contains($0.key) && $0.key != EnvelopeHeader.id }
        headers.append(KafkaHeader(key: EnvelopeHeader.id, text: message.stableID))
        headers.append(KafkaHeader(key: RetryHeader.tier, text: String(tier + 1)))
        headers.append(KafkaHeader(key: RetryHeader.dueAt, text: String(Int64(due.timeIntervalSince1970 * 1_000))))
        headers.append(KafkaHeader(key: RetryHeader.attempts, text: String(attempts)))
        headers.append(KafkaHeader(key: RetryHeader.sourceOffset, text: String(order)))
        headers.append(KafkaHeader(key: RetryHeader.reason, text: reason))
        headers.append(
            KafkaHeader(
                key: RetryHeader.firstFailureAt,
                text: message.headers.text(RetryHeader.firstFailureAt) ?? DeadLetterClock.format(Date())))
        let record = ProducerMessage(
            topic: configuration.retryTopics[tier], key: message.key, value: message.value, headers: headers)
        await sendUntilAcknowledged(record, for: message)
    }

    /// Removes `message` from its key's queue: its tombstone in ``ParkedKeys`` is acknowledged before the message
    /// counts as finished.
    private func unpark(_ message: ConsumerMessage, lane: String) async {
        await sendUntilAcknowledged(parked.unpark(lane: lane, id: message.stableID), for: message)
    }

    private func deadLetter(_ message: ConsumerMessage, reason: String, errorClass: String, attempts: Int) async {
        metrics.deadLettered.increment()
        logger.error(
            "message sent to the dead-letter topic",
            metadata: Self.where(message).merging(
                [
                    "reason": "\(reason)", "errorClass": "\(errorClass)", "attempts": "\(attempts)",
                    "deadLetterTopic": "\(configuration.deadLetterTopic)",
                ]) { $1 })
        var record = DeadLetter.record(
            for: message, failure: DeliveryFailure(reason: reason, errorClass: errorClass), route: configuration.name,
            mappingVersion: nil,
            topic: configuration.deadLetterTopic, attempts: attempts)
        record.headers.removeAll { RetryHeader.all.contains($0.key) && $0.key != RetryHeader.firstFailureAt }
        await sendUntilAcknowledged(record, for: message)
    }

    /// Sends until the broker acknowledges; never gives up (a message is never dropped), backing off up to 5 s.
    private func sendUntilAcknowledged(_ record: ProducerMessage, for message: ConsumerMessage) async {
        var attempt = 0
        while true {
            attempt += 1
            do {
                _ = try await producer.send(record)
                return
            } catch {
                logger.error(
                    "cannot write to \(record.topic); retrying",
                    metadata: Self.where(message).merging(["error": "\(error)", "attempt": "\(attempt)"]) { $1 })
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(attempt, 6)), 5_000)))
            }
        }
    }

    /// Writes the sink's state, retrying until the write succeeds: the message stays in flight meanwhile (its offset
    /// is not committed), so a full disk stops the sink from taking more work instead of losing track of a message.
    /// The first failure is logged with the file and the error, `/readyz` shows the sink stalled until a write
    /// succeeds again. During shutdown it gives up after one failed attempt (the message then counts as finished: its
    /// delivery, park or dead letter already happened; only the state lags), and on cancellation.
    private func writeState(_ what: String, id: String, _ write: @Sendable () async throws -> Void) async {
        var attempt = 0
        while true {
            do {
                try await write()
                if attempt > 0 {
                    stateFailure.withLock { $0 = nil }
                    logger.notice(
                        "state file writable again; taking work",
                        metadata: ["path": "\(store.path ?? "-")", "id": "\(id)"])
                }
                return
            } catch {
                attempt += 1
                let failure = StateDatabase.describeWriteFailure(error, path: store.path)
                stateFailure.withLock { $0 = "cannot \(what): \(failure)" }
                if attempt == 1 {
                    logger.error(
                        "cannot write the sink's state file; holding the message and taking no more work until it can",
                        metadata: [
                            "path": "\(store.path ?? "-")", "error": "\(failure)", "write": "\(what)", "id": "\(id)",
                        ])
                }
                if Task.isCancelled || Task.isShuttingDownGracefully {
                    logger.warning(
                        "shutting down with the state file not written", metadata: ["write": "\(what)", "id": "\(id)"])
                    return
                }
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(attempt, 5)), 2_000)))
            }
        }
    }

    private func alreadyDelivered(_ id: String) async -> Bool {
        do {
            return try await store.wasDelivered(sink: configuration.name, id: id)
        } catch {
            logger.error(
                "cannot read the dedup window; delivering (at least once)",
                metadata: ["error": "\(error)", "id": "\(id)"])
            return false
        }
    }

    private static func attempts(_ message: ConsumerMessage) -> Int {
        message.headers.text(RetryHeader.attempts).flatMap(Int.init) ?? 0
    }

    private static func `where`(_ message: ConsumerMessage) -> Logger.Metadata {
        [
            "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
            "id": "\(message.stableID)",
        ]
    }
}

/// Headers on records in a sink's retry topics.
public enum RetryHeader {
    /// The retry tier (1-based).
    public static let tier = "crm-retry-tier"
    /// When the record is due (milliseconds since 1970, UTC).
    public static let dueAt = "crm-retry-due-at"
    /// Delivery attempts so far.
    public static let attempts = "crm-retry-attempts"
    /// Why it was parked.
    public static let reason = "crm-retry-reason"
    /// When delivery first failed (ISO 8601).
    public static let firstFailureAt = "crm-retry-first-failure-at"
    /// The message's offset in the sink's topic: orders a key's parked messages.
    public static let sourceOffset = "crm-retry-source-offset"

    static let all: Set<String> = [tier, dueAt, attempts, reason, firstFailureAt, sourceOffset]
}

/// Runs work one after another per lane, lanes in parallel.
final class KeyLanes: Sendable {
    private let tails = Mutex<[String: Task<Void, Never>]>([:])

    /// Starts `work` after the lane's previous work; returns at once.
    func submit(lane: String, _ work: @escaping @Sendable () async -> Void) async {
        tails.withLock { tails in
            let previous = tails[lane]
            let task = Task {
                await previous?.value
                await work()
            }
            tails[lane] = task
            Task { [weak self] in
                await task.value
                self?.tails.withLock { if $0[lane] == task { $0[lane] = nil } }
            }
        }
    }
}

/// The metrics one sink reports.
final class SinkMetrics: Sendable {
    let delivered: Counter
    let deliveredCount = Atomic<Int>(0)
    let transientFailures: Counter
    let parked: Counter
    let parkedBehind: Counter
    let deadLettered: Counter
    let duplicates: Counter
    let duplicateCount = Atomic<Int>(0)
    let skipped: Counter
    let skippedCount = Atomic<Int>(0)
    /// Why a message was suppressed (the `reason` label of `crmhub_sink_suppressed_total`).
    enum SuppressionReason: String {
        case consent, erased
    }
    let suppressedForConsent: Counter
    let suppressedErased: Counter
    let suppressedCount = Atomic<Int>(0)

    init(sink: String) {
        let dimensions = [("sink", sink)]
        delivered = Counter(label: "crmhub_sink_delivered_total", dimensions: dimensions)
        transientFailures = Counter(label: "crmhub_sink_transient_failures_total", dimensions: dimensions)
        parked = Counter(label: "crmhub_sink_parked_total", dimensions: dimensions)
        parkedBehind = Counter(label: "crmhub_sink_parked_behind_key_total", dimensions: dimensions)
        deadLettered = Counter(label: "crmhub_sink_dead_lettered_total", dimensions: dimensions)
        duplicates = Counter(label: "crmhub_sink_duplicates_suppressed_total", dimensions: dimensions)
        skipped = Counter(label: "crmhub_sink_skipped_total", dimensions: dimensions)
        suppressedForConsent = Counter(
            label: "crmhub_sink_suppressed_total", dimensions: [("sink", sink), ("reason", "consent")])
        suppressedErased = Counter(
            label: "crmhub_sink_suppressed_total", dimensions: [("sink", sink), ("reason", "erased")])
    }

    func recordSuppressed(reason: SuppressionReason) {
        switch reason {
        case .consent: suppressedForConsent.increment()
        case .erased: suppressedErased.increment()
        }
        suppressedCount.add(1, ordering: .relaxed)
    }

    func recordSkipped() {
        skipped.increment()
        skippedCount.add(1, ordering: .relaxed)
    }

    func recordDelivered() {
        delivered.increment()
        deliveredCount.add(1, ordering: .relaxed)
    }

    func recordDuplicate() {
        duplicates.increment()
        duplicateCount.add(1, ordering: .relaxed)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
