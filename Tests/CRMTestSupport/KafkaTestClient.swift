import CRMKafka
import CRMModel
import Foundation
import Logging

/// The one Kafka client of the tests: producers, consumer settings, topic creation and reads, against a real broker
/// (Tansu) or librdkafka's mock cluster. Every read uses a fresh consumer group (or none) and is bounded in time.
public enum KafkaTestClient {
    /// The logger every test-side Kafka client uses.
    public static let logger = Logger(label: "test")

    /// A producer for `bootstrap` (one or more comma-separated `host:port`); `lingerMilliseconds` overrides the
    /// client's default batching delay (1 sends at once, for tests that measure latency).
    public static func producer(_ bootstrap: String, lingerMilliseconds: Int? = nil) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: [bootstrap])
        if let lingerMilliseconds { configuration.lingerMilliseconds = lingerMilliseconds }
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    /// Consumer settings for `group` on `topics` with short session and heartbeat times (2 s, 0.5 s), so a test's
    /// consumer joins and leaves its group quickly.
    public static func consumerConfiguration(
        _ bootstrap: String, group: String, topics: [String]
    ) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: [bootstrap], groupID: group, topics: topics)
        configuration.sessionTimeoutMilliseconds = 2_000
        configuration.heartbeatIntervalMilliseconds = 500
        return configuration
    }

    /// Creates `names` with `partitions` partitions each.
    public static func createTopics(_ bootstrap: String, _ names: [String], partitions: Int32 = 3) async throws {
        let admin = KafkaAdmin(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        _ = try await admin.createTopics(names.map { .init(name: $0, partitions: partitions) })
    }

    /// Produces `values` to `topic`, keyed `k0`, `k1`, … by their index, and waits for every acknowledgement (at most
    /// 60 s). When librdkafka's queue is full it waits for room (about 10 s at most), so large batches work too.
    public static func produce(_ bootstrap: String, topic: String, values: [String]) async throws {
        let producer = try Self.producer(bootstrap)
        for (index, value) in values.enumerated() {
            let message = ProducerMessage(topic: topic, key: Array("k\(index)".utf8), value: Array(value.utf8))
            var enqueued = false
            for _ in 0..<10_000 where !enqueued {
                enqueued = (try? producer.enqueue(message) { _ in }) != nil
                if !enqueued { try await Task.sleep(for: .milliseconds(1)) }
            }
            guard enqueued else { throw TestSetupError("the producer queue for \(topic) stayed full") }
        }
        guard await producer.flush(timeout: .seconds(60)) else {
            throw TestSetupError("produce to \(topic) did not finish")
        }
        await producer.shutdown()
    }

    /// Reads messages from `topic` with a fresh group until `count` arrived or `timeout` passed (then what arrived).
    public static func collect(
        _ bootstrap: String, topic: String, count: Int, timeout: Duration
    ) async throws -> [ConsumerMessage] {
        try await collect(bootstrap, topic: topic, timeout: timeout) { $0.count >= count }
    }

    /// Reads `topic` with a fresh group and decodes each message: its key as text, its value as JSON. Stops when
    /// `count` arrived or `timeout` passed.
    public static func collectJSON(
        _ bootstrap: String, topic: String, count: Int, timeout: Duration
    ) async throws -> [(key: String, value: JSONValue)] {
        try await collect(bootstrap, topic: topic, count: count, timeout: timeout).map {
            (key: String(decoding: $0.key ?? [], as: UTF8.self), value: try JSONValue.parse($0.value))
        }
    }

    /// Reads messages from `topic` with a fresh group until `done` says the messages read so far are enough, or
    /// `timeout` passed (then what arrived).
    public static func collect(
        _ bootstrap: String, topic: String, timeout: Duration,
        until done: @escaping @Sendable ([ConsumerMessage]) -> Bool
    ) async throws -> [ConsumerMessage] {
        try await collect(
            consumerConfiguration(bootstrap, group: "collect-\(UUID().uuidString)", topics: [topic]), timeout: timeout,
            until: done)
    }

    /// Reads with a consumer of `configuration` (its group, topics, isolation level) until `done` says the messages
    /// read so far are enough, or `timeout` passed (then what arrived).
    public static func collect(
        _ configuration: KafkaConsumerConfiguration, timeout: Duration,
        until done: @escaping @Sendable ([ConsumerMessage]) -> Bool
    ) async throws -> [ConsumerMessage] {
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let collected = await withTaskGroup(of: [ConsumerMessage]?.self) { group in
            group.addTask {
                var messages: [ConsumerMessage] = []
                for await message in consumer {
                    messages.append(message)
                    if done(messages) { break }
                }
                return messages
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            var result: [ConsumerMessage] = []
            if let first = await group.next(), let messages = first { result = messages }
            await consumer.close()  // ends the iteration if the timeout won
            group.cancelAll()
            for await late in group { if let late, result.isEmpty { result = late } }
            return result
        }
        return collected
    }

    /// Reads with a consumer of `configuration` what it sees once it has its partitions (at most 30 s) and `settle`
    /// more has passed; stops early when `done` says the messages read so far are enough. For checks that nothing
    /// beyond the expected messages is visible (aborted transactions, duplicates).
    public static func collectSettled(
        _ configuration: KafkaConsumerConfiguration, settle: Duration = .seconds(2),
        until done: @escaping @Sendable ([ConsumerMessage]) -> Bool = { _ in false }
    ) async throws -> [ConsumerMessage] {
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let reader = Task {
            var messages: [ConsumerMessage] = []
            for await message in consumer {
                messages.append(message)
                if done(messages) { break }
            }
            return messages
        }
        await eventually(timeout: .seconds(30)) { !consumer.assignment.isEmpty }
        try await Task.sleep(for: settle)
        await consumer.close()
        return await reader.value
    }

    /// Every message of `topic` from the start to its current end, read partition by partition (no consumer group:
    /// works on librdkafka's mock cluster too).
    public static func readAll(_ bootstrap: String, topic: String) async throws -> [ConsumerMessage] {
        let reader = try KafkaPartitionReader(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        let counts = try await reader.partitionCounts([topic])
        guard let count = counts[topic] else { return [] }
        var starts: [TopicPartitionOffset] = []
        for partition in 0..<count {
            starts.append(TopicPartitionOffset(TopicPartition(topic: topic, partition: partition), offset: 0))
        }
        let probe = try KafkaPartitionReader(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        let all: [TopicPartition: Int64] = try await probe.endOffsets(from: starts)
        let ends: [TopicPartition: Int64] = all.filter { $0.value > 0 }
        guard !ends.isEmpty else { return [] }
        try reader.assign(ends.keys.map { TopicPartitionOffset($0, offset: 0) })
        var remaining = Set(ends.keys)
        var messages: [ConsumerMessage] = []
        let deadline = Date().addingTimeInterval(60)  // a bound for a broker that stops answering
        while !remaining.isEmpty && Date() < deadline {
            for event in try await reader.poll(maxMessages: 2_000) {
                switch event {
                case .message(let message):
                    if let end = ends[message.topicPartition], message.offset < end { messages.append(message) }
                    if let end = ends[message.topicPartition], message.offset >= end - 1 {
                        remaining.remove(message.topicPartition)
                    }
                case .endOfPartition(let tp, let offset):
                    if let end = ends[tp], offset >= end { remaining.remove(tp) }
                }
            }
        }
        return messages
    }
}
