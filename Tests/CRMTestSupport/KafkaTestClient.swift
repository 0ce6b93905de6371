import CRMKafka
import Foundation
import Logging

/// Small helpers for tests that talk to a real broker.
public enum KafkaTestClient {
    public static let logger = Logger(label: "test")

    public static func producer(_ bootstrap: String) throws -> KafkaProducer {
        try KafkaProducer(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
    }

    public static func consumerConfiguration(_ bootstrap: String, group: String, topics: [String]) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: [bootstrap], groupID: group, topics: topics)
        configuration.sessionTimeoutMilliseconds = 2_000
        configuration.heartbeatIntervalMilliseconds = 500
        return configuration
    }

    public static func createTopics(_ bootstrap: String, _ names: [String], partitions: Int32 = 3) async throws {
        let admin = KafkaAdmin(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        _ = try await admin.createTopics(names.map { .init(name: $0, partitions: partitions) })
    }

    /// Reads messages from `topic` with a fresh group until `count` arrived or `timeout` passed.
    public static func collect(_ bootstrap: String, topic: String, count: Int, timeout: Duration) async throws -> [ConsumerMessage] {
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(bootstrap, group: "collect-\(UUID().uuidString)", topics: [topic]), logger: logger)
        let collected = await withTaskGroup(of: [ConsumerMessage]?.self) { group in
            group.addTask {
                var messages: [ConsumerMessage] = []
                for await message in consumer {
                    messages.append(message)
                    if messages.count >= count { break }
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

    /// Every message of `topic` from the start to its current end, read partition by partition (no consumer group:
    /// works on librdkafka's mock cluster too).
    public static func readAll(_ bootstrap: String, topic: String) async throws -> [ConsumerMessage] {
        let reader = try KafkaPartitionReader(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        let counts = try await reader.partitionCounts([topic])
        guard let count = counts[topic] else { return [] }
        var starts: [TopicPartitionOffset] = []
        for partition in 0..<count { starts.append(TopicPartitionOffset(TopicPartition(topic: topic, partition: partition), offset: 0)) }
        let probe = try KafkaPartitionReader(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        let all: [TopicPartition: Int64] = try await probe.endOffsets(from: starts)
        let ends: [TopicPartition: Int64] = all.filter { $0.value > 0 }
        guard !ends.isEmpty else { return [] }
        try reader.assign(ends.keys.map { TopicPartitionOffset($0, offset: 0) })
        var remaining = Set(ends.keys)
        var messages: [ConsumerMessage] = []
        let deadline = Date().addingTimeInterval(60)
        while !remaining.isEmpty && Date() < deadline {
            for event in try await reader.poll(maxMessages: 2_000) {
                switch event {
                case .message(let message):
                    if let end = ends[message.topicPartition], message.offset < end { messages.append(message) }
                    if let end = ends[message.topicPartition], message.offset >= end - 1 { remaining.remove(message.topicPartition) }
                case .endOfPartition(let tp, let offset):
                    if let end = ends[tp], offset >= end { remaining.remove(tp) }
                }
            }
        }
        return messages
    }
}
