import Foundation
import Logging
import Synchronization
import Testing

@testable import CRMKafka

/// Producer, consumer and commit behaviour against librdkafka's in-process mock cluster.
@Suite(.timeLimit(.minutes(2)))
struct KafkaClientTests {
    let logger = Logger(label: "test")

    func consumerConfiguration(_ cluster: KafkaMockCluster, group: String, topic: String) -> KafkaConsumerConfiguration
    {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: group, topics: [topic])
        configuration.sessionTimeoutMilliseconds = 6_000
        configuration.heartbeatIntervalMilliseconds = 500
        return configuration
    }

    @Test func sendReturnsTheBrokersAcknowledgementWithOffsets() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("acks", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        var offsets: [Int64] = []
        for index in 0..<5 {
            let report = try await producer.send(
                ProducerMessage(topic: "acks", key: Array("k".utf8), value: Array("v\(index)".utf8)))
            #expect(report.topicPartition == TopicPartition(topic: "acks", partition: 0))
            offsets.append(report.offset)
        }
        #expect(offsets == [0, 1, 2, 3, 4])
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func consumedMessagesCarryKeyValueAndHeaders() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("headers", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        try await producer.send(
            ProducerMessage(
                topic: "headers", key: Array("customer-1".utf8), value: Array("{\"a\":1}".utf8),
                headers: [KafkaHeader(key: "crm-id", text: "m-1"), KafkaHeader(key: "empty", value: [])]))
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "g-headers", topic: "headers"), logger: logger)
        var iterator = consumer.makeAsyncIterator()
        let message = try #require(await iterator.next())
        #expect(message.keyText == "customer-1")
        #expect(message.value == Array("{\"a\":1}".utf8))
        #expect(message.headers.text("crm-id") == "m-1")
        #expect(message.headers.first(where: { $0.key == "empty" })?.value == [])
        await consumer.close()
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func aValueChangedAfterEnqueueIsDeliveredAsItWasEnqueued() async throws {
        // librdkafka sends values from the caller's array (no copy): the array must not change under it.
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("in-place", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let reports = ReportCollector()
        for index in 0..<200 {
            var message = ProducerMessage(
                topic: "in-place", value: Array("value-\(index)-".utf8) + [UInt8](repeating: 0x61, count: 1_000))
            try producer.enqueue(message) { reports.add($0) }
            // The caller reuses its message at once: the enqueued value must stay as it was.
            message.value.replaceSubrange(0..<5, with: Array("XXXXX".utf8))
            message.value.removeLast(500)
        }
        #expect(await producer.flush(timeout: .seconds(20)))
        #expect(reports.successes == 200)
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "g-in-place", topic: "in-place"), logger: logger)
        var iterator = consumer.makeAsyncIterator()
        for index in 0..<200 {
            let consumed = try #require(await iterator.next())
            #expect(consumed.value == Array("value-\(index)-".utf8) + [UInt8](repeating: 0x61, count: 1_000))
        }
        await consumer.close()
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func aReceiverGetsEachTaggedMessagesDeliveryOnceWithItsTopicAndOffset() async throws {
        // Messages of two topics, interleaved: each report names its own message's topic (the handler remembers the
        // previous message's topic and must notice the change) and comes to the receiver with the message's tag.
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("tagged-a", partitions: 1)
        try cluster.createTopic("tagged-b", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let receiver = TaggedReports()
        for tag in 0..<300 {
            let topic = tag % 3 == 0 ? "tagged-b" : "tagged-a"
            try producer.enqueue(ProducerMessage(topic: topic, value: Array("\(tag)".utf8)), tag: tag, to: receiver)
        }
        #expect(await producer.flush(timeout: .seconds(20)))
        let reports = receiver.reports
        #expect(reports.count == 300)
        #expect(Set(reports.map(\.tag)) == Set(0..<300))
        for topic in ["tagged-a", "tagged-b"] {
            let tags = (0..<300).filter { ($0 % 3 == 0) == (topic == "tagged-b") }
            let offsets = reports.filter { $0.topic == topic }.sorted { $0.tag < $1.tag }.map(\.offset)
            #expect(offsets == (0..<Int64(tags.count)).map { $0 }, "\(topic): offsets in enqueue order")
        }
        await producer.shutdown()
        withExtendedLifetime(cluster) {}
    }

    @Test func aCopiedConsumedMessageChangesAloneWhenOneCopyIsChanged() {
        let original = ConsumerMessage(
            topicPartition: TopicPartition(topic: "t", partition: 2), offset: 7, key: Array("k".utf8),
            value: Array("v".utf8), headers: [KafkaHeader(key: "h", text: "1")], timestampMilliseconds: 5)
        var copy = original
        copy.value = Array("changed".utf8)
        copy.headers.append(KafkaHeader(key: "h2", text: "2"))
        copy.offset = 8
        #expect(original.value == Array("v".utf8) && original.headers.count == 1 && original.offset == 7)
        #expect(copy.value == Array("changed".utf8) && copy.headers.count == 2 && copy.offset == 8)
        #expect(copy.key == original.key && copy.timestampMilliseconds == 5 && !copy.isTombstone)
    }

    @Test func aNewConsumerResumesAfterTheLastCommittedOffset() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("resume", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        for index in 0..<10 { try await producer.send(ProducerMessage(topic: "resume", value: Array("\(index)".utf8))) }

        let first = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "g-resume", topic: "resume"), logger: logger)
        var seen = 0
        for await message in first {
            seen += 1
            if message.offset == 5 {
                // Done with 0...5: the next offset to read is 6.
                try await first.commit([TopicPartitionOffset(message.topicPartition, offset: 6)])
                break
            }
        }
        #expect(seen == 6)
        await first.close()

        let second = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "g-resume", topic: "resume"), logger: logger)
        var iterator = second.makeAsyncIterator()
        let next = try #require(await iterator.next())
        #expect(next.offset == 6)
        await second.close()
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func revokedPartitionsCommitTheirDoneOffsetsOnClose() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("revoke", partitions: 2)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        for index in 0..<20 {
            try await producer.send(
                ProducerMessage(topic: "revoke", partition: Int32(index % 2), value: Array("\(index)".utf8)))
        }
        let done = DoneOffsets()
        let first = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "g-revoke", topic: "revoke"), logger: logger,
            revocationHandler: { partitions in done.offsets(for: partitions) })
        var count = 0
        for await message in first {
            done.mark(message)
            count += 1
            if count == 8 { break }
        }
        await first.close()  // the final revocation commits what `done` holds
        let expectedNext = done.snapshot()

        let second = try KafkaConsumer(
            configuration: consumerConfiguration(cluster, group: "g-revoke", topic: "revoke"), logger: logger)
        var firstOffsets: [Int32: Int64] = [:]
        for await message in second {
            if firstOffsets[message.partition] == nil { firstOffsets[message.partition] = message.offset }
            if firstOffsets.count == 2 { break }
        }
        for (partition, offset) in expectedNext {
            #expect(firstOffsets[partition.partition] == offset)
        }
        await second.close()
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func aMessageLargerThanTheLimitFailsWithAClearError() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("big", partitions: 1)
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.client.extra["message.max.bytes"] = "10000"
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let error = await #expect(throws: KafkaError.self) {
            try await producer.send(ProducerMessage(topic: "big", value: [UInt8](repeating: 1, count: 20_000)))
        }
        #expect(error?.code == .produce)
        #expect(error?.isRetriable == false)
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func aSlowConsumerWithAFullBufferPausesFetchingAndStillGetsEverything() async throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("slow", partitions: 2)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        for index in 0..<400 {
            try producer.enqueue(ProducerMessage(topic: "slow", value: Array("\(index)".utf8))) { _ in }
        }
        #expect(await producer.flush(timeout: .seconds(10)))
        var configuration = consumerConfiguration(cluster, group: "g-slow", topic: "slow")
        configuration.bufferCapacity = 8
        configuration.pollBatchSize = 4
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var seen = Set<String>()
        for await message in consumer {
            seen.insert(String(decoding: message.value, as: UTF8.self))
            // The buffer fills up meanwhile: briefly (no pause), and once for longer than a second (partitions paused).
            if seen.count % 50 == 0 { try await Task.sleep(for: .milliseconds(seen.count == 100 ? 1_600 : 200)) }
            if seen.count == 400 { break }
        }
        #expect(seen.count == 400)
        await consumer.close()
        await producer.shutdown()
        withExtendedLifetime(cluster) {}  // outlives every client that used it
    }

    @Test func anUnknownPropertyIsAConfigurationError() {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.client.extra["no.such.property"] = "1"
        let error = #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration, logger: logger) }
        #expect(error?.code == .configuration)
        #expect(error?.reason.contains("no.such.property") == true)
    }

    @Test func theConsumerPrefetchIsBoundedAndAKafkaPropertyStillOverridesIt() async throws {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:1"], groupID: "g", topics: ["t"])
        #expect(configuration.properties.contains { $0 == ("queued.max.messages.kbytes", "16384") })
        #expect(configuration.properties.contains { $0 == ("fetch.queue.backoff.ms", "20") }, "runtime is 2.16")
        configuration.client.extra["queued.max.messages.kbytes"] = "65536"
        // librdkafka applies properties in order: the last value set wins.
        #expect(configuration.properties.last { $0.0 == "queued.max.messages.kbytes" }?.1 == "65536")
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)  // librdkafka accepts both
        await consumer.close()
    }
}

