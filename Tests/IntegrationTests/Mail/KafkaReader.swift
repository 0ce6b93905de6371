import CRMKafka
import Foundation
import Logging

/// Reads what a test produced, with a fresh consumer group per read.
enum KafkaReader {
    static let logger = Logger(label: "test")

    static func producer(_ bootstrap: String) throws -> KafkaProducer {
        try KafkaProducer(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
    }

    static func createTopics(_ bootstrap: String, _ names: [String]) async throws {
        let admin = KafkaAdmin(configuration: .init(bootstrapServers: [bootstrap]), logger: logger)
        _ = try await admin.createTopics(names.map { .init(name: $0, partitions: 1) })
    }

    /// Messages of `topic` from the beginning, until `count` arrived or `timeout` passed (then what arrived).
    static func collect(_ bootstrap: String, topic: String, count: Int, timeout: Duration) async throws -> [ConsumerMessage] {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: [bootstrap], groupID: "read-\(UUID().uuidString)", topics: [topic])
        configuration.sessionTimeoutMilliseconds = 2_000
        configuration.heartbeatIntervalMilliseconds = 500
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let collector = Collector()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await message in consumer {
                    if await collector.add(message) >= count { break }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            await consumer.close()
            group.cancelAll()
        }
        return await collector.messages
    }

    actor Collector {
        var messages: [ConsumerMessage] = []
        func add(_ message: ConsumerMessage) -> Int {
            messages.append(message)
            return messages.count
        }
    }
}
