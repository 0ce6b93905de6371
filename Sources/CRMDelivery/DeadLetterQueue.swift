import CRMKafka
import Foundation
import Logging
import Synchronization

/// Works on one route's or sink's dead-letter topic: list what is parked there, replay selected messages into the
/// input they failed from after a fix, and purge what has been dealt with. What `crmhub dlq` runs.
///
/// Purging does not delete records (Kafka retention does that); it moves the offsets of the topic's reader group
/// (`<group prefix>.dlq.<name>`) past them, so `list`, `show` and `replay` no longer see them. Listing and
/// replaying never commit, so they can be repeated.
public struct DeadLetterQueue: Sendable {
    /// The route or sink name.
    public let name: String
    /// The dead-letter topic.
    public let topic: String
    /// Where a replay re-injects messages: the route's input or the sink's topic.
    public let replayTopic: String
    private let client: KafkaClientConfiguration
    private let groupID: String
    private let logger: Logger

    public init(
        name: String, topic: String, replayTopic: String, client: KafkaClientConfiguration, groupPrefix: String,
        logger: Logger
    ) {
        self.name = name
        self.topic = topic
        self.replayTopic = replayTopic
        self.client = client
        self.groupID = "\(groupPrefix).dlq.\(name)"
        self.logger = logger
    }

    /// The dead-letter queue of a route; replays go to the route's input.
    public init(route: RouteConfiguration, client: KafkaClientConfiguration, groupPrefix: String, logger: Logger) {
        self.init(
            name: route.name, topic: route.deadLetterTopic, replayTopic: route.from, client: client,
            groupPrefix: groupPrefix, logger: logger)
    }

    /// The dead-letter queue of a sink; replays go to the sink's topic.
    public init(sink: SinkService.Configuration, client: KafkaClientConfiguration, groupPrefix: String, logger: Logger)
    {
        self.init(
            name: sink.name, topic: sink.deadLetterTopic, replayTopic: sink.topic, client: client,
            groupPrefix: groupPrefix, logger: logger)
    }

    /// Which dead letters an operation applies to. Empty criteria select everything.
    public struct Selection: Sendable {
        public var ids: Set<String> = []
        public var keys: Set<String> = []
        /// Dead-lettered at or after.
        public var since: Date?
        /// Dead-lettered before.
        public var until: Date?

        public init(ids: Set<String> = [], keys: Set<String> = [], since: Date? = nil, until: Date? = nil) {
            self.ids = ids
            self.keys = keys
            self.since = since
            self.until = until
        }

        public func matches(_ letter: DeadLetter) -> Bool {
            if !ids.isEmpty && !ids.contains(letter.id) { return false }
            if !keys.isEmpty && !keys.contains(letter.message.keyText ?? "") { return false }
            if let since, (letter.deadLetteredAt ?? .distantPast) < since { return false }
            if let until, (letter.deadLetteredAt ?? .distantFuture) >= until { return false }
            return true
        }
    }

    /// Reads every dead letter not yet purged, in partition and offset order. Reading stops once no new record
    /// arrived for `idle` after the reader joined its group (Tansu does not answer ListOffsets for the end).
    public func read(idle: Duration = .seconds(2), timeout: Duration = .seconds(60)) async throws -> [DeadLetter] {
        let (letters, _) = try await readAll(idle: idle, timeout: timeout, commit: nil)
        return letters
    }

    /// Produces the selected dead letters to ``replayTopic``, in their order, each with its history
    /// header extended; returns them. Waits for every acknowledgement.
    public func replay(
        _ selection: Selection, producer: KafkaProducer, idle: Duration = .seconds(2)
    ) async throws -> [DeadLetter] {
        let selected = try await read(idle: idle).filter(selection.matches)
        for letter in selected {
            _ = try await producer.send(letter.replayRecord(to: replayTopic))
            logger.info(
                "dead letter replayed",
                metadata: [
                    "queue": "\(name)", "id": "\(letter.id)", "to": "\(replayTopic)", "source": "\(letter.source)",
                ])
        }
        return selected
    }

    /// Hides dead letters from later reads: per partition, everything before the first record that the selection
    /// does not match (a partition's purge point can only move forward). Returns how many were purged.
    public func purge(_ selection: Selection, idle: Duration = .seconds(2)) async throws -> Int {
        let (_, purged) = try await readAll(idle: idle, timeout: .seconds(60), commit: selection)
        return purged
    }

    private func readAll(
        idle: Duration, timeout: Duration, commit selection: Selection?
    ) async throws -> ([DeadLetter], Int) {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: client.bootstrapServers, groupID: groupID, topics: [topic])
        configuration.client = client
        configuration.client.statisticsIntervalMilliseconds = 0
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 1_000
        configuration.autoOffsetReset = "earliest"
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let collected = Mutex<(letters: [DeadLetter], lastArrival: ContinuousClock.Instant?)>(([], nil))
        let reader = Task {
            for await message in consumer {
                collected.withLock {
                    $0.letters.append(DeadLetter(message))
                    $0.lastArrival = .now
                }
            }
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var joinedAt: ContinuousClock.Instant?
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            if joinedAt == nil, consumer.hasJoinedGroup, !consumer.assignment.isEmpty { joinedAt = .now }
            guard let joinedAt else { continue }
            let quietSince = max(joinedAt, collected.withLock { $0.lastArrival } ?? joinedAt)
            if quietSince.duration(to: .now) >= idle { break }
        }
        if let fatal = consumer.fatalError {
            reader.cancel()
            await consumer.close()
            throw fatal
        }
        guard joinedAt != nil else {
            reader.cancel()
            await consumer.close()
            throw DeadLetterQueueError(
                description: "could not join the reader group \(groupID) for \(topic) within \(timeout)")
        }
        let letters = collected.withLock { $0.letters }.sorted {
            ($0.message.partition, $0.message.offset) < ($1.message.partition, $1.message.offset)
        }
        var purged = 0
        if let selection {
            var offsets: [TopicPartitionOffset] = []
            for (partition, inPartition) in Dictionary(grouping: letters, by: { $0.message.topicPartition }) {
                let prefix = inPartition.prefix(while: selection.matches)
                guard let last = prefix.last else { continue }
                purged += prefix.count
                offsets.append(TopicPartitionOffset(partition, offset: last.message.offset + 1))
            }
            if !offsets.isEmpty { try await consumer.commit(offsets) }
        }
        await consumer.close()
        _ = await reader.value
        return (letters, purged)
    }
}

/// A dead-letter operation that could not be done, said plainly.
public struct DeadLetterQueueError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
