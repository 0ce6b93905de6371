// CRMViews: small Kafka-backed views that connectors and jobs share — the open tickets by customer reference that
// CTI screen-pops and the escalation rules read.

import CRMDelivery
import CRMKafka
import CRMModel
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Keeps a ``TicketViewStore`` up to date from the ticket topic (and a customer topic): each message is the latest
/// version of its ticket or customer. Offsets are committed only after the view was written, so a restart never
/// leaves a gap; a message that is not a JSON object with an id is left out with a warning and counted in
/// `crmhub_view_skipped_total{view}`.
public final class TicketView: Service, Sendable {
    public let store: TicketViewStore
    public let ticketsTopic: String
    public let customersTopic: String?
    private let openStatuses: Set<String>
    private let consumer: KafkaConsumerConfiguration
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private let started = ContinuousClock.now
    private let lastActivity: Mutex<ContinuousClock.Instant>
    private let joined = Atomic<Bool>(false)
    private let skipped: Counter

    /// - Parameters:
    ///   - name: names the view in logs, metrics and its consumer group `<groupPrefix>.<name>.<store generation>`.
    ///   - openStatuses: ticket statuses that count as open.
    ///   - consumer: client settings; the group and topics are set here.
    public init(
        name: String, ticketsTopic: String, customersTopic: String?, openStatuses: Set<String>,
        consumer: KafkaConsumerConfiguration,
        groupPrefix: String, store: TicketViewStore, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.ticketsTopic = ticketsTopic
        self.customersTopic = customersTopic
        self.openStatuses = openStatuses
        var consumer = consumer
        consumer.groupID = "\(groupPrefix).\(name).\(store.generation)"
        consumer.topics = [ticketsTopic] + (customersTopic.map { [$0] } ?? [])
        self.consumer = consumer
        var logger = logger
        logger[metadataKey: "view"] = "\(name)"
        self.logger = logger
        self.clock = clock
        self.lastActivity = Mutex(.now)
        self.skipped = Counter(label: "crmhub_view_skipped_total", dimensions: [("view", name)])
    }

    /// Whether a ticket counts as open.
    public func isOpen(_ ticket: JSONValue) -> Bool {
        ticket["status"]?.stringValue.map(openStatuses.contains) ?? false
    }

    /// Reads the topics into the store until shutdown. A failed write stops the view (its offset stays uncommitted).
    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: self.consumer, logger: logger)
        let tracker = OffsetTracker()
        let committer = OffsetCommitter(tracker: tracker, consumer: consumer, logger: logger)
        let watcher = Task {
            while !Task.isCancelled && !consumer.hasJoinedGroup { try? await Task.sleep(for: .milliseconds(100)) }
            self.lastActivity.withLock { $0 = .now }
            self.joined.store(true, ordering: .releasing)
        }
        defer { watcher.cancel() }
        for await message in consumer.cancelOnGracefulShutdown() {
            lastActivity.withLock { $0 = .now }
            tracker.track(message.topicPartition, offset: message.offset)
            try await apply(message)
            tracker.finish(message.topicPartition, offset: message.offset)
        }
        await committer.stop()
        await consumer.close()
        if let fatal = consumer.fatalError { throw fatal }
    }

    /// Returns once the view has most likely caught up: it joined its group and then read nothing for five seconds,
    /// or a minute passed since start.
    public func waitUntilCaughtUp() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let idle = ContinuousClock.now - lastActivity.withLock { $0 }
            if (joined.load(ordering: .acquiring) && idle > .seconds(5)) || ContinuousClock.now - started > .seconds(60)
            {
                return
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(200)) }
        }
    }

    private func apply(_ message: ConsumerMessage) async throws {
        let place: Logger.Metadata = [
            "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        guard let record = try? JSONValue.parse(message.value), record.objectMembers != nil else {
            skipped.increment()
            logger.warning("not a JSON object; left out of the view", metadata: place)
            return
        }
        if message.topic == ticketsTopic {
            guard let id = record["id"]?.scalarText ?? message.keyText, !id.isEmpty else {
                skipped.increment()
                logger.warning("ticket without id or key; left out of the view", metadata: place)
                return
            }
            let seen = message.timestampMilliseconds.map { Date(timeIntervalSince1970: Double($0) / 1_000) } ?? clock()
            try await store.upsertTicket(
                id: id, json: message.value, customerRef: record["customerRef"]?.stringValue, open: isOpen(record),
                seenAt: seen)
        } else {
            guard let id = record["goldenId"]?.scalarText ?? record["id"]?.scalarText ?? message.keyText, !id.isEmpty
            else {
                skipped.increment()
                logger.warning("customer without id or key; left out of the view", metadata: place)
                return
            }
            try await store.upsertCustomer(
                id: id, json: message.value, references: TicketViewStore.references(of: record))
        }
    }
}
