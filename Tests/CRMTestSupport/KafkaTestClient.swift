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
}