/// Records the next offset to commit per partition, as a route would.
final class DoneOffsets: @unchecked Sendable {
    private let lock = NSLock()
    private var next: [TopicPartition: Int64] = [:]

    func mark(_ message: ConsumerMessage) {
        lock.withLock { next[message.topicPartition] = message.offset + 1 }
    }

    func offsets(for partitions: [TopicPartition]) -> [TopicPartitionOffset] {
        lock.withLock {
            partitions.compactMap { partition in next[partition].map { TopicPartitionOffset(partition, offset: $0) } }
        }
    }

    func snapshot() -> [TopicPartition: Int64] { lock.withLock { next } }

}

/// Counts delivery reports from librdkafka's poll thread.
/// Delivery reports received by tag (``KafkaProducer/enqueue(_:tag:to:)``).
final class TaggedReports: DeliveryReceiver {
    struct Report { var tag: Int, topic: String, offset: Int64 }
    private let received = Mutex<[Report]>([])

    func delivered(tag: Int, _ result: Result<DeliveryReport, KafkaError>) {
        guard case .success(let report) = result else { return }
        received.withLock {
            $0.append(Report(tag: tag, topic: report.topicPartition.topic, offset: report.offset))
        }
    }

    var reports: [Report] { received.withLock { $0 } }
}

final class ReportCollector: Sendable {
    private let counts = Mutex((successes: 0, failures: 0))

    func add(_ result: Result<DeliveryReport, KafkaError>) {
        counts.withLock {
            if case .success = result { $0.successes += 1 } else { $0.failures += 1 }
        }
    }

    var successes: Int { counts.withLock { $0.successes } }
}
