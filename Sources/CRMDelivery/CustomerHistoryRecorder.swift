import CRMKafka
import CRMMasterData
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Follows the history topics (`store.history_topics`) and keeps the master data's contact history: each message
/// becomes a ``TimelineEntry`` (or, on a consent topic, ``Consent`` statements) on the golden customer it is about —
/// by its `crm-golden-id` header or `goldenId` field, else through the resolver's look-ups by source record, e-mail
/// or phone (``CustomerReference``). Entries are unique per (source, ref), so a redelivered message adds nothing.
///
/// A message no golden customer can be found for (or that several match) is skipped and counted
/// (`crmhub_history_messages_total{topic,outcome}`: `recorded`, `duplicate`, `unattributed`, `unreadable`). A store
/// failure is retried with backoff until it succeeds or the hub stops; the offset moves only after the write.
///
/// A young message that names a customer nobody knows yet is looked up again until it is ``attributionGrace`` old:
/// a first-time visitor's web form makes a Customer and a Ticket at once, and the ticket reaches this recorder
/// while the resolving route is still creating the golden customer. Older messages (a backlog, a replay) are not
/// held, and a steady stream of strangers' messages is delayed by the grace, not slowed by it.
public final class CustomerHistoryRecorder: Service, Sendable {
    /// The master data the entries and statements are written to.
    public let resolver: MasterDataResolver
    /// Topic → what it carries.
    public let topics: [String: HistoryTopicKind]
    /// How long after its Kafka timestamp a message whose customer is not known yet is looked up again (every
    /// 200 ms) before it is skipped as unattributed. Default 10 s.
    public let attributionGrace: Duration
    private let consumerConfiguration: KafkaConsumerConfiguration
    private let logger: Logger

    /// - Parameter consumer: the consumer settings (group id set by the caller); the topics are set here.
    public init(
        resolver: MasterDataResolver, topics: [String: HistoryTopicKind], consumer: KafkaConsumerConfiguration,
        attributionGrace: Duration = .seconds(10), logger: Logger
    ) {
        self.resolver = resolver
        self.topics = topics
        self.attributionGrace = attributionGrace
        var consumer = consumer
        consumer.topics = topics.keys.sorted()
        self.consumerConfiguration = consumer
        self.logger = logger
    }

    /// What happened to one message.
    public enum Outcome: String, Sendable {
        case recorded, duplicate, unattributed, unreadable
    }

    /// Consumes the history topics until the hub stops; offsets are committed after each message is written.
    public func run() async throws {
        let tracker = OffsetTracker()
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration, logger: logger, revocationHandler: { tracker.revoke($0) })
        let committer = OffsetCommitter(tracker: tracker, consumer: consumer, logger: logger)
        var counters: [String: Counter] = [:]
        for await message in consumer.cancelOnGracefulShutdown() {
            tracker.track(message.topicPartition, offset: message.offset)
            guard let outcome = await recordWithRetries(message) else { break }
            let label = "\(message.topic)/\(outcome.rawValue)"
            let counter =
                counters[label]
                ?? Counter(
                    label: "crmhub_history_messages_total",
                    dimensions: [("topic", message.topic), ("outcome", outcome.rawValue)])
            counters[label] = counter
            counter.increment()
            tracker.finish(message.topicPartition, offset: message.offset)
        }
        await committer.stop()
        await consumer.close()
        if let fatal = consumer.fatalError { throw fatal }
    }

    /// Records one message, retrying store failures with backoff (up to 5 s apart) and looking a young message's
    /// unknown customer up again until the grace has passed; `nil` when the hub stops first.
    private func recordWithRetries(_ message: ConsumerMessage) async -> Outcome? {
        var attempt = 0
        let now = Date().timeIntervalSince1970
        let sent = message.timestampMilliseconds.map { min(Double($0) / 1_000, now) } ?? now
        let grace = Double(attributionGrace.components.seconds) + Double(attributionGrace.components.attoseconds) / 1e18
        let deadline = sent + grace
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let (outcome, named) = try await attribute(message)
                if outcome == .unattributed, named, Date().timeIntervalSince1970 < deadline {
                    try? await Task.sleep(for: .milliseconds(200))
                    continue
                }
                return outcome
            } catch {
                attempt += 1
                logger.warning(
                    "contact history not written; retrying",
                    metadata: [
                        "topic": "\(message.topic)", "partition": "\(message.partition)",
                        "offset": "\(message.offset)", "error": "\(error)", "attempt": "\(attempt)",
                    ])
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(attempt, 6)), 5_000)))
            }
        }
        return nil
    }

    /// Records one message (no retries).
    public func record(_ message: ConsumerMessage) async throws -> Outcome {
        try await attribute(message).outcome
    }

    /// Records one message; `named` says whether it names a customer at all (only such a message can become
    /// attributable later).
    private func attribute(_ message: ConsumerMessage) async throws -> (outcome: Outcome, named: Bool) {
        guard let kind = topics[message.topic],
            let extracted = TimelineExtraction.extract(
                kind: kind, topic: message.topic, value: message.value, headers: message.headers,
                messageID: message.stableID,
                receivedAt: message.timestampMilliseconds ?? Int64(Date().timeIntervalSince1970 * 1_000))
        else {
            logger.debug(
                "history message unreadable; skipped",
                metadata: ["topic": "\(message.topic)", "offset": "\(message.offset)"])
            return (.unreadable, false)
        }
        let ids = await extracted.reference.resolve(with: resolver)
        guard ids.count == 1, let goldenId = ids.first else {
            logger.debug(
                "history message matches no single golden customer",
                metadata: ["topic": "\(message.topic)", "offset": "\(message.offset)", "matches": "\(ids.count)"])
            return (.unattributed, ids.isEmpty && !extracted.reference.isEmpty)
        }
        if !extracted.consents.isEmpty {
            try await resolver.recordConsents(
                extracted.consents.map { c in
                    var c = c
                    c.goldenId = goldenId
                    return c
                })
        }
        var added = 0
        if !extracted.entries.isEmpty {
            added = try await resolver.recordInteractions(
                extracted.entries.map { e in
                    var e = e
                    e.goldenId = goldenId
                    return e
                })
        }
        return (added > 0 || !extracted.consents.isEmpty ? .recorded : .duplicate, true)
    }
}
